"""Per-account POP3 choices (issue 11 §3) and what a keep-copies client has downloaded."""

from __future__ import annotations

from django.db import models

from mailcore.directory.models import Account


class DeletePolicy(models.TextChoices):
    """What a POP3 client's DELE does at QUIT, per account (Naver lets the user choose)."""

    DELETE = "delete", "Delete (to Trash or for good, as the server is set)"
    KEEP = "keep", "Keep on the server"
    READ = "read", "Keep on the server and mark read"


class Pop3Settings(models.Model):
    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="pop3_settings"
    )
    on_delete = models.CharField(
        max_length=8, choices=DeletePolicy.choices, default=DeletePolicy.DELETE
    )
    only_new = models.BooleanField(
        default=False, help_text="offer only mail not downloaded by POP3 before"
    )

    def __str__(self) -> str:
        return f"{self.account_id}: {self.on_delete}{' only new' if self.only_new else ''}"


class Uidl(models.Model):
    """The POP3 unique-id listing value of a message (RFC 1939 §7), fixed the first time a POP3
    session offers the message and kept for ever after, and whether a POP3 client has taken
    it (for "offer only mail not downloaded before").

    Keyed by the message's Maildir base name, which is what stays the same through every
    change a message can go through without becoming another message: flag changes (only
    the ':2,' part of the file name changes), folder renames, moves out of INBOX and back
    (same file, same key, new UID) and `reindex` (rows are matched to files by key). The
    value itself is Dovecot's default pop3_uidl_format %08Xu%08Xv of the INBOX UID and
    UIDVALIDITY the message had when it was first offered, so a message that never moved
    has the UIDL Dovecot gives it and clients moving from Dovecot download nothing twice.
    Rows of messages gone from the account are pruned when new rows are written."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    maildir_key = models.CharField(max_length=255)
    uidl = models.CharField(max_length=70)  # RFC 1939 §7: 1 to 70 characters 0x21-0x7E
    downloaded = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "maildir_key"], name="pop3_uidl_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.maildir_key}={self.uidl}"
