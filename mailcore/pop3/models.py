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


class Download(models.Model):
    """An INBOX message a POP3 session retrieved (RETR) and ended with QUIT: with `only_new`
    it is not offered again. Keyed like UIDL (UIDVALIDITY, UID); rows of messages no longer
    in INBOX are pruned at each QUIT, so the table never outgrows the INBOXes."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "uidvalidity", "uid"], name="pop3_download_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.uidvalidity}:{self.uid}"
