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

    USERNAME_FIELD = "address"
    EMAIL_FIELD = "address"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = AccountManager()

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

    @property
    def is_catchall(self) -> bool:
        return self.source.startswith("@")

    def __str__(self) -> str:
        return f"{self.source} → {', '.join(self.targets)}"
