"""The outbox (issue 14): what a sent message is after "send" — held for undo, scheduled, sent
— and its state per recipient (delivered, read, recalled, MDN). Written only by
mailcore.outbox.actions and .tracking.

The queue (mailcore.delivery) stays the queue of record: an item's entries are those whose
origin is `submit:<submission_id>`; "scheduled" and "held" are entries never tried and due
later (next_attempt_at), nothing that lives only in the browser or in Celery.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from mailcore.directory.models import Account, Domain


class ItemState(models.TextChoices):
    QUEUED = "queued", "Handed to the queue (held, scheduled or sent; the entries tell)"
    CANCELLED = "cancelled", "Undone or cancelled: back in Drafts"


class OutboxItem(models.Model):
    """One message a user sent: from the webmail, the API, or a mail program by SMTP submission."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    submission_id = models.CharField(max_length=32, unique=True, help_text="queue origin id")
    # The Sent copy (SET_NULL: the user may delete it; the status stays for the entries).
    sent_copy = models.ForeignKey(
        "store.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_id = models.CharField(max_length=998, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    state = models.CharField(max_length=10, choices=ItemState.choices, default=ItemState.QUEUED)
    # When its entries are due: the user's time for a scheduled message, the end of the undo
    # window for a held one, the moment of sending otherwise.
    send_at = models.DateTimeField()
    scheduled = models.BooleanField(default=False, help_text="the user chose send_at (예약발송)")
    receipt_requested = models.BooleanField(default=False, help_text="Disposition-Notification-To")
    created_at = models.DateTimeField()

    class Meta:
        indexes = (
            models.Index(
                fields=("account", "send_at"),
                condition=Q(scheduled=True, state="queued"),
                name="outbox_scheduled",
            ),
            models.Index(fields=("account", "message_id"), name="outbox_account_msgid"),
        )

    def __str__(self) -> str:
        return f"{self.submission_id} ({self.state})"


class RecipientKind(models.TextChoices):
    LOCAL = "local", "An account here: read time exact, recall possible"
    REMOTE = "remote", "Another server: MDN only"
    GROUP = "group", "An alias or list here: several mailboxes, not tracked one by one"


class OutboxRecipient(models.Model):
    """One envelope recipient of an item. For a local one `account` and `message_id` are the
    tracking link the store's first-\\Seen hook probes (tracking.note_seen)."""

    item = models.ForeignKey(OutboxItem, on_delete=models.CASCADE, related_name="recipients")
    address = models.CharField(max_length=320)
    kind = models.CharField(max_length=6, choices=RecipientKind.choices)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    message_id = models.CharField(max_length=998, blank=True, default="")
    read_at = models.DateTimeField(null=True, blank=True)
    recalled_at = models.DateTimeField(null=True, blank=True)
    # RFC 8098 disposition from an incoming MDN ('' = none): displayed, deleted, dispatched …
    mdn_disposition = models.CharField(max_length=40, blank=True, default="")
    mdn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = (
            models.Index(
                fields=("account", "message_id"),
                condition=Q(read_at__isnull=True, kind="local"),
                name="outbox_rcpt_unread",
            ),
        )

    def __str__(self) -> str:
        return f"{self.item_id}:{self.address}"


UNDO_CHOICES = (0, 5, 10, 20, 30)
DEFAULT_UNDO_SECONDS = 10


class OutboxPreferences(models.Model):
    """Per account; until the first change the defaults apply."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+")
    undo_seconds = models.PositiveSmallIntegerField(
        default=DEFAULT_UNDO_SECONDS, choices=[(n, str(n)) for n in UNDO_CHOICES]
    )
    # "Let senders see when I read their mail": None = the default (on for senders of my own
    # domain, READ_STATUS_SHARE_OTHER_DOMAINS for others).
    share_read_status = models.BooleanField(null=True, blank=True)

    def __str__(self) -> str:
        return f"outbox preferences of {self.account_id}"


class DomainOutboxPolicy(models.Model):
    """An admin's choices for a domain's senders; no row = the server defaults."""

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="+")
    recall_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"outbox policy of {self.domain_id}"


class ReceiptChoice(models.TextChoices):
    SENT = "sent", "Receipt sent"
    DECLINED = "declined", "Declined"


class ReceiptDecision(models.Model):
    """What a recipient answered to a message's read-receipt request (asked once)."""

    message = models.OneToOneField(
        "store.Message", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    choice = models.CharField(max_length=8, choices=ReceiptChoice.choices)
    decided_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.message_id}: {self.choice}"


class ReceiptSender(models.Model):
    """ "Always send a receipt to this sender" (the third answer to the prompt)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=320)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "address"), name="receipt_sender_unique"),
        )

    def __str__(self) -> str:
        return f"{self.account_id} → {self.address}"


# --- 대용량 첨부 (large-file links, issue 14 §4) ------------------------------------------------


class LargeFileState(models.TextChoices):
    UPLOADING = "uploading", "Chunks arriving (resumable)"
    READY = "ready", "Uploaded and checked, not sent yet"
    SENT = "sent", "Linked from a sent message; downloadable until expires_at"
    REVOKED = "revoked", "Expired early by its sender; bytes removed"
    EXPIRED = "expired", "Past expires_at; bytes removed"


class LargeFile(models.Model):
    """A file sent as a link (대용량 첨부): first a resumable upload session, then a file that
    belongs to its sender and the sent message. The bytes live under LARGE_FILE_DIR, never in
    the Maildir; only mailcore.outbox.largefile_storage touches them. The link token is kept
    as its SHA-256 only: the database alone never gives a working link."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    upload_id = models.CharField(max_length=32, unique=True, help_text="random; the session id")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="declared at creation; the upload must match it")
    offset = models.BigIntegerField(default=0, help_text="bytes committed (fsynced) so far")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    storage_name = models.CharField(max_length=64, unique=True)
    state = models.CharField(
        max_length=10, choices=LargeFileState.choices, default=LargeFileState.UPLOADING
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    outbox_item = models.ForeignKey(
        OutboxItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="large_files"
    )
    sent_copy = models.ForeignKey(
        "store.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(help_text="last chunk or state change")
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="revoked or expired at")
    download_count = models.PositiveIntegerField(default=0)
    last_download_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = (
            models.Index(fields=("account", "state"), name="largefile_account_state"),
            models.Index(fields=("state", "updated_at"), name="largefile_state_age"),
            models.Index(fields=("state", "expires_at"), name="largefile_expiry"),
        )

    def __str__(self) -> str:
        return f"{self.upload_id} {self.filename} ({self.state})"
