"""Crash recovery in the queue sweep: leases of workers that are gone are released (and those
of live workers kept, however long), and rows whose commit reply was lost (SMTP said 451 and
removed the spool file) are removed instead of ending up held forever."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailcore.delivery.actions import _claim, do_enqueue, do_sweep
from mailcore.delivery.models import (
    DeliveryAttempt,
    DeliveryWorker,
    QueueEntry,
    RecipientState,
)
from mailcore.delivery.workers import host_key, process_started
from tests.conftest import run_queue

pytestmark = pytest.mark.django_db
MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


def mailq() -> str:
    out = StringIO()
    call_command("mailq", stdout=out)
    return out.getvalue()


def leased_by(worker: DeliveryWorker, settings) -> QueueEntry:  # type: ignore[no-untyped-def]
    settings.DELIVERY_LEASE_SECONDS = 600
    entry = do_enqueue(sender="bob@remote.example", recipients=["alice@example.com"], data=MSG)
    [(claimed, _)] = _claim([entry.pk], worker.name)
    assert claimed.locked_until and claimed.locked_until > timezone.now() + timedelta(minutes=9)
    return claimed


def worker_row(name: str, *, pid: int, key: str, age: float = 0.0) -> DeliveryWorker:
    now = timezone.now()
    return DeliveryWorker.objects.create(
        name=name,
        host="h",
        host_key=key,
        pid=pid,
        pid_started=process_started(pid) or 0,
        started_at=now - timedelta(seconds=age),
        heartbeat_at=now - timedelta(seconds=age),
    )


def gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_worker_elsewhere_that_went_silent_loses_its_lease(alice, settings) -> None:
    settings.WORKER_STALE_SECONDS = 90
    silent = worker_row("other-host:7:aa", pid=7, key="another-machine", age=91)
    busy = worker_row("other-host:8:bb", pid=8, key="another-machine", age=5)
    lost = leased_by(silent, settings)
    kept = leased_by(busy, settings)
    result = do_sweep(dispatch_due=False)
    assert result["released"] == 1
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.locked_until is None and lost.next_attempt_at <= timezone.now()
    assert kept.locked_until and kept.locked_until > timezone.now() + timedelta(minutes=9)
    assert DeliveryAttempt.objects.get(entry=lost).result == "worker died"
    assert DeliveryAttempt.objects.get(entry=kept).result == ""
    assert list(DeliveryWorker.objects.values_list("name", flat=True)) == [busy.name]
    assert run_queue() == ["done"]  # the released entry is due and delivered now
    lost.refresh_from_db()
    assert lost.state == "done" and lost.attempts == 2


def test_a_worker_on_this_machine_whose_process_is_gone_loses_its_lease_at_once(
    alice, settings
) -> None:
    here = host_key()
    assert here  # Linux: /proc tells
    dead = worker_row("here:dead", pid=gone_pid(), key=here)  # heartbeat fresh
    alive = worker_row("here:alive", pid=os.getpid(), key=here)
    lost = leased_by(dead, settings)
    kept = leased_by(alive, settings)
    assert do_sweep(dispatch_due=False)["released"] == 1
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.locked_until is None and kept.locked_until is not None


def test_a_lease_without_a_registered_worker_waits_for_its_expiry(alice, settings) -> None:
    """Claims made outside a worker process (tests, a shell) keep the plain lease."""
    entry = leased_by(DeliveryWorker(name="test"), settings)
    assert do_sweep(dispatch_due=False)["released"] == 0
    entry.refresh_from_db()
    assert entry.locked_until is not None


def lost_reply(settings, **changes: object) -> QueueEntry:  # type: ignore[no-untyped-def]
    """What a commit whose reply was lost leaves: the row, but SMTP removed the spool file."""
    entry = do_enqueue(sender="bob@remote.example", recipients=["alice@example.com"], data=MSG)
    (Path(settings.SPOOL_DIR) / entry.spool_name).unlink()
    changes.setdefault("received_at", timezone.now() - timedelta(minutes=5))
    QueueEntry.objects.filter(pk=entry.pk).update(**changes)
    return entry


def test_a_row_whose_commit_was_never_acknowledged_is_removed(alice, settings, caplog) -> None:
    entry = lost_reply(settings)
    with caplog.at_level(logging.WARNING, logger="mailroom"):
        result = do_sweep(dispatch_due=False)
    assert result["unacknowledged_removed"] == 1
    assert not QueueEntry.objects.filter(pk=entry.pk).exists()
    assert f"{entry.queue_id}: removed: queue row never acknowledged" in caplog.text
    assert "Mail queue is empty" in mailq()


def test_a_never_acknowledged_row_a_worker_already_held_is_removed_too(alice, settings) -> None:
    entry = lost_reply(settings)
    assert run_queue() == ["held"]  # the worker finds no spool file: held, never delivered
    assert do_sweep(dispatch_due=False)["unacknowledged_removed"] == 1
    assert not QueueEntry.objects.filter(pk=entry.pk).exists()
    assert "Mail queue is empty" in mailq()


def test_rows_that_may_hold_real_mail_are_left_alone(alice, settings) -> None:
    fresh = lost_reply(settings, received_at=timezone.now())  # inside the grace period
    touched = lost_reply(settings, state="held")
    touched.recipients.update(state=RecipientState.DEFERRED, last_reply="4.2.2 mailbox full")
    intact = do_enqueue(sender="a@remote.example", recipients=["alice@example.com"], data=MSG)
    QueueEntry.objects.filter(pk=intact.pk).update(
        state="held", received_at=timezone.now() - timedelta(hours=1)
    )
    assert do_sweep(dispatch_due=False)["unacknowledged_removed"] == 0
    assert QueueEntry.objects.filter(pk__in=[fresh.pk, touched.pk, intact.pk]).count() == 3


def test_a_row_with_a_malformed_spool_name_is_held_and_the_sweep_goes_on(
    alice, settings, caplog
) -> None:
    # A hand-edited (or damaged) row whose spool_name is not a spool name: before, the sweep
    # raised StorageError("bad spool name …") on it every cycle and did nothing else.
    bad = do_enqueue(sender="bob@remote.example", recipients=["alice@example.com"], data=MSG)
    QueueEntry.objects.filter(pk=bad.pk).update(
        spool_name="../../etc/passwd", received_at=timezone.now() - timedelta(minutes=5)
    )
    lost = lost_reply(settings)
    due = do_enqueue(sender="a@remote.example", recipients=["alice@example.com"], data=MSG)
    with caplog.at_level(logging.ERROR, logger="mailroom"):
        result = do_sweep(dispatch_due=False)
    assert result["unacknowledged_removed"] == 1  # the others were still looked at
    assert not QueueEntry.objects.filter(pk=lost.pk).exists()
    assert result["dispatched"] == 1
    bad.refresh_from_db()
    assert bad.state == "held"
    assert bad.last_error == "bad spool name '../../etc/passwd': the row does not name a spool file"
    assert f"{bad.queue_id}: held: bad spool name" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="mailroom"):
        assert do_sweep(dispatch_due=False)["unacknowledged_removed"] == 0  # still no raise
    assert "bad spool name" not in caplog.text  # said once, not every cycle
    assert run_queue() == ["done"]  # the good entry is delivered
    assert QueueEntry.objects.get(pk=due.pk).state == "done"
    assert QueueEntry.objects.get(pk=bad.pk).state == "held"
    assert bad.queue_id in mailq()
    call_command("queue", "delete", bad.queue_id, stdout=StringIO())  # and the admin can drop it
    assert not QueueEntry.objects.filter(pk=bad.pk).exists()
