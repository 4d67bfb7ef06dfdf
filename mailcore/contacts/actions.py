"""Changes to the address book: contacts, groups, import, the auto-add of people written to,
and its setting. Every action takes the acting account and touches only its rows; limits
(CONTACTS_MAX_PER_ACCOUNT, CONTACT_GROUPS_MAX, field sizes) are checked here, before any write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from mailcore.addresses import canonical_address
from mailcore.contacts.formats import MAX_ADDRESSES, MAX_GROUPS_PER_CARD, Card, parse_file
from mailcore.contacts.formats import FormatError as _FormatError
from mailcore.contacts.models import (
    AddressBookSettings,
    Contact,
    ContactAddress,
    ContactGroup,
    ContactSource,
)
from mailcore.directory.models import Account
from mailcore.errors import ConflictError, InvalidAddressError, UserError

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_PHONE = 100
MAX_COMPANY = 200
MAX_MEMO = 2000
MAX_GROUP_NAME = 100


class ContactLimitError(ConflictError):
    code = "contact_limit"


class ContactImportError(UserError):
    code = "contact_import_invalid"


def max_contacts() -> int:
    return int(settings.CONTACTS_MAX_PER_ACCOUNT)


def max_groups() -> int:
    return int(settings.CONTACT_GROUPS_MAX)


def _clean_address(address: str) -> str:
    value = address.strip()
    if len(value) > 320 or "@" not in value:
        raise InvalidAddressError(f"Not an e-mail address: {value[:80]}")
    try:
        canonical_address(value)
    except (InvalidAddressError, ValueError) as exc:
        raise InvalidAddressError(f"Not an e-mail address: {value[:80]}") from exc
    return value


def _key(address: str) -> str:
    return address.strip().casefold()


@dataclass(frozen=True, slots=True)
class ContactFields:
    """A whole contact as the user edits it; `groups` are ids of the account's groups."""

    name: str = ""
    addresses: Sequence[str] = ()
    phone: str = ""
    company: str = ""
    memo: str = ""
    groups: Sequence[int] = ()


def _checked(fields: ContactFields) -> ContactFields:
    addresses = list(dict.fromkeys(_clean_address(a) for a in fields.addresses if a.strip()))
    if len(addresses) > MAX_ADDRESSES:
        raise UserError(f"A contact has at most {MAX_ADDRESSES} addresses.")
    name = fields.name.strip()
    if not name and not addresses:
        raise UserError("Give the contact a name or an address.")
    for value, limit, what in (
        (name, MAX_NAME, "name"),
        (fields.phone, MAX_PHONE, "phone"),
        (fields.company, MAX_COMPANY, "company"),
        (fields.memo, MAX_MEMO, "memo"),
    ):
        if len(value) > limit:
            raise UserError(f"The {what} is longer than {limit} characters.")
    return ContactFields(
        name=name,
        addresses=addresses,
        phone=fields.phone.strip(),
        company=fields.company.strip(),
        memo=fields.memo,
        groups=list(dict.fromkeys(fields.groups)),
    )


def _own_groups(account: Account, ids: Iterable[int]) -> list[ContactGroup]:
    wanted = list(dict.fromkeys(ids))
    groups = list(ContactGroup.objects.filter(account=account, pk__in=wanted))
    if len(groups) != len(wanted):
        from mailcore.errors import NotFoundError

        raise NotFoundError("group not found")
    return groups


def _set_addresses(contact: Contact, addresses: Sequence[str]) -> None:
    ContactAddress.objects.filter(contact=contact).delete()
    ContactAddress.objects.bulk_create(
        ContactAddress(
            contact=contact,
            account_id=contact.account_id,
            address=a,
            address_key=_key(a),
            position=i,
        )
        for i, a in enumerate(addresses)
    )


def _new_contact(account: Account, fields: ContactFields, source: str) -> Contact:
    contact = Contact.objects.create(
        account=account,
        name=fields.name,
        phone=fields.phone,
        company=fields.company,
        memo=fields.memo,
        source=source,
    )
    _set_addresses(contact, list(fields.addresses))
    return contact


def _room(account: Account, wanted: int) -> None:
    have = Contact.objects.filter(account=account).count()
    if have + wanted > max_contacts():
        raise ContactLimitError(
            f"The address book holds at most {max_contacts()} contacts "
            f"({have} now, {wanted} more asked)."
        )


@transaction.atomic(durable=True)
def do_create_contact(
    *, acting_account: Account, fields: ContactFields, source: str = ContactSource.MANUAL
) -> Contact:
    clean = _checked(fields)
    groups = _own_groups(acting_account, clean.groups)
    # The account row's lock orders concurrent creates, so the count limit holds.
    Account.objects.select_for_update().filter(pk=acting_account.pk).first()
    _room(acting_account, 1)
    contact = _new_contact(acting_account, clean, source)
    contact.groups.set(groups)
    return contact


@transaction.atomic(durable=True)
def do_update_contact(
    *, acting_account: Account, contact: Contact, fields: ContactFields
) -> Contact:
    """Replace every field of `contact` (the caller resolved it with access_contact)."""
    if contact.account_id != acting_account.pk:
        from mailcore.errors import NotFoundError

        raise NotFoundError("contact not found")
    clean = _checked(fields)
    groups = _own_groups(acting_account, clean.groups)
    contact.name, contact.phone = clean.name, clean.phone
    contact.company, contact.memo = clean.company, clean.memo
    if contact.source == ContactSource.AUTO:
        contact.source = ContactSource.MANUAL  # edited by hand: the user's own now
    contact.save()
    _set_addresses(contact, clean.addresses)
    contact.groups.set(groups)
    return contact


@transaction.atomic(durable=True)
def do_delete_contacts(*, acting_account: Account, contacts: Sequence[Contact]) -> int:
    ids = [c.pk for c in contacts if c.account_id == acting_account.pk]
    deleted, _ = Contact.objects.filter(account=acting_account, pk__in=ids).delete()
    return len(ids) if deleted else 0


def _check_group_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise UserError("Give the group a name.")
    if len(clean) > MAX_GROUP_NAME:
        raise UserError(f"A group name is at most {MAX_GROUP_NAME} characters.")
    return clean


@transaction.atomic(durable=True)
def do_create_group(*, acting_account: Account, name: str) -> ContactGroup:
    clean = _check_group_name(name)
    Account.objects.select_for_update().filter(pk=acting_account.pk).first()
    if ContactGroup.objects.filter(account=acting_account).count() >= max_groups():
        raise ContactLimitError(f"At most {max_groups()} groups.")
    if ContactGroup.objects.filter(account=acting_account, name=clean).exists():
        raise ConflictError("A group of that name exists.")
    return ContactGroup.objects.create(account=acting_account, name=clean)


@transaction.atomic(durable=True)
def do_rename_group(*, acting_account: Account, group: ContactGroup, name: str) -> ContactGroup:
    clean = _check_group_name(name)
    clash = ContactGroup.objects.filter(account=acting_account, name=clean).exclude(pk=group.pk)
    if clash.exists():
        raise ConflictError("A group of that name exists.")
    group.name = clean
    group.save(update_fields=["name"])
    return group


@transaction.atomic(durable=True)
def do_delete_group(*, acting_account: Account, group: ContactGroup) -> None:
    """The group goes; its contacts stay (as Naver does)."""
    ContactGroup.objects.filter(account=acting_account, pk=group.pk).delete()


@transaction.atomic(durable=True)
def do_set_auto_add(*, acting_account: Account, enabled: bool) -> AddressBookSettings:
    row, _ = AddressBookSettings.objects.select_for_update().get_or_create(account=acting_account)
    row.auto_add = enabled
    row.save(update_fields=["auto_add"])
    return row


def do_remember_recipients(
    *, acting_account: Account, recipients: Iterable[tuple[str, str]]
) -> int:
    """Add the (name, address) pairs the account just wrote to (a reply goes to the sender it
    answers, so repliers are covered) that no contact has yet, as auto-added contacts. Does
    nothing when the account turned auto-add off; stops quietly at the contact limit (a send
    never fails for the address book). Returns how many were added."""
    row = AddressBookSettings.objects.filter(account=acting_account).first()
    if row is not None and not row.auto_add:
        return 0
    own = _key(acting_account.address)
    wanted: dict[str, tuple[str, str]] = {}
    for name, address in recipients:
        key = _key(address)
        if key and key != own and "@" in key and len(address) <= 320:
            wanted.setdefault(key, (name.strip()[:MAX_NAME], address.strip()))
    if not wanted:
        return 0
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=acting_account.pk).first()
        known = set(
            ContactAddress.objects.filter(
                account=acting_account, address_key__in=list(wanted)
            ).values_list("address_key", flat=True)
        )
        fresh = [v for k, v in wanted.items() if k not in known]
        room = max_contacts() - Contact.objects.filter(account=acting_account).count()
        if len(fresh) > room:
            log.info("account %s: address book full, %d not added", acting_account.pk, len(fresh))
            fresh = fresh[: max(room, 0)]
        for name, address in fresh:
            contact = Contact.objects.create(
                account=acting_account, name=name, source=ContactSource.AUTO
            )
            _set_addresses(contact, [address])
    return len(fresh)


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)


def _card_fields(card: Card) -> tuple[ContactFields, list[str]]:
    addresses: list[str] = []
    for a in card.addresses[:MAX_ADDRESSES]:
        try:
            addresses.append(_clean_address(a))
        except InvalidAddressError:
            continue
    groups = [_check_group_name(g[:MAX_GROUP_NAME]) for g in card.groups if g.strip()]
    fields = ContactFields(
        name=card.name.strip()[:MAX_NAME],
        addresses=addresses,
        phone=card.phone[:MAX_PHONE],
        company=card.company[:MAX_COMPANY],
        memo=card.memo[:MAX_MEMO],
    )
    return fields, groups[:MAX_GROUPS_PER_CARD]


@transaction.atomic(durable=True)
def do_import_contacts(*, acting_account: Account, data: bytes) -> ImportReport:
    """Import a vCard or CSV file (mailcore.contacts.formats finds which, and the encoding).
    A card whose address a contact already has is merged into that contact (missing fields,
    addresses and groups added); others become contacts. All or nothing: a file over
    CONTACTS_IMPORT_MAX_BYTES, unreadable, or that would pass the contact or group limit
    changes nothing and says why. Cards with neither name nor valid address are skipped and
    reported by line."""
    if len(data) > settings.CONTACTS_IMPORT_MAX_BYTES:
        raise ContactImportError(
            f"The file is larger than {settings.CONTACTS_IMPORT_MAX_BYTES // 1024} KB."
        )
    try:
        cards = parse_file(data)
    except _FormatError as exc:
        raise ContactImportError(f"Not a vCard or CSV address book: {exc}.") from exc
    Account.objects.select_for_update().filter(pk=acting_account.pk).first()
    report = ImportReport()
    groups = {g.name: g for g in ContactGroup.objects.filter(account=acting_account)}
    by_key = {
        row.address_key: row.contact
        for row in ContactAddress.objects.select_related("contact").filter(account=acting_account)
    }
    pending: list[tuple[ContactFields, list[str]]] = []
    for card in cards:
        fields, group_names = _card_fields(card)
        if not fields.name and not fields.addresses:
            report.skipped.append({"line": card.line, "reason": "no name and no valid address"})
            continue
        pending.append((fields, group_names))
    new_groups = {n for _, names in pending for n in names} - set(groups)
    if len(groups) + len(new_groups) > max_groups():
        raise ContactLimitError(f"The import would make more than {max_groups()} groups.")
    fresh = [p for p in pending if not any(_key(a) in by_key for a in p[0].addresses)]
    _room(acting_account, len(fresh))
    for name in sorted(new_groups):
        groups[name] = ContactGroup.objects.create(account=acting_account, name=name)
    for fields, group_names in pending:
        existing = next((by_key[_key(a)] for a in fields.addresses if _key(a) in by_key), None)
        if existing is None:
            contact = _new_contact(acting_account, fields, ContactSource.IMPORT)
            report.created += 1
        else:
            contact = existing
            have = list(contact.addresses.values_list("address", flat=True))
            merged = list(dict.fromkeys([*have, *fields.addresses]))[:MAX_ADDRESSES]
            contact.name = contact.name or fields.name
            contact.phone = contact.phone or fields.phone
            contact.company = contact.company or fields.company
            contact.memo = contact.memo or fields.memo
            contact.save()
            if merged != have:
                _set_addresses(contact, merged)
            report.updated += 1
        for a in fields.addresses:
            by_key.setdefault(_key(a), contact)
        if group_names:
            contact.groups.add(*(groups[n] for n in group_names))
    return report
