"""The cleanup process (mailcore.delivery.cleanup) driven by real SMTP clients: a real child
process commits each message before its 250; when the child cannot make a message durable,
or dies holding it, the session answers 4xx and nothing is queued; a dead child is replaced;
stopping the server ends the child."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mailcore.delivery.models import QueueEntry
from mailcore.listeners import OFF
from mailcore.smtp.server import SmtpServer
from tests.protocols.test_smtp_group_commit import MSG, queue_table_locked, send, spool_files

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cleanup_server(alice, smtp_factory) -> Iterator[tuple[tuple[str, int], SmtpServer]]:  # type: ignore[no-untyped-def]
    addr = smtp_factory(cleanup_process=True)
    server = smtp_factory.servers[-1]
    assert server._cleanup is not None
    yield addr, server


def _child_pid(server: SmtpServer, timeout: float = 60) -> int:
    """The running child's pid, once it has started."""
    client = server._cleanup
    assert client is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = client._ready
        if client.pid is not None and ready is not None and ready.done():
            return client.pid
        time.sleep(0.05)
    raise AssertionError("cleanup process did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (reaped by the server later).
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_child_commits_each_message_before_its_250(cleanup_server, settings) -> None:  # type: ignore[no-untyped-def]
    addr, server = cleanup_server
    pid = _child_pid(server)
    assert pid != os.getpid()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: send(addr), range(16)))
    assert [code for code, _ in replies] == [250] * 16
    queued = {text.decode().rsplit(" ", 1)[1] for _, text in replies}
    entries = QueueEntry.objects.filter(queue_id__in=queued)
    assert entries.count() == 16
    # Each row's spool file is where the row says, with the bytes it says.
    root = Path(settings.SPOOL_DIR)
    for entry in entries:
        data = (root / entry.spool_name).read_bytes()
        assert len(data) == entry.size and data.endswith(MSG)
    assert len(spool_files(settings)) == 16


def test_a_spool_failure_in_the_child_answers_4xx_and_keeps_nothing(  # type: ignore[no-untyped-def]
    alice, smtp_factory, settings, tmp_path
) -> None:
    blocked = tmp_path / "spool-is-a-file"
    blocked.write_bytes(b"")
    settings.SPOOL_DIR = blocked  # no directory can be made under it: every write fails
    addr = smtp_factory(cleanup_process=True)
    code, text = send(addr)
    assert (code, text[:5]) == (451, b"4.3.0")
    assert QueueEntry.objects.count() == 0


def test_a_child_that_dies_holding_a_message_answers_451_and_is_replaced(  # type: ignore[no-untyped-def]
    cleanup_server, settings
) -> None:
    addr, server = cleanup_server
    pid = _child_pid(server)
    replies: list[tuple[int, bytes]] = []
    with queue_table_locked():  # the child's commit waits on the lock
        client = threading.Thread(target=lambda: replies.append(send(addr)))
        client.start()
        time.sleep(1.5)
        assert replies == []  # held in the child's commit
        os.kill(pid, signal.SIGKILL)
        client.join(30)
    assert [(code, text[:5]) for code, text in replies] == [(451, b"4.3.0")]
    assert QueueEntry.objects.count() == 0  # the killed transaction never committed
    # The next message starts a new child and is accepted.
    code, text = send(addr)
    assert code == 250, text
    assert _child_pid(server) != pid
    assert QueueEntry.objects.count() == 1


def test_stopping_the_server_ends_the_child(alice, settings) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from mailcore.config import Listen
    from mailcore.smtp.server import config_from_settings

    free = Listen("127.0.0.1", 0)
    # Only an MX listener, on a free port: the settings' submission ports are `make run`'s.
    cfg = dataclasses.replace(
        config_from_settings(), mx=free, submission=OFF, smtps=OFF, cleanup_process=True
    )
    server = SmtpServer(cfg)
    server.start()
    try:
        pid = _child_pid(server)
        assert send(("127.0.0.1", server.ports["mx"]))[0] == 250
    finally:
        server.stop()
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _waiting(n: int, *, direction: str = "in", attempts: int = 0) -> None:
    from django.utils import timezone

    now = timezone.now()
    QueueEntry.objects.bulk_create(
        QueueEntry(
            queue_id=f"Q{direction}{attempts}{i}",
            direction=direction,
            spool_name=f"x/{i}",
            size=1,
            sha256="0" * 64,
            received_at=now,
            next_attempt_at=now,
            attempts=attempts,
        )
        for i in range(n)
    )


def _live_worker(settings, *, age: float = 0) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from mailcore.delivery.models import DeliveryWorker

    now = timezone.now() - timedelta(seconds=age)
    DeliveryWorker.objects.create(name=f"w{age}", host="h", pid=1, started_at=now, heartbeat_at=now)


def test_in_flow_delay_waits_only_while_delivery_lags_behind_a_live_worker(settings) -> None:  # type: ignore[no-untyped-def]
    from mailcore.delivery.cleanup import InFlow

    def pause() -> float:
        return InFlow(10, 1.0, every=0).pause()

    _waiting(30)  # 30 fresh inbound messages wait, threshold 10
    assert pause() == 0  # no worker: the queue takes the mail, nothing to wait for
    _live_worker(settings, age=settings.WORKER_STALE_SECONDS + 5)
    assert pause() == 0  # only a dead one
    _live_worker(settings)
    assert pause() == 1.0  # 20 over 10: the most, one second per batch
    QueueEntry.objects.filter(queue_id__in=[f"Qin0{i}" for i in range(15)]).delete()
    assert 0 < pause() < 1.0  # 15 waiting: 5 over, a shorter wait
    # Outbound mail and messages already tried (retries) do not count as lag.
    QueueEntry.objects.all().delete()
    _waiting(30, direction="out")
    _waiting(30, attempts=1)
    _waiting(10)
    assert pause() == 0
    assert InFlow(10, 0, every=0).pause() == 0  # SMTP_IN_FLOW_DELAY_MS=0: off


def _our_cleanup_children() -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"delivery.cleanup" in cmdline:
            out.append(int(stat.parent.name))
    return out


def test_stopping_while_the_child_starts_leaves_no_process_or_socket(alice, settings) -> None:  # type: ignore[no-untyped-def]
    import dataclasses
    import gc

    from mailcore.config import Listen
    from mailcore.smtp.server import config_from_settings

    free = Listen("127.0.0.1", 0)
    # Only an MX listener, on a free port: the settings' submission ports are `make run`'s.
    cfg = dataclasses.replace(
        config_from_settings(), mx=free, submission=OFF, smtps=OFF, cleanup_process=True
    )
    for pause in (0, 0.005, 0.2):  # before, during and after the child's start
        server = SmtpServer(cfg)
        server.start()
        time.sleep(pause)  # the child, if started, is still setting up Django
        server.stop()
        gc.collect()  # an unclosed socket or an unreaped Popen warns here (an error in tests)
        assert _our_cleanup_children() == []
