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
    """Refused because of the current state. `code` (default "conflict") names the case for
    clients, which say it in the user's language; the message stays English for the log."""

    code = "conflict"

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message)
        if code:
            self.code = code


class HistoryGoneError(UserError):
    """A client's modseq is older than the oldest kept change history of its account (or newer
    than the account's current one): the caller must resync the client, never guess."""

    code = "cannot_calculate_changes"


class NotFoundError(MailcoreError):
    """The object does not exist or belongs to someone else: both look the same to callers."""


class StorageError(MailcoreError):
    """Maildir or spool I/O failed; the operation was not done and may be retried."""


class MessageFileMissingError(StorageError):
    """A message's file is in none of the places it may be: expunged or moved by another
    request or Maildir client since its row was read."""


class TemporaryDeliveryError(MailcoreError):
    """Delivery of one recipient failed for now; the queue retries later."""


class PermanentDeliveryError(MailcoreError):
    """Delivery of one recipient can never succeed (alias loop, no such mailbox)."""


# --- sending (mailcore.delivery.submit) --------------------------------------------------------


class SenderNotAllowedError(UserError):
    """Envelope sender or header From is not an address the account owns (SMTP 553 5.7.1)."""

    code = "sender_not_allowed"


class RecipientRejectedError(UserError):
    """A recipient cannot receive this message (no such local mailbox, bad address)."""

    code = "recipient_rejected"


class SendLimitError(UserError):
    """A per-account sending limit was reached."""

    code = "send_limit"


class TooManyRecipientsError(SendLimitError):
    """More recipients than one message may have (SMTP 452 4.5.3)."""

    code = "too_many_recipients"


class DailyLimitError(SendLimitError):
    """The account sent its allowed number of messages for the last 24 hours (SMTP 550 5.7.1).
    `limit`: that number (the account's own under mailcore.delivery.containment), 0 unknown."""

    code = "daily_limit"

    def __init__(self, message: str, *, limit: int = 0) -> None:
        super().__init__(message)
        self.limit = limit


class InvalidMessageError(UserError):
    """A message to compose is invalid (header injection, bad address …); `field` names the
    input at fault so forms can show it there."""

    code = "invalid_message"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class MessageTooLargeError(UserError):
    """The composed message (with attachments, after MIME encoding) exceeds the size limit."""

    code = "message_too_large"

    def __init__(self, *, size: int, limit: int) -> None:
        super().__init__(
            f"The message would be {size / 1048576:.1f} MiB after encoding; the limit is "
            f"{limit / 1048576:.1f} MiB. Remove or shrink attachments."
        )
        self.size, self.limit = size, limit


class OverQuotaError(UserError):
    """The account's mailbox quota has no room for this (SMTP 452 4.2.2, HTTP 507)."""

    code = "over_quota"


class AdminForbiddenError(UserError):
    """An administrator may see the object but not make this change (a domain admin resetting
    a superadmin's password, for instance): HTTP 403."""

    code = "forbidden"


class NotEmptiableError(UserError):
    """Only Trash and Junk can be emptied in one go; other folders keep their mail."""

    code = "folder_not_emptiable"


# --- fetching from external accounts (mailcore.fetching) ---------------------------------------


class FetchError(UserError):
    """Talking to an external POP3/IMAP server failed, or its account cannot be used. `reason`
    (dns, refused, timeout, tls, certificate, login, protocol, private_target, …) is what the
    UI translates into plain words; the message carries the server's own text."""

    code = "fetch_failed"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = f"fetch_{reason}"


class SecondFactorError(UserError):
    """A 2단계 인증 step refused: `code` names the case ("challenge_expired", "wrong_code",
    "passkey_refused", "totp_not_started", "domain_requires_second_factor", …)."""

    code = "second_factor"

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message)
        if code:
            self.code = code
