"""Remote delivery with a real Celery worker that is killed: between two attempts (nothing is
lost, the next worker finishes) and after the remote 250 but before it was recorded (the one
window where at-least-once means a second copy, RFC 1047 — never zero copies)."""

from __future__ import annotations

import time

import pytest

from mailcore.delivery.actions import do_enqueue, do_sweep
from mailcore.delivery.models import Direction, QueueEntry
from tests.conftest import wait_for
from tests.outbound.conftest import Behaviour

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MSG = b"From: alice@example.com\r\nTo: bob@remote.test\r\nSubject: out\r\n\r\nhello\r\n"


@pytest.fixture
def relay_env(settings, zone, remote_port) -> dict[str, str]:  # type: ignore[no-untyped-def]
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    settings.RELAY_RETRY_BASE_SECONDS = 1
    return {
        "RELAY_NAMESERVERS": settings.RELAY_NAMESERVERS,
        "RELAY_SMTP_PORT": str(remote_port),
        "RELAY_ALLOW_PRIVATE_TARGETS": "1",
        "RELAY_RETRY_BASE_SECONDS": "1",
        "RELAY_LEASE_SECONDS": "2",
        "RELAY_CONNECT_TIMEOUT": "3",
    }


def send() -> QueueEntry:
    return do_enqueue(
        sender="alice@example.com",
        recipients=["bob@remote.test"],
        data=MSG,
        direction=Direction.OUTBOUND,
    )


def test_worker_killed_between_attempts_loses_nothing(
    alice, remote, relay_env, celery_worker_process
) -> None:
    sink = remote("127.0.0.2", behaviour=Behaviour(rcpt_defer_times=1))
    first = celery_worker_process(**relay_env)
    entry = send()
    wait_for(
        lambda: (
            QueueEntry.objects.get(pk=entry.pk).attempts == 1
            and QueueEntry.objects.get(pk=entry.pk).locked_until is None
        )
    )
    first.kill()  # SIGKILL while the entry waits for its retry
    first.wait(15)
    assert QueueEntry.objects.get(pk=entry.pk).recipients.get().state == "deferred"
    celery_worker_process(**relay_env)
    time.sleep(1.5)  # the retry comes due
    do_sweep()
    wait_for(lambda: QueueEntry.objects.get(pk=entry.pk).state == "done")
    assert len(sink.received) == 1
    assert QueueEntry.objects.get(pk=entry.pk).recipients.get().state == "delivered"


def test_kill_after_remote_250_gives_at_least_once(
    alice, remote, relay_env, celery_worker_process
) -> None:
    sink = remote("127.0.0.2")
    doomed = celery_worker_process("deliver.before_record", **relay_env)
    entry = send()
    doomed.wait(60)
    assert doomed.returncode == 137 and len(sink.received) == 1
    celery_worker_process(**relay_env)
    time.sleep(2.1)  # lease and retry delay run out
    do_sweep()
    wait_for(lambda: QueueEntry.objects.get(pk=entry.pk).state == "done")
    assert 1 <= len(sink.received) <= 2  # the crash window may cost one duplicate, never the mail
    assert QueueEntry.objects.get(pk=entry.pk).recipients.get().state == "delivered"
