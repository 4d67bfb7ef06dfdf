"""Outbox actions: record what a webmail/API send became (item + recipients, in the send's own
transaction), undo or cancel it before its entries are tried (back to Drafts), send it now,
reschedule it, recall delivered unread local copies, and set the outbox preferences.

Every change to the queue takes the entries' row locks and checks `attempts == 0`: the
worker's claim (delivery.actions._claim) takes the same locks and raises attempts, so a
message is either cancelled or sent, never both, never twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from mailcore.delivery import spool
from mailcore.delivery.doorbell import doorbell
from mailcore.delivery.entries import dispatch
from mailcore.delivery.models import EntryState, QueueEntry
from mailcore.delivery.submit import ORIGIN_PREFIX, Submission
from mailcore.directory.actions import do_record_audit
from mailcore.directory.models import Account, Domain
from mailcore.directory.queries import Resolution, resolve_recipient
from mailcore.errors import ConflictError, InvalidMessageError, NotFoundError, UserError
from mailcore.outbox.models import (
    UNDO_CHOICES,
    DomainOutboxPolicy,
    ItemState,
    OutboxItem,
    OutboxPreferences,
    OutboxRecipient,
    RecipientKind,
)
from mailcore.outbox.queries import (
    domain_recall_policy,
    get_outbox_preferences,
    local_copy,
    scheduled_count,
)
from mailcore.store.actions import do_append, do_expunge
from mailcore.store.models import Message, Source, SpecialUse
from mailcore.store.queries import get_folder_by_special_use, read_message_bytes

log = logging.getLogger("mailroom")


class RecallDisabledError(ConflictError):
    code = "recall_disabled"


# --- sending -------------------------------------------------------------------------------


def check_send_at(account: Account, send_at: datetime) -> None:
    """A scheduled time must be ahead, within OUTBOX_MAX_SCHEDULE_DAYS, and the account
    under OUTBOX_MAX_SCHEDULED waiting messages (InvalidMessageError on field send_at)."""
    _check_ahead(send_at)
    limit = settings.OUTBOX_MAX_SCHEDULED
    if limit and scheduled_count(account) >= limit:
        raise InvalidMessageError(
            f"you have {limit} scheduled messages waiting; send or cancel some first",
            field="send_at",
        )


def undo_seconds(account: Account) -> int:
    return get_outbox_preferences(account).undo_seconds


def _classify(address: str) -> tuple[str, Account | None]:
    found = resolve_recipient(address)
    if found.resolution == Resolution.ACCOUNT:
        return RecipientKind.LOCAL, Account.objects.filter(address=found.address).first()
    if found.resolution == Resolution.NOT_LOCAL:
        return RecipientKind.REMOTE, None
    return RecipientKind.GROUP, None


def record_submission(
    submission: Submission,
    *,
    acting_account: Account,
    send_at: datetime,
    scheduled: bool,
    receipt_requested: bool,
) -> OutboxItem:
    """The outbox rows of a send; runs inside do_submit's transaction (its `within`)."""
    sent = submission.sent_message
    origin = submission.entries[0].origin if submission.entries else ""
    item = OutboxItem.objects.create(
        account=acting_account,
        submission_id=origin.removeprefix(ORIGIN_PREFIX),
        sent_copy=sent,
        message_id=sent.message_id if sent else "",
        subject=sent.subject if sent else "",
        send_at=send_at,
        scheduled=scheduled,
        receipt_requested=receipt_requested,
        created_at=timezone.now(),
    )
    rows = []
    for entry in submission.entries:
        for address in entry.recipients.values_list("address", flat=True).order_by("pk"):
            kind, account = _classify(address)
            rows.append(
                OutboxRecipient(
                    item=item,
                    address=address,
                    kind=kind if account or kind != RecipientKind.LOCAL else RecipientKind.GROUP,
                    account=account,
                    message_id=item.message_id if account else "",
                )
            )
    OutboxRecipient.objects.bulk_create(rows)
    return item


# --- before the entries are tried: undo, cancel, send now, reschedule ------------------------


_UNTRIED = (EntryState.QUEUED, EntryState.PAUSED)


def _lock_untried(item: OutboxItem) -> list[QueueEntry]:
    """The item's entries, locked; ConflictError('already_sent') once any was tried."""
    if item.state != ItemState.QUEUED:
        raise ConflictError("this message was cancelled already", code="already_cancelled")
    qs = QueueEntry.objects.filter(origin=f"{ORIGIN_PREFIX}{item.submission_id}").order_by("pk")
    if connection.features.has_select_for_update:
        qs = qs.select_for_update()
    entries = list(qs)
    # Paused (its sender is held: delivery.containment) and untried is still the user's to
    # take back; sending now or rescheduling leaves it paused.
    if not entries or any(e.attempts > 0 or e.state not in _UNTRIED for e in entries):
        raise ConflictError("the message has been sent already", code="already_sent")
    return entries


def _take_untried(entries: list[QueueEntry]) -> QuerySet[QueueEntry]:
    """The entries, still untried, to change in the caller's transaction; ConflictError if a
    worker's claim got to one meanwhile (SQLite has no row locks: this re-check is its
    guard, as `attempts = 0` in the statement itself)."""
    qs = QueueEntry.objects.filter(pk__in=[e.pk for e in entries], attempts=0, state__in=_UNTRIED)
    if qs.count() != len(entries):
        raise ConflictError("the message has been sent already", code="already_sent")
    return qs


@dataclass(frozen=True, slots=True)
class Cancelled:
    draft: Message | None  # the message back in Drafts (None if its Sent copy was gone)


def do_cancel_send(*, acting_account: Account, item: OutboxItem) -> Cancelled:
    """Undo send / cancel a scheduled message: its entries go (ConflictError 'already_sent'
    if a worker took one), then the Sent copy moves to Drafts as it was (Bcc and
    attachments included), to be reopened in compose."""
    if item.account_id != acting_account.pk:
        raise NotFoundError("outbox item not found")
    with transaction.atomic(durable=True):
        item = OutboxItem.objects.select_for_update().get(pk=item.pk)
        entries = _lock_untried(item)
        names = [e.spool_name for e in entries]
        _take_untried(entries).delete()
        item.state = ItemState.CANCELLED
        item.save(update_fields=["state"])
    for name in names:
        spool.remove(name)
    sent = (
        Message.objects.select_related("folder").filter(pk=item.sent_copy_id).first()
        if item.sent_copy_id is not None
        else None
    )
    if sent is None:
        return Cancelled(None)
    data = read_message_bytes(sent)
    drafts = get_folder_by_special_use(acting_account, SpecialUse.DRAFTS)
    draft = do_append(
        acting_account=acting_account,
        folder=drafts,
        data=data,
        source=Source.API,
        flags=["draft", "seen"],
    )
    do_expunge(acting_account=acting_account, messages=[sent])
    log.info("outbox %s: cancelled, back in Drafts as %s", item.submission_id, draft.pk)
    return Cancelled(draft)


def do_reschedule(
    *, acting_account: Account, item: OutboxItem, send_at: datetime | None
) -> OutboxItem:
    """Move the entries' time (send_at None: now, "send now"); only before they are tried."""
    if item.account_id != acting_account.pk:
        raise NotFoundError("outbox item not found")
    if send_at is not None:
        _check_ahead(send_at)
    when = send_at or timezone.now()
    with transaction.atomic(durable=True):
        item = OutboxItem.objects.select_for_update().get(pk=item.pk)
        entries = _lock_untried(item)
        _take_untried(entries).update(next_attempt_at=when, received_at=when)
        item.send_at = when
        item.scheduled = item.scheduled or send_at is not None
        item.save(update_fields=["send_at", "scheduled"])
        for entry in entries:
            if send_at is None:
                transaction.on_commit(partial(dispatch, entry.pk), robust=True)
            else:
                wait = (send_at - timezone.now()).total_seconds()
                transaction.on_commit(partial(doorbell.ring_later, entry.pk, wait), robust=True)
    return item


def _check_ahead(send_at: datetime) -> None:
    now = timezone.now()
    if send_at <= now:
        raise InvalidMessageError("the scheduled time has passed", field="send_at")
    days = settings.OUTBOX_MAX_SCHEDULE_DAYS
    if days and send_at > now + timedelta(days=days):
        raise InvalidMessageError(f"at most {days} days ahead", field="send_at")


# --- after delivery: recall -----------------------------------------------------------------


def recall_enabled(account: Account) -> bool:
    if not settings.OUTBOX_RECALL_ENABLED:
        return False
    return domain_recall_policy(account.domain_id) is not False


@dataclass(frozen=True, slots=True)
class RecallResult:
    address: str
    recalled: bool
    reason: str  # "" | remote | group | opened | not_delivered | gone | recalled_already


def do_recall(*, acting_account: Account, item: OutboxItem) -> list[RecallResult]:
    """Recall (발송취소): each LOCAL recipient's copy that is still unopened is expunged
    through the store (tombstone + change notice: IMAP and the web see it vanish) with an
    audit row; every other recipient gets the reason it cannot be recalled."""
    if item.account_id != acting_account.pk:
        raise NotFoundError("outbox item not found")
    if not recall_enabled(acting_account):
        raise RecallDisabledError("recall is turned off for your domain")
    if item.state != ItemState.QUEUED:
        raise ConflictError("this message was cancelled", code="already_cancelled")
    rcpts = item.recipients.select_related("account").order_by("pk")
    return [_recall_one(acting_account, item, rcpt) for rcpt in rcpts]


def _recall_one(sender: Account, item: OutboxItem, rcpt: OutboxRecipient) -> RecallResult:
    def refused(reason: str) -> RecallResult:
        return RecallResult(rcpt.address, False, reason)

    if rcpt.recalled_at is not None:
        return refused("recalled_already")
    if rcpt.kind != RecipientKind.LOCAL or rcpt.account is None:
        return refused("remote" if rcpt.kind == RecipientKind.REMOTE else "group")
    if rcpt.read_at is not None:
        return refused("opened")
    copy = local_copy(item, rcpt)
    if copy is None:
        delivered = QueueEntry.objects.filter(
            origin=f"{ORIGIN_PREFIX}{item.submission_id}",
            recipients__address=rcpt.address,
            recipients__state="delivered",
        ).exists()
        return refused("gone" if delivered else "not_delivered")
    if copy.seen:
        return refused("opened")
    with transaction.atomic():
        # The recipient's row, locked: opened meanwhile means it stays.
        fresh = Message.objects.select_for_update().filter(pk=copy.pk, seen=False).first()
        if fresh is None:
            return refused("opened")
        do_expunge(acting_account=rcpt.account, messages=[copy])
        rcpt.recalled_at = timezone.now()
        rcpt.save(update_fields=["recalled_at"])
        do_record_audit(
            actor=sender.address,
            action="message.recall",
            target=rcpt.address,
            domain=Domain.objects.filter(pk=rcpt.account.domain_id)
            .values_list("name", flat=True)
            .first()
            or "",
            detail={"message_id": item.message_id, "submission": item.submission_id},
        )
    log.info("outbox %s: recalled from %s", item.submission_id, rcpt.address)
    return RecallResult(rcpt.address, True, "")


# --- preferences ----------------------------------------------------------------------------


def do_set_outbox_preferences(
    *,
    acting_account: Account,
    undo_seconds: int | None = None,
    share_read_status: bool | None = None,
    reset_share: bool = False,
) -> OutboxPreferences:
    prefs = get_outbox_preferences(acting_account)
    if undo_seconds is not None:
        if undo_seconds not in UNDO_CHOICES:
            raise UserError(f"undo_seconds must be one of {UNDO_CHOICES}")
        prefs.undo_seconds = undo_seconds
    if share_read_status is not None or reset_share:
        prefs.share_read_status = share_read_status
    prefs.save()
    return prefs


def do_set_recall_policy(*, domain: Domain, enabled: bool | None) -> DomainOutboxPolicy | None:
    """May the domain's senders recall (발송취소)? None = back to the server default."""
    if enabled is None:
        DomainOutboxPolicy.objects.filter(domain=domain).delete()
        return None
    policy, _ = DomainOutboxPolicy.objects.update_or_create(
        domain=domain, defaults={"recall_enabled": enabled}
    )
    return policy
