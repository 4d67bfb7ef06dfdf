"""Exceptions of mailcore. Protocol layers and the API translate these into replies."""

from __future__ import annotations


class MailcoreError(Exception):
    """Base of every error mailcore raises on purpose."""


class UserError(MailcoreError):
    """The caller asked for something invalid; the message is safe to show to the user."""

    code = "invalid"


class InvalidAddressError(UserError):
    code = "invalid_address"


class InvalidFolderNameError(UserError):
    code = "invalid_folder_name"


class ConflictError(UserError):
    code = "conflict"


class NotFoundError(MailcoreError):
    """The object does not exist or belongs to someone else: both look the same to callers."""


class StorageError(MailcoreError):
    """Maildir or spool I/O failed; the operation was not done and may be retried."""


class TemporaryDeliveryError(MailcoreError):
    """Delivery of one recipient failed for now; the queue retries later."""


class PermanentDeliveryError(MailcoreError):
    """Delivery of one recipient can never succeed (alias loop, no such mailbox)."""
