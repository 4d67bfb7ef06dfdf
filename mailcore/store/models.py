"""Folders and messages: the index over each account's Maildir.

Maildir holds the truth (content, flags in ':2,' suffixes, UIDs in mailroom-uidlist); these rows
can be rebuilt from it by `manage.py reindex`. Rows are written only by mailcore.store.actions.
"""

from __future__ import annotations

from django.db import models

from mailcore.directory.models import Account


class SpecialUse(models.TextChoices):
    # RFC 6154 special-use names, plus naver's 내게쓴메일함 ("to me").
    INBOX = "inbox", "Inbox"
    SENT = "sent", "Sent"
    DRAFTS = "drafts", "Drafts"
    JUNK = "junk", "Junk"
    TRASH = "trash", "Trash"
    TOME = "tome", "To me"
    NONE = "", "None"


class Source(models.TextChoices):
    SMTP = "smtp", "SMTP"
    API = "api", "API"
    IMAP = "imap", "IMAP"
    REINDEX = "reindex", "Reindex"
    IMPORT = "import", "Import"


class Folder(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="folders")
    name = models.CharField(max_length=500, help_text="display name; '/' separates levels")
    # Maildir++ directory: '' for INBOX, '.Sent', '.Work.Projects' (modified UTF-7 components).
    path = models.CharField(max_length=1000)
    special_use = models.CharField(
        max_length=10, choices=SpecialUse.choices, blank=True, default=""
    )
    uidvalidity = models.BigIntegerField()
    uidnext = models.BigIntegerField(default=1)
    highestmodseq = models.BigIntegerField(default=1)
    # Kept in step by the store actions in the same transactions as the rows (Dovecot keeps
    # these in its index header), so folder lists never count 100 000 rows; reindex recounts.
    message_count = models.BigIntegerField(default=0)
    unseen_count = models.BigIntegerField(default=0)
    # Sum of Message.size in this folder, kept like the counters above: quota usage and the
    # admin dashboard read it instead of summing rows.
    size_bytes = models.BigIntegerField(default=0)
    subscribed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "name"), name="folder_unique_name"),
            models.UniqueConstraint(fields=("account", "path"), name="folder_unique_path"),
        )
        ordering = ("account", "path")

    def __str__(self) -> str:
        return f"{self.account_id}:{self.name}"


class Message(models.Model):
    # No single-column FK indexes: (account, maildir_key) and (folder, uid) lead with them, and
    # a lone folder index tempts the planner into sorting a whole folder for one page.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    folder = models.ForeignKey(
        Folder, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    uid = models.BigIntegerField()
    # The Maildir base name (without ':2,flags'); derived from (queue entry, recipient) for
    # deliveries, so a second delivery attempt finds the first one.
    maildir_key = models.CharField(max_length=255)
    in_cur = models.BooleanField(default=False, help_text="file lives in cur/ (else new/)")
    info = models.CharField(max_length=64, blank=True, default="", help_text="letters after ':2,'")
    size = models.BigIntegerField()
    internal_date = models.DateTimeField()
    modseq = models.BigIntegerField(default=1)
    seen = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    draft = models.BooleanField(default=False)
    keywords = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SMTP)

    # Listing fields, parsed once at delivery.
    message_id = models.CharField(max_length=998, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    from_name = models.CharField(max_length=500, blank=True, default="")
    from_addr = models.CharField(max_length=500, blank=True, default="")
    to_addrs = models.JSONField(default=list, blank=True, help_text="[[name, addr], …]")
    cc_addrs = models.JSONField(default=list, blank=True, help_text="[[name, addr], …]")
    sent_date = models.DateTimeField(null=True, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True, default="")
    references = models.TextField(blank=True, default="")
    snippet = models.CharField(max_length=300, blank=True, default="")
    has_attachments = models.BooleanField(default=False)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("folder", "uid"), name="message_unique_uid"),
            models.UniqueConstraint(fields=("account", "maildir_key"), name="message_unique_key"),
        )

    def __str__(self) -> str:
        return f"{self.folder_id}:{self.uid}"


class MessageText(models.Model):
    """Decoded plain text of a message (capped), for the basic search over bodies. Kept apart
    from Message so that listing rows stay narrow; rebuilt by reindex like every other index."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="text"
    )
    text = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"text of {self.message_id}"
