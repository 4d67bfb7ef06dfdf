"""Outbox queries: an account's items (404 for anyone else's), the scheduled list, and the
status of a sent message per recipient — queue state (mailcore.delivery) merged with what the
outbox recorded (read, recalled, MDN). Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from mailcore.delivery.models import EntryState, QueueEntry, QueueRecipient, RecipientState
from mailcore.delivery.submit import ORIGIN_PREFIX
from mailcore.directory.models import Account
from mailcore.errors import NotFoundError
from mailcore.outbox.models import (
    DomainOutboxPolicy,
    ItemState,
    OutboxItem,
    OutboxPreferences,
    OutboxRecipient,
    RecipientKind,
)
from mailcore.store.models import Message

# A webmail/API send's first queue entry (its local recipients') gets an id ending in this
# letter; random queue ids never hold a vowel (delivery.spool), so a recipient's copy is known
# as tracked from its Maildir key alone ("<queue id>.<hash>.<host>,S=…").
TRACKED_MARK = "A"


def tracked_queue_id() -> str:
    from mailcore.delivery import spool

    return spool.new_queue_id()[:-1] + TRACKED_MARK


def is_tracked_key(maildir_key: str) -> bool:
    return maildir_key.split(".", 1)[0].endswith(TRACKED_MARK)


def get_outbox_preferences(account: Account) -> OutboxPreferences:
    """The account's row, or (unsaved) the defaults: OUTBOX_UNDO_DEFAULT_SECONDS, and the
    read status shared by the default rule."""
    from django.conf import settings

    found = OutboxPreferences.objects.filter(account=account).first()
    return found or OutboxPreferences(
        account=account, undo_seconds=settings.OUTBOX_UNDO_DEFAULT_SECONDS
    )


def access_item(account: Account, item_id: int) -> OutboxItem:
    item = OutboxItem.objects.filter(pk=item_id, account=account).first()
    if item is None:
        raise NotFoundError("outbox item not found")
    return item


def access_item_by_sent_copy(account: Account, message_id: int) -> OutboxItem:
    item = OutboxItem.objects.filter(sent_copy_id=message_id, account=account).first()
    if item is None:
        raise NotFoundError("no outbox status for this message")
    return item


_PREFIX = Value(ORIGIN_PREFIX, output_field=CharField())


def list_waiting(account: Account) -> list[OutboxItem]:
    """The account's scheduled messages not yet handed to a worker, soonest first (예약 메일)."""
    return list(_waiting(account).order_by("send_at", "pk")[:1000])


def scheduled_count(account: Account) -> int:
    return _waiting(account).count()


def _waiting(account: Account) -> QuerySet[OutboxItem]:
    qs = OutboxItem.objects.filter(account=account, state=ItemState.QUEUED, scheduled=True)
    waiting = Exists(
        QueueEntry.objects.filter(
            origin=Concat(
                Value(ORIGIN_PREFIX, output_field=CharField()), OuterRef("submission_id")
            ),
            state=EntryState.QUEUED,
            attempts=0,
        )
    )
    return qs.filter(waiting)


def local_copy(item: OutboxItem, rcpt: OutboxRecipient) -> Message | None:
    """The local recipient's delivered copy (any folder): same Message-ID AND a Maildir key
    from one of this send's queue entries, so a forged Message-ID never matches."""
    if rcpt.account_id is None or not item.message_id:
        return None
    prefixes = [
        f"{qid}."
        for qid in QueueEntry.objects.filter(
            origin=f"{ORIGIN_PREFIX}{item.submission_id}"
        ).values_list("queue_id", flat=True)
    ]
    candidates = Message.objects.select_related("folder").filter(
        account_id=rcpt.account_id, message_id=item.message_id[:998]
    )
    for message in candidates:
        if any(message.maildir_key.startswith(p) for p in prefixes):
            return message
    return None


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    address: str
    kind: str  # local | remote | group
    # scheduled | queued | deferred | delivered | bounced | read | recalled | cancelled
    state: str
    delivered_at: datetime | None
    read_at: datetime | None
    recalled_at: datetime | None
    last_reply: str
    mdn_disposition: str
    # Why recall is not possible ('' = it is): remote, group, opened, not_delivered, recalled
    recall_blocked: str


@dataclass(frozen=True, slots=True)
class ItemStatus:
    item: OutboxItem
    waiting: bool  # not handed to a worker yet: undo / cancel / send now still possible
    total: int
    read: int
    recipients: list[RecipientStatus]


def _queue_rows(item: OutboxItem) -> dict[str, tuple[QueueRecipient, QueueEntry]]:
    rows = QueueRecipient.objects.select_related("entry").filter(
        entry__origin=f"{ORIGIN_PREFIX}{item.submission_id}"
    )
    return {r.address: (r, r.entry) for r in rows}


def _recipient_status(
    item: OutboxItem, rcpt: OutboxRecipient, queued: tuple[QueueRecipient, QueueEntry] | None
) -> RecipientStatus:
    now = timezone.now()
    qr, entry = queued if queued else (None, None)
    state = qr.state if qr else "delivered"
    if qr and qr.state == RecipientState.PENDING:
        untried = entry is not None and entry.attempts == 0 and entry.next_attempt_at > now
        state = "scheduled" if untried else "queued"
    read_at = rcpt.read_at
    if read_at is None and rcpt.mdn_disposition == "displayed":
        read_at = rcpt.mdn_at
    if item.state == ItemState.CANCELLED:
        state = "cancelled"
    elif rcpt.recalled_at:
        state = "recalled"
    elif read_at:
        state = "read"
    blocked = ""
    if rcpt.recalled_at:
        blocked = "recalled"
    elif rcpt.kind != RecipientKind.LOCAL:
        blocked = rcpt.kind
    elif read_at:
        blocked = "opened"
    elif not qr or qr.state != RecipientState.DELIVERED:
        blocked = "not_delivered"
    delivered = qr.updated_at if qr and qr.state == RecipientState.DELIVERED else None
    return RecipientStatus(
        address=rcpt.address,
        kind=rcpt.kind,
        state=state,
        delivered_at=delivered,
        read_at=read_at,
        recalled_at=rcpt.recalled_at,
        last_reply=qr.last_reply if qr else "",
        mdn_disposition=rcpt.mdn_disposition,
        recall_blocked=blocked,
    )


def get_item_status(item: OutboxItem) -> ItemStatus:
    queued = _queue_rows(item)
    recipients = [
        _recipient_status(item, r, queued.get(r.address)) for r in item.recipients.order_by("pk")
    ]
    waiting = item.state == ItemState.QUEUED and any(
        e.attempts == 0 and e.state == EntryState.QUEUED for _, e in queued.values()
    )
    return ItemStatus(
        item=item,
        waiting=waiting,
        total=len(recipients),
        read=sum(1 for r in recipients if r.read_at is not None),
        recipients=recipients,
    )


@dataclass(frozen=True, slots=True)
class SentSummary:
    message: int  # the Sent copy's id
    item: int
    total: int
    read: int
    scheduled: bool
    send_at: datetime


def sent_summaries(account: Account, message_ids: list[int]) -> list[SentSummary]:
    """ "n명 중 m명 읽음" for a page of the Sent folder: two queries, whatever the page size."""
    items = list(
        OutboxItem.objects.filter(account=account, sent_copy_id__in=message_ids[:500]).exclude(
            state=ItemState.CANCELLED
        )
    )
    counts: dict[int, list[int]] = {i.pk: [0, 0] for i in items}
    for item_id, read_at, mdn in OutboxRecipient.objects.filter(
        item__in=[i.pk for i in items]
    ).values_list("item_id", "read_at", "mdn_disposition"):
        counts[item_id][0] += 1
        counts[item_id][1] += int(read_at is not None or mdn == "displayed")
    return [
        SentSummary(
            message=i.sent_copy_id or 0,
            item=i.pk,
            total=counts[i.pk][0],
            read=counts[i.pk][1],
            scheduled=i.scheduled and i.send_at > timezone.now(),
            send_at=i.send_at,
        )
        for i in items
    ]


def domain_recall_policy(domain_id: int) -> bool | None:
    """The admin's choice for the domain's senders (None = no row: recall allowed when the
    server allows it, OUTBOX_RECALL_ENABLED)."""
    policy = DomainOutboxPolicy.objects.filter(domain_id=domain_id).first()
    return policy.recall_enabled if policy else None
