"""The queue: accept a message (spool + row, the promise behind SMTP's 250), deliver it
(alias expansion, Maildir + rows, idempotent per recipient), and sweep what is due.

Each attempt is recorded before it is made; a killed worker costs a lease period, never mail.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.directory.queries import expand_recipient
from mailcore.delivery import spool
from mailcore.delivery.models import (
    DeliveryAttempt,
    Direction,
    EntryState,
    QueueEntry,
    QueueRecipient,
    RecipientState,
)
from mailcore.errors import MailcoreError, StorageError
from mailcore.faults import fault_point
from mailcore.mime import ParsedMessage, parse_message
from mailcore.store.actions import do_deliver
from mailcore.store.maildir import safe_hostname
from mailcore.store.models import Folder, Source, SpecialUse

log = logging.getLogger("mailroom")

FINAL_STATES = (RecipientState.DELIVERED, RecipientState.BOUNCED)


def dispatch(entry_id: int) -> None:
    """Ring the doorbell. A failure here is logged only: the sweep will find the row."""
    from mailcore.delivery.tasks import deliver_entry

    try:
        deliver_entry.delay(entry_id)
    except Exception:
        log.warning("broker unavailable; entry %s waits for the sweep", entry_id, exc_info=True)


def do_enqueue(*, sender: str, recipients: list[str], data: bytes, client_ip: str | None = None,
               client_helo: str = "", smtputf8: bool = False,
               authenticated_as: Account | None = None,
               direction: str = Direction.INBOUND, origin: str = "",
               queue_id: str | None = None) -> QueueEntry:
    """Spool `data` durably and commit its queue row; only then may the caller say 250.

    Raises StorageError (spool) or a database error (row); in either case nothing is queued
    and no spool file is left behind.
    """
    queue_id = queue_id or spool.new_queue_id()
    stored = spool.write(queue_id, data)
    now = timezone.now()
    try:
        with transaction.atomic():
            entry = QueueEntry.objects.create(
                queue_id=queue_id, direction=direction, sender=sender, spool_name=stored.name,
                size=stored.size, sha256=stored.sha256, client_ip=client_ip,
                client_helo=client_helo[:255], smtputf8=smtputf8,
                authenticated_as=authenticated_as, received_at=now, next_attempt_at=now,
                origin=origin,
            )
            QueueRecipient.objects.bulk_create(
                QueueRecipient(entry=entry, address=r) for r in dict.fromkeys(recipients)
            )
            transaction.on_commit(lambda: dispatch(entry.pk), robust=True)
    except BaseException:
        spool.remove(stored.name)
        raise
    log.info("%s: from=<%s>, size=%d, nrcpt=%d, client=%s", queue_id, sender, stored.size,
             len(recipients), client_ip)
    return entry


def retry_delay(attempt: int) -> timedelta:
    base, cap = settings.DELIVERY_RETRY_BASE_SECONDS, settings.DELIVERY_RETRY_MAX_SECONDS
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempt - 1))))


def _claim(entry_id: int, worker: str) -> tuple[QueueEntry, DeliveryAttempt] | None:
    """Take the entry's lease and record the attempt (R3: before making it)."""
    now = timezone.now()
    with transaction.atomic():
        qs = QueueEntry.objects.filter(pk=entry_id, state=EntryState.QUEUED).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        entry = qs.first()
        if entry is None:
            return None
        entry.attempts += 1
        entry.locked_until = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        entry.next_attempt_at = now + retry_delay(entry.attempts)
        entry.save(update_fields=["attempts", "locked_until", "next_attempt_at"])
        attempt = DeliveryAttempt.objects.create(
            entry=entry, number=entry.attempts, started_at=now, worker=worker[:200]
        )
    return entry, attempt


def local_key(entry: QueueEntry, account: Account) -> str:
    """Maildir base name derived from (queue entry, recipient): the idempotency key (R4)."""
    digest = hashlib.sha256(account.address.encode()).hexdigest()[:16]
    return f"{entry.queue_id}.{digest}.{safe_hostname(settings.MAIL_HOSTNAME)},S={entry.size}"


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    reply: str


def do_process_entry(entry_id: int, *, worker: str = "") -> str:
    """One delivery attempt of a queue entry. Returns what happened, for logs and tests."""
    claimed = _claim(entry_id, worker)
    if claimed is None:
        return "skipped"
    entry, attempt = claimed
    if entry.attempts > settings.DELIVERY_MAX_ATTEMPTS:
        with transaction.atomic():
            _finish(entry, attempt, state=EntryState.HELD, result="held",
                    detail=f"held after {entry.attempts - 1} attempts")
        return "held"
    try:
        data = spool.read(entry.spool_name, size=entry.size, sha256=entry.sha256)
    except StorageError as exc:
        # A spool file that is missing or does not match its row is never delivered.
        with transaction.atomic():
            _finish(entry, attempt, state=EntryState.HELD, result="held", detail=str(exc))
        return "held"
    recipients = list(entry.recipients.all())
    pending = [r for r in recipients if r.state not in FINAL_STATES]
    if entry.direction == Direction.OUTBOUND:
        outcomes = _relay_outbound(pending)
    else:
        parsed = parse_message(data)
        outcomes = {r.pk: _deliver_inbound(entry, r, data, parsed) for r in pending}
    open_left = any(o.state not in FINAL_STATES for o in outcomes.values())
    replies = "; ".join(o.reply for o in outcomes.values() if o.state == RecipientState.DEFERRED)
    now = timezone.now()
    with transaction.atomic():
        for rcpt_id, outcome in outcomes.items():
            QueueRecipient.objects.filter(pk=rcpt_id).update(
                state=outcome.state, last_reply=outcome.reply[:2000], updated_at=now
            )
        _finish(entry, attempt, state=EntryState.QUEUED if open_left else EntryState.DONE,
                result="deferred" if open_left else "done", detail=replies or "ok")
    if not open_left:
        spool.remove(entry.spool_name)
    for rcpt_id, outcome in outcomes.items():
        log.info("%s: rcpt#%s status=%s (%s)", entry.queue_id, rcpt_id, outcome.state, outcome.reply)
    return "deferred" if open_left else "done"


def _finish(entry: QueueEntry, attempt: DeliveryAttempt, *, state: str, result: str,
            detail: str) -> None:
    """Close the attempt and release the lease (callers wrap it in their transaction)."""
    QueueEntry.objects.filter(pk=entry.pk).update(
        state=state, locked_until=None, last_error="" if result == "done" else detail[:2000]
    )
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        finished_at=timezone.now(), result=result, detail=detail[:4000]
    )


def _deliver_inbound(entry: QueueEntry, rcpt: QueueRecipient, data: bytes,
                     parsed: ParsedMessage) -> Outcome:
    expansion = expand_recipient(rcpt.address)
    if not expansion.accounts and not expansion.external:
        return Outcome(RecipientState.BOUNCED,
                       "5.1.1 " + ("; ".join(expansion.problems) or "no such mailbox"))
    delivered: list[str] = []
    for account in expansion.accounts:
        inbox = Folder.objects.filter(account=account, special_use=SpecialUse.INBOX).first()
        if inbox is None:
            return Outcome(RecipientState.DEFERRED, f"4.3.0 {account.address} has no INBOX")
        try:
            do_deliver(account, inbox, data, key=local_key(entry, account), source=Source.SMTP,
                       parsed=parsed, internal_date=entry.received_at)
        except (MailcoreError, OSError) as exc:
            return Outcome(RecipientState.DEFERRED, f"4.3.0 {account.address}: {exc}")
        delivered.append(account.address)
        fault_point("deliver.after_commit")
    if expansion.external:
        _forward(entry, rcpt, expansion.external, data)
        delivered.append("forwarded to " + ", ".join(expansion.external))
    return Outcome(RecipientState.DELIVERED, "2.0.0 " + ", ".join(delivered))


def _forward(entry: QueueEntry, rcpt: QueueRecipient, targets: list[str], data: bytes) -> None:
    """An alias pointing outside: queue an outbound copy (once per original recipient)."""
    origin = f"fwd:{entry.queue_id}:{rcpt.pk}"
    if QueueEntry.objects.filter(origin=origin).exists():
        return
    do_enqueue(sender=entry.sender, recipients=targets, data=data, origin=origin,
               smtputf8=entry.smtputf8, direction=Direction.OUTBOUND)


def _relay_outbound(pending: list[QueueRecipient]) -> dict[int, Outcome]:
    # TODO(sending): remote delivery by MX arrives with the outbound relay; until then the
    # entry stays queued and visible in mailq, and is retried on schedule.
    return {
        rcpt.pk: Outcome(RecipientState.DEFERRED, "4.4.0 outbound relay is not enabled yet")
        for rcpt in pending
    }


def due_entries(limit: int = 1000, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        QueueEntry.objects.filter(state=EntryState.QUEUED, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def do_sweep(*, dispatch_due: bool = True) -> dict[str, int]:
    """Re-ring the bell for every due entry; drop spool files no committed row claims."""
    ids = due_entries()
    if dispatch_due:
        for pk in ids:
            dispatch(pk)
    removed = 0
    for name, _mtime in spool.iter_files(settings.SPOOL_ORPHAN_SECONDS):
        entry = QueueEntry.objects.filter(spool_name=name).only("state").first()
        if entry is None or entry.state == EntryState.DONE:
            spool.remove(name)
            removed += 1
    return {"dispatched": len(ids), "orphans_removed": removed}
