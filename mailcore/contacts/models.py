"""The address book (주소록): contacts with several addresses, groups, and the per-account
setting for adding people you write to. Rows are written only by mailcore.contacts.actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ContactSource(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    AUTO = "auto", "Added when you wrote to them"
    IMPORT = "import", "Imported"


class ContactGroup(models.Model):
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_groups"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("account", "name")
        constraints = (
            models.UniqueConstraint(fields=("account", "name"), name="contact_group_unique_name"),
        )

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=100, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    memo = models.TextField(blank=True, default="")
    source = models.CharField(
        max_length=10, choices=ContactSource.choices, default=ContactSource.MANUAL
    )
    groups = models.ManyToManyField(ContactGroup, blank=True, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (models.Index(fields=("account", "name", "id"), name="contact_account_name"),)

    def __str__(self) -> str:
        return self.name or f"contact {self.pk}"


class ContactAddress(models.Model):
    """One e-mail address of a contact; `position` 0 is the one a group send uses."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="addresses")
    # Denormalised for the per-account lookups (autocomplete, "already known?").
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    address = models.CharField(max_length=320)
    address_key = models.CharField(max_length=320, help_text="case-folded, for matching")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("contact", "position")
        indexes = (models.Index(fields=("account", "address_key"), name="contact_address_key"),)

    def __str__(self) -> str:
        return self.address


class AddressBookSettings(models.Model):
    """One per account once changed; without a row the defaults apply (auto_add on)."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="address_book_settings"
    )
    auto_add = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"address book settings of {self.account_id}"
