"""External POP3/IMAP accounts a user pulls mail from (issue 11 §7–10, fetchmail's role), and
the remote ids already taken from each. Rows only: the work is in fetching.actions."""

from __future__ import annotations

from django.db import models

from mailcore.directory.models import Account
from mailcore.store.models import Folder


class Protocol(models.TextChoices):
    POP3 = "pop3", "POP3"
    IMAP = "imap", "IMAP"


class Security(models.TextChoices):
    """How the connection is protected: implicit TLS (995/993), STLS/STARTTLS on the plain port
    (110/143), or none (only when the admin sets FETCH_ALLOW_PLAINTEXT)."""

    TLS = "tls", "TLS (995/993)"
    STARTTLS = "starttls", "STARTTLS / STLS (110/143)"
    NONE = "none", "None (plaintext)"


class ExternalAccount(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    protocol = models.CharField(max_length=4, choices=Protocol.choices)
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField()
    security = models.CharField(max_length=8, choices=Security.choices, default=Security.TLS)
    username = models.CharField(max_length=255)
    # Fernet token (mailcore.fetching.secrets): the key is in the settings, never in the DB.
    password_encrypted = models.TextField()
    # None: the account's INBOX (also when the chosen folder was deleted since).
    folder = models.ForeignKey(Folder, on_delete=models.SET_NULL, null=True, related_name="+")
    keep = models.BooleanField(default=True, help_text="leave a copy on the other server")
    interval_minutes = models.PositiveIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    allow_self_signed = models.BooleanField(default=False)
    # With allow_self_signed: the SHA-256 of the certificate seen when the account was saved
    # (trust on first use); a different certificate later is refused.
    cert_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    # Run state.
    next_run_at = models.DateTimeField(db_index=True)
    running_until = models.DateTimeField(null=True, blank=True)  # the one-run-at-a-time lease
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_fetched = models.PositiveIntegerField(default=0)
    total_fetched = models.PositiveBigIntegerField(default=0)
    last_error_code = models.CharField(max_length=32, blank=True, default="")
    last_error_detail = models.CharField(max_length=500, blank=True, default="")
    # IMAP: the remote INBOX's UIDVALIDITY and the highest UID taken (or skipped) under it.
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["account"], name="fetching_ext_account")]

    def __str__(self) -> str:
        return f"{self.protocol}://{self.username}@{self.host}:{self.port}"


class FetchedId(models.Model):
    """A remote message taken and stored here. POP3: every UIDL taken (pruned when the server
    no longer lists it), so "leave a copy" never takes one twice. IMAP: "<uidvalidity>:<uid>"
    of a message taken but not yet deleted on the server (delete mode only; the row goes once
    the server's EXPUNGE succeeded)."""

    external = models.ForeignKey(ExternalAccount, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=72)  # RFC 1939 §7: a UIDL is 1–70 characters

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["external", "remote_id"], name="fetching_id_unique")
        ]

    def __str__(self) -> str:
        return f"{self.external_id}:{self.remote_id}"
