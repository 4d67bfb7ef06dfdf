"""Operator actions on the queue (postqueue -f, postsuper -d, and friends): flush, retry,
delete and bounce entries. Called by `manage.py queue`; each takes the entry's row lock so it
never races a worker that holds the lease."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mailcore.delivery import spool
from mailcore.delivery.dsn import DsnRecipient
from mailcore.delivery.dsnparams import RcptDsn
from mailcore.delivery.entries import FINAL_STATES, dispatch
from mailcore.delivery.models import EntryState, QueueEntry, QueueRecipient, RecipientState
from mailcore.delivery.outbound import do_queue_dsn, failure_key
from mailcore.errors import ConflictError, NotFoundError, StorageError


def _locked(queue_id: str) -> QueueEntry:
    entry = QueueEntry.objects.select_for_update().filter(queue_id=queue_id).first()
    if entry is None:
        raise NotFoundError(f"no queue entry {queue_id}")
    now = timezone.now()
    if entry.locked_until and entry.locked_until > now and entry.state == EntryState.QUEUED:
        raise ConflictError(
            f"{queue_id} is being delivered right now; try again shortly", code="queue_busy"
        )
    return entry


def do_flush_queue() -> int:
    """Every queued or held entry becomes due now; the doorbell rings for each. Scheduled
    ones (never tried, due later: a user's 예약발송 or undo window) keep their time, as
    `postqueue -f` leaves held mail alone."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            QueueEntry.objects.filter(state__in=(EntryState.QUEUED, EntryState.HELD))
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .exclude(state=EntryState.QUEUED, attempts=0, next_attempt_at__gt=now)
            .values_list("pk", flat=True)
        )
        QueueEntry.objects.filter(pk__in=ids).update(state=EntryState.QUEUED, next_attempt_at=now)
        for pk in ids:
            transaction.on_commit(partial(dispatch, pk), robust=True)
    return len(ids)


def do_retry_entry(queue_id: str) -> QueueEntry:
    """Make one entry (queued or held) due now and ring the doorbell."""
    with transaction.atomic():
        entry = _locked(queue_id)
        if entry.state == EntryState.DONE:
            raise ConflictError(f"{queue_id} is already done", code="queue_done")
        if entry.state == EntryState.PAUSED:
            raise ConflictError(
                f"{queue_id} is paused because its sender is held; release the account "
                "(admin console: held senders)",
                code="queue_paused",
            )
        entry.state, entry.next_attempt_at = EntryState.QUEUED, timezone.now()
        entry.save(update_fields=["state", "next_attempt_at"])
        transaction.on_commit(lambda: dispatch(entry.pk), robust=True)
    return entry


def do_delete_entry(queue_id: str) -> None:
    """Remove the entry, its rows and its spool file; no DSN (postsuper -d)."""
    with transaction.atomic():
        entry = _locked(queue_id)
        name = entry.spool_name
        entry.delete()
    spool.remove(name)


def do_bounce_entry(queue_id: str, reason: str = "bounced by the mail administrator") -> int:
    """Bounce every pending recipient with one DSN to the sender; returns how many."""
    with transaction.atomic():
        entry = _locked(queue_id)
        pending = [
            r for r in QueueRecipient.objects.filter(entry=entry) if r.state not in FINAL_STATES
        ]
        try:
            data = spool.read(entry.spool_name, size=entry.size, sha256=entry.sha256)
        except StorageError:
            data = b""
        dsn = [
            DsnRecipient(
                r.address,
                "failed",
                "5.0.0",
                f"{reason}; last reply: {r.last_reply}" if r.last_reply else reason,
                orcpt=r.dsn_orcpt,
            )
            for r in pending
            if RcptDsn(r.dsn_notify).wants("FAILURE")  # RFC 3461 §4.1: NOTIFY=NEVER etc.
        ]
        if dsn:
            do_queue_dsn(entry, data, dsn, key=failure_key([r.address for r in pending]))
        QueueRecipient.objects.filter(pk__in=[r.pk for r in pending]).update(
            state=RecipientState.BOUNCED, last_reply=f"5.0.0 {reason}", updated_at=timezone.now()
        )
        entry.state, entry.locked_until = EntryState.DONE, None
        entry.save(update_fields=["state", "locked_until"])
        name = entry.spool_name
    spool.remove(name)
    return len(pending)
