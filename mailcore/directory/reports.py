"""Read-only views of the queue, the delivery log and usage for administrators, restricted to
an AdminScope: a domain admin sees queue entries whose sender or a recipient is in one of its
domains, and only those recipients of an entry that are (unless its sender is theirs).

No writes here: queue actions are mailcore.delivery.queueops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from mailcore.delivery.models import (
    DeliveryAttempt,
    Direction,
    EntryState,
    QueueEntry,
    QueueRecipient,
    RecipientState,
)
from mailcore.directory.models import Account, AuditLog, LoginRecord
from mailcore.directory.queries import UnroutedRoleAddress, list_unrouted_role_addresses
from mailcore.directory.roles import AdminScope, list_accounts, list_domains
from mailcore.errors import AdminForbiddenError, NotFoundError

if TYPE_CHECKING:  # django-stubs' name for "a model row with these annotations"
    from django_stubs_ext import WithAnnotations


class _UsedBytes(TypedDict):
    used_bytes: int


def _domain_q(scope: AdminScope) -> Q:
    q = Q()
    for name in sorted(scope.domains):
        q |= Q(sender__endswith=f"@{name}") | Q(recipients__address__endswith=f"@{name}")
    return q


def scoped_entries(scope: AdminScope) -> QuerySet[QueueEntry]:
    qs = QueueEntry.objects.all()
    if scope.is_superadmin:
        return qs
    if not scope.domains:
        return qs.none()
    # A subquery, not a join: an entry with two matching recipients must come back once.
    return qs.filter(pk__in=QueueEntry.objects.filter(_domain_q(scope)).values("pk"))


@dataclass(frozen=True, slots=True)
class EntryFilter:
    queue_id: str = ""
    message_id: str = ""
    sender: str = ""  # substring, case-insensitive
    recipient: str = ""  # substring, case-insensitive
    state: str = ""  # queued | held | paused | done | '' (any) | 'pending' (not done)
    direction: str = ""  # in | out | ''
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def search_entries(scope: AdminScope, f: EntryFilter) -> QuerySet[QueueEntry]:
    """Queue entries in scope matching `f`, newest first (by id, for keyset paging)."""
    qs = scoped_entries(scope)
    if f.queue_id:
        qs = qs.filter(queue_id=f.queue_id.strip().upper())
    if f.message_id:
        mid = f.message_id.strip().removeprefix("<").removesuffix(">")
        qs = qs.filter(Q(message_id=mid) | Q(sent_copy__message_id=mid))
    if f.sender:
        qs = qs.filter(sender__icontains=f.sender.strip())
    if f.recipient:
        qs = qs.filter(
            pk__in=QueueRecipient.objects.filter(address__icontains=f.recipient.strip()).values(
                "entry_id"
            )
        )
    if f.state == "pending":
        qs = qs.filter(state__in=(EntryState.QUEUED, EntryState.HELD, EntryState.PAUSED))
    elif f.state:
        qs = qs.filter(state=f.state)
    if f.direction:
        qs = qs.filter(direction=f.direction)
    if f.since is not None:
        qs = qs.filter(received_at__gte=f.since)
    if f.until is not None:
        qs = qs.filter(received_at__lt=f.until)
    return qs.select_related("sent_copy").order_by("-id")


def access_entry(scope: AdminScope, queue_id: str) -> QueueEntry:
    entry = (
        scoped_entries(scope)
        .filter(queue_id=queue_id.strip().upper())
        .select_related("sent_copy")
        .first()
    )
    if entry is None:
        raise NotFoundError(f"no queue entry {queue_id}")
    return entry


def visible_recipients(scope: AdminScope, entry: QueueEntry) -> list[QueueRecipient]:
    """The recipients of `entry` this admin may see (all of them if the sender is theirs)."""
    recipients = list(entry.recipients.all())
    if scope.is_superadmin or scope.covers_address(entry.sender):
        return recipients
    return [r for r in recipients if scope.covers_address(r.address)]


def check_may_act_on_entry(scope: AdminScope, entry: QueueEntry) -> None:
    """Retry, delete or bounce change the mail of every recipient: a domain admin may do it
    only to its own users' outgoing mail or to mail whose recipients are all its users."""
    if scope.is_superadmin or scope.covers_address(entry.sender):
        return
    if all(scope.covers_address(r.address) for r in entry.recipients.all()):
        return
    raise AdminForbiddenError(
        "this message also goes to domains you do not administer; ask a superadmin"
    )


def attempts_of(entries: list[QueueEntry]) -> dict[int, list[DeliveryAttempt]]:
    out: dict[int, list[DeliveryAttempt]] = {e.pk: [] for e in entries}
    for attempt in DeliveryAttempt.objects.filter(entry_id__in=list(out)).order_by(
        "entry_id", "number"
    ):
        out[attempt.entry_id].append(attempt)
    return out


# --- dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayTraffic:
    date: dt.date
    inbound: int
    outbound: int


@dataclass(frozen=True, slots=True)
class QueueSize:
    queued: int
    held: int
    deferred_recipients: int
    paused: int = 0  # submissions of accounts held by containment (delivery.containment)


@dataclass(frozen=True, slots=True)
class DomainUsage:
    name: str
    accounts: int
    used_bytes: int


@dataclass(frozen=True, slots=True)
class AccountUsage:
    id: int
    address: str
    used_bytes: int
    quota_bytes: int


def traffic_per_day(scope: AdminScope, days: int) -> list[DayTraffic]:
    """Messages accepted per UTC day for the last `days` days (today included), from the queue
    of record: 'in' = arrived for local delivery, 'out' = submitted, forwarded or a bounce."""
    today = timezone.now().astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    rows = (
        scoped_entries(scope)
        .filter(received_at__gte=since)
        .annotate(day=TruncDate("received_at", tzinfo=dt.UTC))
        .values("day", "direction")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[dt.date, str], int] = {}
    for row in rows:
        counts[(row["day"], row["direction"])] = row["n"]
    out = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        out.append(
            DayTraffic(
                day,
                counts.get((day, Direction.INBOUND), 0),
                counts.get((day, Direction.OUTBOUND), 0),
            )
        )
    return out


def queue_size(scope: AdminScope) -> QueueSize:
    pending = scoped_entries(scope).exclude(state=EntryState.DONE)
    by_state = dict(pending.values("state").annotate(n=Count("id")).values_list("state", "n"))
    deferred = QueueRecipient.objects.filter(
        entry__in=pending, state=RecipientState.DEFERRED
    ).count()
    return QueueSize(
        by_state.get(EntryState.QUEUED, 0),
        by_state.get(EntryState.HELD, 0),
        deferred,
        paused=by_state.get(EntryState.PAUSED, 0),
    )


def accounts_with_usage(scope: AdminScope) -> QuerySet[WithAnnotations[Account, _UsedBytes]]:
    """Accounts in scope annotated with `used_bytes` (the sum of their folders' counters)."""
    return list_accounts(scope).annotate(used_bytes=Coalesce(Sum("folders__size_bytes"), 0))


def storage_per_domain(scope: AdminScope) -> list[DomainUsage]:
    used: dict[str, Mapping[str, Any]] = {
        row["domain__name"]: row
        for row in list_accounts(scope)
        .values("domain__name")
        .annotate(n=Count("id", distinct=True), used=Coalesce(Sum("folders__size_bytes"), 0))
        .order_by()
    }
    return [
        DomainUsage(
            d.name, used.get(d.name, {}).get("n", 0), int(used.get(d.name, {}).get("used", 0))
        )
        for d in list_domains(scope)
    ]


def top_accounts_by_storage(scope: AdminScope, limit: int = 20) -> list[AccountUsage]:
    return [
        AccountUsage(a.pk, a.address, int(a.used_bytes), a.quota_bytes)
        for a in accounts_with_usage(scope).order_by("-used_bytes", "address")[:limit]
    ]


def unrouted_role_addresses(scope: AdminScope) -> list[UnroutedRoleAddress]:
    """postmaster@/abuse@ of the domains in scope that have nowhere to go (dashboard)."""
    return list_unrouted_role_addresses(None if scope.is_superadmin else sorted(scope.domains))


def list_audit_log(scope: AdminScope) -> QuerySet[AuditLog]:
    """Newest first. Domain admins read the rows of their domains only."""
    qs = AuditLog.objects.all()
    if not scope.is_superadmin:
        qs = qs.filter(domain__in=sorted(scope.domains))
    return qs.order_by("-id")


def list_login_history(scope: AdminScope) -> QuerySet[LoginRecord]:
    """Every login attempt, newest first. Domain admins read those on their domains' accounts
    (attempts on unknown addresses of their domains too)."""
    qs = LoginRecord.objects.select_related("account")
    if not scope.is_superadmin:
        domains = sorted(scope.domains)
        in_scope = Q(account__domain__name__in=domains)
        for name in domains:
            in_scope |= Q(account__isnull=True, address__iendswith="@" + name)
        qs = qs.filter(in_scope)
    return qs.order_by("-id")
