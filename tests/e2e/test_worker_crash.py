"""A real Celery worker is killed in the middle of a delivery (at a named crash point); the
next worker to start takes the dead worker's entry over at once and finishes it: one copy, none
lost. Also: the broker loses the doorbell, and the sweep alone gets the mail delivered."""

from __future__ import annotations

import smtplib
import socket
import time
from pathlib import Path

import pytest

from mailcore.delivery.actions import do_sweep
from mailcore.delivery.models import QueueEntry
from mailcore.store.models import Message
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: crash test\r\n\r\nbody\r\n"


def maildir_new(settings, account) -> list[Path]:  # type: ignore[no-untyped-def]
    return list((Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "new").iterdir())


@pytest.mark.parametrize("fault", ["deliver.after_file", "deliver.after_commit"])
def test_worker_killed_mid_delivery(
    alice, smtp_server, celery_worker_process, settings, fault: str
) -> None:
    settings.DELIVERY_LEASE_SECONDS = 2
    settings.DELIVERY_RETRY_BASE_SECONDS = 1  # the attempt recorded before the crash sets it
    doomed = celery_worker_process(fault)
    with smtplib.SMTP(*smtp_server, timeout=10) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
    doomed.wait(60)
    assert doomed.returncode == 137  # died at the crash point, like a kill -9
    entry = QueueEntry.objects.get()
    assert (entry.state, entry.attempts) == ("queued", 1)
    assert len(maildir_new(settings, alice)) == 1  # the file made it before the crash
    celery_worker_process()  # finds the dead worker's lease and takes the entry at once
    wait_for(lambda: QueueEntry.objects.get().state == "done")
    entry.refresh_from_db()
    assert entry.attempts == 2 and entry.recipients.get().state == "delivered"
    assert len(maildir_new(settings, alice)) == 1 and Message.objects.count() == 1


def test_lost_doorbell_is_recovered_by_the_sweep(
    alice, smtp_server, celery_worker_process, settings
) -> None:
    from mailcore.delivery.doorbell import doorbell
    from webmail.celery import app

    if settings.DELIVERY_LOOP and settings.DELIVERY_WAKE_URL:
        import redis

        # The delivery loop: a worker drains what is due when it starts, so it starts first
        # (polling an hour apart) and waits on the wake list; then the notice is lost (its
        # push fails), and only the sweep can bring the entry back.
        wake = redis.Redis.from_url(settings.DELIVERY_WAKE_URL)
        db = int(wake.connection_pool.connection_kwargs.get("db", 0))
        celery_worker_process(DELIVERY_LOOP_POLL_SECONDS="3600")
        wait_for(
            lambda: any(c["cmd"] == "blpop" and int(c["db"]) == db for c in wake.client_list())
        )
        good = settings.DELIVERY_WAKE_URL
        with socket.socket() as dead:
            dead.bind(("127.0.0.1", 0))
            settings.DELIVERY_WAKE_URL = f"redis://127.0.0.1:{dead.getsockname()[1]}/0"
            with smtplib.SMTP(*smtp_server, timeout=10) as c:
                c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
            assert doorbell.flush()
        settings.DELIVERY_WAKE_URL = good
    else:
        with smtplib.SMTP(*smtp_server, timeout=10) as c:
            c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
        assert doorbell.flush()
        assert app.control.purge() >= 1  # the broker forgets the task (Redis flushed, say)
        celery_worker_process()
    time.sleep(3)
    assert QueueEntry.objects.get().state == "queued"
    do_sweep()
    wait_for(lambda: QueueEntry.objects.get().state == "done")
    assert Message.objects.count() == 1 and len(maildir_new(settings, alice)) == 1
