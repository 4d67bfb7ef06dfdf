"""Queue rows whose commit reply was lost: the database committed the row, the connection died
before it said so, SMTP answered 451 and removed the spool file. The client retries after the
451, so such a row must never be delivered; the sweep removes it (postsuper's clean-up of queue
files that were never completed).

A row is taken for one of these only when nothing can be lost by removing it: its spool file is
missing (SMTP writes the file before the row, and removes a file only after its row is done or
gone, so a live row never lacks its file otherwise), it is queued or held, no recipient has a
result, and it is older than QUEUE_UNACKED_GRACE_SECONDS.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mailcore.delivery import spool
from mailcore.delivery.models import EntryState, QueueEntry, QueueRecipient, RecipientState
from mailcore.errors import StorageError

log = logging.getLogger("mailroom")

MAX_PER_SWEEP = 1000


def unacknowledged_candidates(limit: int = MAX_PER_SWEEP) -> list[QueueEntry]:
    """Rows that may be never-acknowledged ones (their spool files are still to be checked):
    queued and never attempted, or held, older than the grace period, no recipient touched."""
    cutoff = timezone.now() - timedelta(seconds=settings.QUEUE_UNACKED_GRACE_SECONDS)
    touched = QueueRecipient.objects.filter(entry=OuterRef("pk")).exclude(
        state=RecipientState.PENDING, last_reply=""
    )
    return list(
        QueueEntry.objects.filter(received_at__lt=cutoff)
        .filter(Q(state=EntryState.QUEUED, attempts=0) | Q(state=EntryState.HELD))
        .filter(~Exists(touched))
        .only("pk", "queue_id", "spool_name", "state", "received_at", "attempts", "sender")
        .order_by("pk")[:limit]
    )


def do_retire_unacknowledged() -> list[str]:
    """Remove every never-acknowledged row (see the module docstring); returns their queue
    ids. Each removal is logged."""
    retired: list[str] = []
    for candidate in unacknowledged_candidates():
        try:
            if spool.exists(candidate.spool_name):
                continue
        except StorageError:
            # Not a name SMTP ever writes (a damaged or hand-edited row): nothing to judge by,
            # so the row is held for the admin, and the other rows are still looked at.
            hold_bad_spool_name(candidate.pk)
            continue
        with transaction.atomic():
            # Re-read under the row lock: a worker may have finished it meanwhile (a done
            # entry's file is removed after its state is committed).
            entry = QueueEntry.objects.select_for_update().filter(pk=candidate.pk).first()
            if entry is None or entry.state not in (EntryState.QUEUED, EntryState.HELD):
                continue
            if spool.exists(entry.spool_name):
                continue
            recipients = list(
                QueueRecipient.objects.filter(entry=entry).values_list("address", flat=True)[:20]
            )
            entry.delete()
        log.warning(
            "%s: removed: queue row never acknowledged (spool file %s missing, state %s, "
            "%d attempts, received %s, from=<%s>, to=%s); the client was answered 4xx and "
            "sends it again",
            entry.queue_id,
            entry.spool_name,
            entry.state,
            entry.attempts,
            entry.received_at.isoformat(timespec="seconds"),
            entry.sender,
            ",".join(f"<{r}>" for r in recipients),
        )
        retired.append(entry.queue_id)
    return retired


def hold_bad_spool_name(pk: int) -> None:
    """Hold the entry whose spool_name is malformed, with a last_error that says so; logged
    once (an entry already held for it is left as it is)."""
    with transaction.atomic():
        entry = QueueEntry.objects.select_for_update().filter(pk=pk).first()
        if entry is None or entry.state == EntryState.DONE:
            return
        error = f"bad spool name {entry.spool_name!r}: the row does not name a spool file"
        if entry.state == EntryState.HELD and entry.last_error == error:
            return
        entry.state, entry.last_error, entry.locked_until = EntryState.HELD, error, None
        entry.save(update_fields=["state", "last_error", "locked_until"])
    log.error(
        "%s: held: %s (from=<%s>); see it with mailq, remove it with queue delete",
        entry.queue_id,
        error,
        entry.sender,
    )
