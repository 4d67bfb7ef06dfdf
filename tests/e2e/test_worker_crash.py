"""A real Celery worker is killed in the middle of a delivery (at a named crash point); the
sweep re-dispatches the entry after the lease and a second worker finishes it: one copy, none
lost. Also: the broker loses the doorbell, and the sweep alone gets the mail delivered."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from mailcore.delivery.actions import do_sweep
from mailcore.delivery.models import QueueEntry
from mailcore.store.models import Message

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: crash test\r\n\r\nbody\r\n"


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(cond: Callable[[], bool], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.fixture
def worker(settings) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    from webmail.celery import app

    app.control.purge()  # leftovers of earlier runs are not this test's business
    procs: list[subprocess.Popen[bytes]] = []

    def start(fault: str = "") -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": database_url(), "MAIL_ROOT": str(settings.MAIL_ROOT),
               "SPOOL_DIR": str(settings.SPOOL_DIR), "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
               "BROKER_DIR": str(settings.BROKER_DIR), "DELIVERY_LEASE_SECONDS": "2",
               "DELIVERY_RETRY_BASE_SECONDS": "1",
               "MAILROOM_FAULT": fault}
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "webmail", "worker", "-Q", "mailroom",
             "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel", "WARNING"], cwd=ROOT, env=env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def maildir_new(settings, account) -> list[Path]:  # type: ignore[no-untyped-def]
    return list((Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "new").iterdir())


@pytest.mark.parametrize("fault", ["deliver.after_file", "deliver.after_commit"])
def test_worker_killed_mid_delivery(alice, smtp_server, worker, settings, fault: str) -> None:
    settings.DELIVERY_LEASE_SECONDS = 2
    settings.DELIVERY_RETRY_BASE_SECONDS = 1  # the attempt recorded before the crash sets it
    doomed = worker(fault)
    with smtplib.SMTP(*smtp_server, timeout=10) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
    doomed.wait(60)
    assert doomed.returncode == 137  # died at the crash point, like a kill -9
    entry = QueueEntry.objects.get()
    assert (entry.state, entry.attempts) == ("queued", 1)
    assert len(maildir_new(settings, alice)) == 1  # the file made it before the crash
    worker()
    time.sleep(2.1)  # the dead worker's lease runs out
    assert do_sweep()["dispatched"] == 1
    wait_for(lambda: QueueEntry.objects.get().state == "done")
    entry.refresh_from_db()
    assert entry.attempts == 2 and entry.recipients.get().state == "delivered"
    assert len(maildir_new(settings, alice)) == 1 and Message.objects.count() == 1


def test_lost_doorbell_is_recovered_by_the_sweep(alice, smtp_server, worker, settings) -> None:
    from webmail.celery import app

    with smtplib.SMTP(*smtp_server, timeout=10) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
    from mailcore.delivery.doorbell import doorbell

    assert doorbell.flush()
    assert app.control.purge() >= 1  # the broker forgets the task (Redis flushed, say)
    worker()
    time.sleep(3)
    assert QueueEntry.objects.get().state == "queued"
    do_sweep()
    wait_for(lambda: QueueEntry.objects.get().state == "done")
    assert Message.objects.count() == 1 and len(maildir_new(settings, alice)) == 1
