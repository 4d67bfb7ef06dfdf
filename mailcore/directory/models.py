"""Who may receive mail: local domains, accounts (the one account store) and aliases.

Rows are written only by mailcore.directory.actions; addresses are stored canonical
(mailcore.addresses), so lookups are exact matches on indexed columns.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class Domain(models.Model):
    """A local domain (sendmail's local-host-names)."""

    name = models.CharField(max_length=253, unique=True, help_text="IDNA A-label, lower case")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # 2단계 인증 required: a user of this domain without a second factor is made to enrol one
    # at the next web login before reaching mail (mailcore.directory.twofactor).
    require_second_factor = models.BooleanField(default=False)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class AccountManager(BaseUserManager["Account"]):
    def get_by_natural_key(self, username: str | None) -> Account:
        from mailcore.addresses import canonical_address

        return self.get(address=canonical_address(username or ""))

    def create_user(self, address: str, password: str | None = None, **extra: Any) -> Account:
        from mailcore.directory.actions import do_create_account

        return do_create_account(address, password=password, **extra)


class Account(AbstractBaseUser):
    """A mailbox owner. Web login, SMTP AUTH, IMAP and POP3 all verify against this row."""

    address = models.CharField(max_length=320, unique=True)
    local_part = models.CharField(max_length=64)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="accounts")
    display_name = models.CharField(max_length=200, blank=True, default="")
    # Relative to MAIL_ROOT, fixed at creation from validated parts: never from raw input.
    storage_path = models.CharField(max_length=400, unique=True)
    quota_bytes = models.BigIntegerField(default=0, help_text="0 means unlimited")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Superadmin of the whole server")
    created_at = models.DateTimeField(auto_now_add=True)
    # A confirmed TOTP or a passkey exists (kept by mailcore.directory.twofactor, read by every
    # login without a query of its own): then the password alone opens no web session or API
    # token, and the mail doors take app passwords only.
    second_factor_on = models.BooleanField(default=False)

    USERNAME_FIELD = "address"
    EMAIL_FIELD = "address"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = AccountManager()
    # Not a column: how verify_credentials let this instance in ("password", "app_password"),
    # for the login history.
    login_method = ""

    class Meta:
        ordering = ("address",)

    def __str__(self) -> str:
        return self.address


class Alias(models.Model):
    """`source` → `targets` (/etc/aliases). A source of '@domain' is that domain's catch-all."""

    source = models.CharField(max_length=320, unique=True)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="aliases")
    targets = models.JSONField(default=list, help_text="canonical addresses, local or external")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("source",)
        verbose_name_plural = "aliases"

    def __str__(self) -> str:
        return f"{self.source} → {', '.join(self.targets)}"

    @property
    def is_catchall(self) -> bool:
        return self.source.startswith("@")


class RelayAction(models.TextChoices):
    # sendmail access(5) right-hand sides.
    RELAY = "RELAY", "Relay"  # may send to any domain (like Postfix mynetworks)
    OK = "OK", "OK"  # accept for our domains; no relaying
    REJECT = "REJECT", "Reject"  # refuse every recipient, local ones too
    DISCARD = "DISCARD", "Discard"  # accept, then drop (recorded in the log)


class RelayRule(models.Model):
    """One line of /etc/mail/access: client network (and optionally envelope sender domain and
    recipient domain) → action. Written only by directory.actions; matched by queries."""

    network = models.CharField(max_length=50, help_text="IPv4/IPv6 CIDR, normalised")
    sender_domain = models.CharField(
        max_length=253, blank=True, default="", help_text="A-label; '' = any sender"
    )
    recipient_domain = models.CharField(
        max_length=253, blank=True, default="", help_text="A-label; '' = any recipient"
    )
    action = models.CharField(max_length=8, choices=RelayAction.choices)
    comment = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("network", "sender_domain", "recipient_domain")
        constraints = (
            models.UniqueConstraint(
                fields=("network", "sender_domain", "recipient_domain"), name="relay_rule_unique"
            ),
        )

    def __str__(self) -> str:
        cond = "".join(
            f" {k}={v}"
            for k, v in (("from", self.sender_domain), ("to", self.recipient_domain))
            if v
        )
        return f"{self.network}{cond} {self.action}"


class AuthEvent(models.Model):
    """Login limiter state shared by every process (SMTP AUTH, IMAP, POP3, web and API): one
    row per distinct wrong password per (client IP, account), one per success, and one per
    guess whose password is being checked right now (pending: counted like a failure until it
    is settled, or until it leaves the window if its process died)."""

    FAILURE = "fail"
    SUCCESS = "ok"
    PENDING = "pend"

    kind = models.CharField(
        max_length=4,
        choices=((FAILURE, "failure"), (SUCCESS, "success"), (PENDING, "being checked")),
    )
    ip = models.CharField(max_length=45)
    account = models.CharField(max_length=320, help_text="canonical address tried (or raw)")
    # A keyed, truncated hash of the wrong password: tells distinct guesses apart (Mailu),
    # never reversible without SECRET_KEY. '' for successes.
    secret_hash = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        indexes = (
            models.Index(fields=("ip", "created_at"), name="authevent_ip"),
            models.Index(fields=("account", "created_at"), name="authevent_account"),
            models.Index(fields=("created_at",), name="authevent_age"),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.ip} {self.account}"


class AppPassword(models.Model):
    """A named, revocable password for one IMAP/POP3/SMTP client (Gmail's app passwords).

    Only a SHA-256 of the secret is stored, never the secret. An unsalted fast hash is sound
    here because the secret is 16 random letters (~75 bits, generated by us, never chosen by a
    person): no dictionary applies and 2**75 guesses are out of reach, while SMTP AUTH finds
    the row with one indexed lookup instead of an Argon2 run per login.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="app_passwords")
    name = models.CharField(max_length=100)
    secret_hash = models.CharField(max_length=64, unique=True, help_text="hex SHA-256")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.CharField(max_length=45, blank=True, default="")

    class Meta:
        ordering = ("account", "created_at", "id")
        constraints = (
            models.UniqueConstraint(fields=("account", "name"), name="app_password_name_unique"),
        )

    def __str__(self) -> str:
        return f"{self.account_id}:{self.name}"


class DomainAdmin(models.Model):
    """`account` administers `domain` (its accounts, aliases, DKIM, queue and log entries) and
    nothing else. Superadmins (Account.is_staff) need no rows here."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="admin_of")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="admins")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("domain", "account")
        constraints = (
            models.UniqueConstraint(fields=("account", "domain"), name="domain_admin_unique"),
        )

    def __str__(self) -> str:
        return f"{self.account_id} admin of {self.domain_id}"


class AuditLog(models.Model):
    """One row per administrative change: who (actor address, or 'cli'), what (action code and
    target), when, from where (client IP) and the details (JSON, never a secret)."""

    actor = models.CharField(max_length=320)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=400, blank=True, default="")
    # A-label of the domain the change concerns ('' = server-wide): what domain admins may read.
    domain = models.CharField(max_length=253, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    ip = models.CharField(max_length=45, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("-id",)
        indexes = (models.Index(fields=("domain", "id"), name="auditlog_domain"),)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"


class LoginRecord(models.Model):
    """로그인 기록: one row per login attempt through any door, kept LOGIN_HISTORY_DAYS.

    Unlike AuthEvent (the limiter's short-lived state) this is what the user and the admins
    read: when, from where, through which door, with what, and how it ended. An attempt on an
    unknown address has no account; the address tried is kept (truncated) for the admins."""

    class Door(models.TextChoices):
        WEB = "web"
        API = "api"
        SMTP = "smtp"
        IMAP = "imap"
        POP3 = "pop3"
        OTHER = "mail"

    class Result(models.TextChoices):
        OK = "ok"
        FAILED = "failed"  # wrong address or password, or a disabled account
        BLOCKED = "blocked"  # refused by the limiter before the password was checked
        PARTIAL = "partial"  # password right, the second factor was asked for next

    class Method(models.TextChoices):
        PASSWORD = "password"  # noqa: S105 (a kind of login, not a secret)
        APP_PASSWORD = "app_password"  # noqa: S105
        TOTP = "totp"  # password, then an authenticator app's code
        PASSKEY = "passkey"  # password, then a passkey (WebAuthn)
        RECOVERY = "recovery"  # password, then a one-time recovery code
        UNKNOWN = ""  # failed or blocked: which one was meant is not known

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="logins"
    )
    address = models.CharField(max_length=320)
    at = models.DateTimeField()
    ip = models.CharField(max_length=45, blank=True, default="")
    door = models.CharField(max_length=4, choices=Door.choices)
    method = models.CharField(max_length=12, choices=Method.choices, blank=True, default="")
    result = models.CharField(max_length=8, choices=Result.choices)
    client = models.CharField(
        max_length=200, blank=True, default="", help_text="user agent, IMAP ID…"
    )
    # Why a failure failed when it is not just a wrong password, e.g. "app_password_required"
    # (a mail door refusing the account password of an account with 2단계 인증).
    reason = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ("-id",)
        indexes = (
            models.Index(fields=("account", "id"), name="loginrecord_account"),
            models.Index(fields=("at",), name="loginrecord_age"),
        )

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.address} {self.door} {self.result}"


class TotpDevice(models.Model):
    """An authenticator app (RFC 6238) of one account: at most one. The secret is kept
    encrypted (mailcore.directory.twofactor.seal); `confirmed` once a first code matched;
    `last_step` is the time step of the last code accepted, so no code is taken twice."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="totp")
    secret_sealed = models.CharField(max_length=300)
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"TOTP of {self.account_id}"


class Passkey(models.Model):
    """A WebAuthn credential (platform or roaming authenticator) of one account, named by its
    owner. `sign_count` is the authenticator's counter as last seen (a lower one is refused)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=100)
    credential_id = models.BinaryField(max_length=1024)
    credential_id_hash = models.CharField(max_length=64, unique=True, help_text="hex SHA-256")
    public_key = models.BinaryField(max_length=2048)
    sign_count = models.BigIntegerField(default=0)
    attestation_format = models.CharField(max_length=16, default="none")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"passkey {self.name!r} of {self.account_id}"


class RecoveryCode(models.Model):
    """One of an account's ten one-time recovery codes: hashed with Django's hashers, and a
    short `hint` (16 bits of a SHA-256 of the code) so a login checks one hash, not ten."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recovery_codes")
    hint = models.CharField(max_length=4)
    code_hash = models.CharField(max_length=200)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        indexes = (models.Index(fields=("account", "hint"), name="recoverycode_hint"),)

    def __str__(self) -> str:
        return f"recovery code of {self.account_id}"
