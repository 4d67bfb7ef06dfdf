"""Scheduled send end to end with real processes: the message is scheduled through the API,
the whole stack (worker, beat, broker contents) goes away and comes back, and the beat's due
scan sends it within seconds of its time; a worker killed at the due time costs a retry,
never a second copy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from mailcore.delivery.actions import do_dispatch_untried
from mailcore.delivery.models import QueueEntry
from mailcore.directory.models import Account
from mailcore.store.models import Message, SpecialUse
from tests.api.helpers import token_client
from tests.conftest import database_url, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def inbox(account: Account) -> list[Message]:
    return list(Message.objects.filter(account=account, folder__special_use=SpecialUse.INBOX))


@pytest.fixture
def beat_process(settings, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "BROKER_DIR": str(settings.BROKER_DIR),
            "OUTBOX_DUE_SCAN_SECONDS": "1",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webmail",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
            cwd=Path(__file__).resolve().parent.parent.parent,
            env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def schedule(alice: Account, seconds: float) -> tuple[int, object]:
    send_at = timezone.now() + timedelta(seconds=seconds)
    response = token_client(alice).post(
        "/api/v1/messages/send",
        {"to": ["bob@example.com"], "subject": "예약", "text": "x", "send_at": send_at.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["outbox"]["id"], send_at


def test_scheduled_send_survives_a_restart_and_goes_on_time(
    alice: Account, bob: Account, celery_worker_process, beat_process
) -> None:  # type: ignore[no-untyped-def]
    from webmail.celery import app

    first = celery_worker_process()
    _, send_at = schedule(alice, 8)
    # The stack goes down: worker stopped, whatever the broker held is gone, connections closed.
    first.terminate()
    first.wait(30)
    app.control.purge()
    connection.close()
    celery_worker_process()
    beat_process()
    time.sleep(2)
    assert inbox(bob) == []  # not before its time
    wait_for(lambda: len(inbox(bob)) == 1, timeout=60)
    arrived = timezone.now()
    # Within seconds: one due scan (1 s here), the broker's hop (the embedded filesystem
    # broker polls) and a busy 2-core CI machine; on a quiet one it is 1-3 s.
    assert arrived - send_at < timedelta(seconds=15), arrived - send_at
    wait_for(lambda: QueueEntry.objects.get().state == "done")  # bookkeeping follows the copy
    assert QueueEntry.objects.get().attempts == 1
    time.sleep(2)
    assert len(inbox(bob)) == 1


@pytest.mark.parametrize("fault", ["deliver.after_file", "deliver.after_commit"])
def test_worker_killed_at_the_due_time_sends_exactly_once(
    alice: Account, bob: Account, celery_worker_process, settings, fault: str
) -> None:  # type: ignore[no-untyped-def]
    settings.DELIVERY_LEASE_SECONDS = 2
    doomed = celery_worker_process(fault)
    _, send_at = schedule(alice, 2)
    time.sleep(max(0.0, (send_at - timezone.now()).total_seconds()) + 0.2)  # type: ignore[operator]
    # The beat's due scan at the due time; on a busy machine the worker's own loop may have
    # claimed it a moment before (then the scan finds it leased). Either way it goes once:
    assert do_dispatch_untried() in (0, 1)
    doomed.wait(60)
    assert doomed.returncode == 137  # died mid-delivery, like a kill -9
    celery_worker_process()  # takes the dead worker's entry over at once
    wait_for(lambda: QueueEntry.objects.get().state == "done")
    entry = QueueEntry.objects.get()
    assert entry.attempts == 2 and entry.recipients.get().state == "delivered"
    assert len(inbox(bob)) == 1
    assert (
        len(list((Path(settings.MAIL_ROOT) / bob.storage_path / "Maildir" / "new").iterdir())) == 1
    )
