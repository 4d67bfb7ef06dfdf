"""The delivery loop (mailcore.delivery.loop) in a real Celery worker process: a doorbell
notice on the Redis list wakes it (no Celery task, no polling), it polls the database when the
wake channel is unreachable, and a worker killed in the middle of a batch leaves every message
of the batch delivered exactly once by the next worker."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.delivery.doorbell import doorbell
from mailcore.delivery.loop import WAKE_KEY
from mailcore.delivery.models import DeliveryAttempt, DeliveryWorker, QueueEntry
from mailcore.store.models import Message
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def msg(n: int) -> bytes:
    return (
        f"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: loop {n}\r\n"
        f"Message-ID: <loop-{n}@remote.example>\r\n\r\nbody {n}\r\n"
    ).encode()


def maildir_new(settings, account) -> list[Path]:  # type: ignore[no-untyped-def]
    return list((Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "new").iterdir())


def send(server: tuple[str, int], *numbers: int) -> None:
    for n in numbers:
        with smtplib.SMTP(*server, timeout=10) as c:
            c.sendmail("bob@remote.example", ["alice@example.com"], msg(n))


@pytest.fixture
def dead_redis_url() -> Iterator[str]:
    """A Redis URL whose port is bound but never listens: every connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"redis://127.0.0.1:{s.getsockname()[1]}/0"


@pytest.fixture
def wake_redis(settings):  # type: ignore[no-untyped-def]
    if not settings.REDIS_URL:
        pytest.skip("the Redis wake channel needs REDIS_URL (the embedded default polls)")
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(WAKE_KEY)
    settings.DELIVERY_LOOP = True
    settings.DELIVERY_WAKE_URL = settings.REDIS_URL
    yield client
    client.delete(WAKE_KEY)


def test_a_notice_on_the_list_wakes_the_loop(
    alice, smtp_server, celery_worker_process, settings, wake_redis
) -> None:
    send(smtp_server, 1)
    assert doorbell.flush()
    [entry] = QueueEntry.objects.all()
    # The doorbell's publish is one list push with the entry's id: no Celery task.
    assert str(entry.pk).encode() in b",".join(wake_redis.lrange(WAKE_KEY, 0, -1))
    # Polling an hour apart: only a wake can deliver what comes after the start.
    celery_worker_process(DELIVERY_LOOP="1", DELIVERY_LOOP_POLL_SECONDS="3600")
    wait_for(lambda: QueueEntry.objects.get().state == "done")  # the start drains what is due
    wait_for(lambda: wake_redis.llen(WAKE_KEY) == 0)  # and the loop waits on the list
    send(smtp_server, 2)
    wait_for(lambda: QueueEntry.objects.filter(state="done").count() == 2)
    assert Message.objects.count() == 2 and len(maildir_new(settings, alice)) == 2
    assert wake_redis.llen(WAKE_KEY) == 0


def test_the_loop_polls_while_the_wake_channel_is_down(
    alice, smtp_server, celery_worker_process, settings, dead_redis_url
) -> None:
    settings.DELIVERY_LOOP = True
    settings.DELIVERY_WAKE_URL = dead_redis_url  # the SMTP side's publish fails (logged)
    celery_worker_process(
        DELIVERY_LOOP="1", DELIVERY_WAKE_URL=dead_redis_url, DELIVERY_LOOP_POLL_SECONDS="0.5"
    )
    wait_for(lambda: DeliveryWorker.objects.exists())
    send(smtp_server, 1)
    wait_for(lambda: QueueEntry.objects.filter(state="done").count() == 1)
    send(smtp_server, 2, 3)
    wait_for(lambda: QueueEntry.objects.filter(state="done").count() == 3)
    assert Message.objects.count() == 3 and len(maildir_new(settings, alice)) == 3


@pytest.mark.parametrize("fault", ["deliver.after_file", "deliver.after_commit"])
def test_a_crash_mid_batch_delivers_each_message_once(
    alice, smtp_server, celery_worker_process, settings, dead_redis_url, fault: str
) -> None:
    settings.DELIVERY_LOOP = True
    settings.DELIVERY_WAKE_URL = dead_redis_url  # polling: the same on both defaults
    loop_env = {
        "DELIVERY_LOOP": "1",
        "DELIVERY_WAKE_URL": dead_redis_url,
        "DELIVERY_LOOP_POLL_SECONDS": "0.5",
    }
    send(smtp_server, *range(5))  # queued before any worker: the first claim takes all five
    doomed = celery_worker_process(fault, **loop_env)
    assert doomed.wait(60) == 137  # died at the crash point, like a kill -9
    entries = list(QueueEntry.objects.all())
    assert [(e.state, e.attempts) for e in entries] == [("queued", 1)] * 5
    # One batch: one claim made every attempt at the same instant.
    assert len({a.started_at for a in DeliveryAttempt.objects.all()}) == 1
    assert len(maildir_new(settings, alice)) == 5  # every file was written before the crash
    assert Message.objects.count() == (5 if fault == "deliver.after_commit" else 0)
    celery_worker_process(**loop_env)  # takes the dead worker's leases over at once
    wait_for(lambda: QueueEntry.objects.filter(state="done").count() == 5)
    assert all(e.attempts == 2 for e in QueueEntry.objects.all())
    assert Message.objects.count() == 5 and len(maildir_new(settings, alice)) == 5
    subjects = sorted(Message.objects.values_list("subject", flat=True))
    assert subjects == [f"loop {n}" for n in range(5)]
