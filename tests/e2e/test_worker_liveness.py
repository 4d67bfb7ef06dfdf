"""A worker killed with SIGKILL in the middle of a delivery: the next worker to start sees that
its process is gone and delivers the entry at once, though the dead worker's lease (10 min
here) has most of its time left. One copy, none lost. While a worker is alive, its lease holds."""

from __future__ import annotations

import signal
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from mailcore.delivery.actions import do_sweep
from mailcore.delivery.models import DeliveryAttempt, DeliveryWorker, QueueEntry
from mailcore.delivery.workers import dead_workers
from mailcore.store.models import Message
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: kill -9\r\n\r\nbody\r\n"
LEASE = "600"


def maildir_new(settings, account) -> list[Path]:  # type: ignore[no-untyped-def]
    return list((Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "new").iterdir())


def test_a_starting_worker_takes_over_the_lease_of_a_killed_one_at_once(
    alice, smtp_server, celery_worker_process, settings
) -> None:
    settings.DELIVERY_LEASE_SECONDS = int(LEASE)
    doomed = celery_worker_process("deliver.after_file:hang", DELIVERY_LEASE_SECONDS=LEASE)
    with smtplib.SMTP(*smtp_server, timeout=10) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
    # The worker is in the middle of the delivery: its Maildir file is written, nothing more.
    wait_for(lambda: len(maildir_new(settings, alice)) == 1)
    entry = QueueEntry.objects.get()
    assert (entry.state, entry.attempts) == ("queued", 1)
    assert entry.locked_until and entry.locked_until > timezone.now() + timedelta(minutes=9)
    [worker] = DeliveryWorker.objects.all()
    assert DeliveryAttempt.objects.get().worker == worker.name
    # Alive (heartbeat fresh, process there): nobody takes its lease.
    assert dead_workers() == []
    assert do_sweep(dispatch_due=False)["released"] == 0

    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait(30) == -signal.SIGKILL
    celery_worker_process(DELIVERY_LEASE_SECONDS=LEASE)
    wait_for(lambda: QueueEntry.objects.get().state == "done")  # well inside the 10 min lease
    entry.refresh_from_db()
    assert entry.attempts == 2 and entry.recipients.get().state == "delivered"
    first, second = DeliveryAttempt.objects.order_by("number")
    assert first.result == "worker died" and second.result == "done"
    assert len(maildir_new(settings, alice)) == 1 and Message.objects.count() == 1
    assert not DeliveryWorker.objects.filter(name=worker.name).exists()
