"""Reads of the address book. `access_*` answer NotFoundError for another account's rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet

from mailcore.contacts.formats import Card
from mailcore.contacts.models import AddressBookSettings, Contact, ContactAddress, ContactGroup
from mailcore.directory.models import Account
from mailcore.errors import NotFoundError
from mailcore.store.queries import list_contacts as list_history_contacts


def _with_children(qs: QuerySet[Contact]) -> QuerySet[Contact]:
    return qs.prefetch_related(
        Prefetch("addresses", queryset=ContactAddress.objects.order_by("position")),
        Prefetch("groups", queryset=ContactGroup.objects.order_by("name")),
    )


def access_contact(account: Account, contact_id: int) -> Contact:
    try:
        return _with_children(Contact.objects.filter(account=account)).get(pk=contact_id)
    except (Contact.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError("contact not found") from exc


def access_contacts(account: Account, ids: list[int]) -> list[Contact]:
    wanted = list(dict.fromkeys(ids))
    found = list(Contact.objects.filter(account=account, pk__in=wanted))
    if len(found) != len(wanted):
        raise NotFoundError("contact not found")
    return found


def access_group(account: Account, group_id: int) -> ContactGroup:
    try:
        return ContactGroup.objects.get(account=account, pk=group_id)
    except (ContactGroup.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError("group not found") from exc


def contact_settings(account: Account) -> AddressBookSettings:
    return AddressBookSettings.objects.filter(account=account).first() or AddressBookSettings(
        account=account
    )


def list_groups(account: Account) -> list[ContactGroup]:
    from django.db.models import Count

    return list(
        ContactGroup.objects.filter(account=account)
        .annotate(size=Count("contacts"))
        .order_by("name")
    )


def list_address_book(
    account: Account,
    *,
    q: str = "",
    group: ContactGroup | None = None,
    after: tuple[str, int] | None = None,
    limit: int,
) -> list[Contact]:
    """Contacts by name (then id), keyset-paginated after (name, id); `q` matches the name,
    an address, the company or the phone (case-insensitive substring)."""
    qs = Contact.objects.filter(account=account)
    if group is not None:
        qs = qs.filter(groups=group)
    needle = q.strip()
    if needle:
        qs = qs.filter(
            Q(name__icontains=needle)
            | Q(company__icontains=needle)
            | Q(phone__icontains=needle)
            | Q(
                pk__in=ContactAddress.objects.filter(
                    account=account, address_key__contains=needle.casefold()
                ).values("contact_id")
            )
        )
    if after is not None:
        qs = qs.filter(Q(name__gt=after[0]) | Q(name=after[0], pk__gt=after[1]))
    return list(_with_children(qs).order_by("name", "pk")[:limit])


def card_of(contact: Contact) -> Card:
    return Card(
        name=contact.name,
        addresses=[a.address for a in contact.addresses.all()],
        phone=contact.phone,
        company=contact.company,
        memo=contact.memo,
        groups=[g.name for g in contact.groups.all()],
    )


def export_cards(account: Account) -> list[Card]:
    rows = _with_children(Contact.objects.filter(account=account)).order_by("name", "pk")
    return [card_of(c) for c in rows]


@dataclass(frozen=True, slots=True)
class Suggestion:
    name: str
    address: str
    count: int
    contact_id: int | None = None
    group_id: int | None = None
    members: int = 0


def suggest_recipients(account: Account, q: str, *, limit: int) -> list[Suggestion]:
    """Autocomplete: groups whose name matches, then address-book addresses (name, address
    or company match), then addresses from mail history (mailcore.store.queries
    list_contacts) not already listed; at most `limit` in all."""
    needle = q.strip()
    out: list[Suggestion] = []
    if needle:
        out.extend(
            Suggestion(group.name, "", 0, group_id=group.pk, members=group.size)  # type: ignore[attr-defined]
            for group in list_groups(account)
            if needle.casefold() in group.name.casefold()
        )
    book = ContactAddress.objects.filter(account=account).select_related("contact")
    if needle:
        book = book.filter(
            Q(address_key__contains=needle.casefold())
            | Q(contact__name__icontains=needle)
            | Q(contact__company__icontains=needle)
        )
    seen: set[str] = set()
    for row in book.order_by("contact__name", "position")[:limit]:
        if row.address_key not in seen:
            seen.add(row.address_key)
            out.append(Suggestion(row.contact.name, row.address, 0, contact_id=row.contact_id))
    for h in list_history_contacts(account, needle, limit=limit):
        if h.address.casefold() not in seen:
            seen.add(h.address.casefold())
            out.append(Suggestion(h.name, h.address, h.count))
    return out[:limit]


def expand_groups(account: Account, group_ids: list[int]) -> list[tuple[str, str]]:
    """(name, first address) of every member with an address of the account's groups
    `group_ids` (NotFoundError if one is not the account's), each address once."""
    groups = [access_group(account, gid) for gid in dict.fromkeys(group_ids)]
    rows = (
        ContactAddress.objects.filter(
            account=account, position=0, contact__groups__in=[g.pk for g in groups]
        )
        .select_related("contact")
        .order_by("contact__name", "contact_id")
    )
    out: dict[str, tuple[str, str]] = {}
    for row in rows:
        out.setdefault(row.address_key, (row.contact.name, row.address))
    return list(out.values())
