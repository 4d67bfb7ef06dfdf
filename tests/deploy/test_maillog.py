"""Mail log and metrics (issue 15 item 4): a message through the real SMTP listener and the
delivery code gives Postfix-shaped lines (accepted, then status=sent with relay, delay and
dsn), JSON on request; deferred and bounced recipients read as Postfix writes them; the
Prometheus listener (off unless METRICS_LISTEN) serves queue depth and the counters, parsed
with the client library's own parser; runall starts it and says where."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import smtplib
import urllib.request
from typing import Any

import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from mailcore.delivery.models import DeliveryAttempt, QueueEntry, QueueRecipient
from mailcore.directory.models import Account
from mailcore.maillog import Accepted, Follower, Metrics, QueueCollector, Settled, line, run
from tests.conftest import run_queue

from .conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)
ACCEPTED = re.compile(
    r"^(\w+): client=client\.test\[127\.0\.0\.1\], from=<bob@elsewhere\.test>, size=\d+, "
    r"nrcpt=1 \(queue active\)$"
)
SENT = re.compile(
    r"^(\w+): to=<alice@example\.com>, relay=local, delay=\d+\.\d\d, dsn=2\.0\.0, "
    r"status=sent \(2\.0\.0 .*\)$"
)


def send(addr: tuple[str, int]) -> None:
    with smtplib.SMTP(*addr, local_hostname="client.test", timeout=10) as smtp:
        smtp.sendmail("bob@elsewhere.test", ["alice@example.com"], b"Subject: hi\r\n\r\nhello\r\n")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_delivery_gives_postfix_lines_and_metrics(
    alice: Account, smtp_server: tuple[str, int]
) -> None:
    follower = Follower()  # starts after what exists
    metrics = Metrics()
    metrics.registry.register(QueueCollector())
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    try:
        send(smtp_server)
        events = follower.poll()
        [accepted] = [line(e) for e in events]
        queue_id = ACCEPTED.match(accepted).group(1)  # type: ignore[union-attr]
        for event in events:
            metrics.observe(event)
        before = scrape(port)
        assert before[("mailroom_queue_entries", (("direction", "in"), ("state", "queued")))] == 1
        assert before[("mailroom_queue_recipients", (("state", "pending"),))] == 1
        run_queue()
        events = follower.poll()
        [sent] = [line(e) for e in events]
        assert SENT.match(sent), sent
        assert sent.startswith(queue_id)
        as_json = json.loads(line(events[0], as_json=True))
        assert as_json["event"] == "sent" and as_json["to"] == "alice@example.com"
        for event in events:
            metrics.observe(event)
        after = scrape(port)
        assert after[("mailroom_messages_accepted_total", (("direction", "in"),))] == 1
        key = ("mailroom_recipients_total", (("direction", "in"), ("status", "sent")))
        assert after[key] == 1
        assert after[("mailroom_delivery_latency_seconds_count", (("direction", "in"),))] == 1
        assert after[("mailroom_queue_entries", (("direction", "in"), ("state", "done")))] == 1
        assert follower.poll() == []  # each event once
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_deferred_and_bounced_read_as_postfix_writes_them(alice: Account) -> None:
    follower = Follower()
    now = dt.datetime.now(tz=dt.UTC)
    entry = QueueEntry.objects.create(
        queue_id="4Fq2Zx9",
        direction="out",
        sender="alice@example.com",
        spool_name="x",
        size=100,
        sha256="0" * 64,
        received_at=now - dt.timedelta(seconds=30),
        next_attempt_at=now,
    )
    later = QueueRecipient.objects.create(entry=entry, address="c@remote.test")
    never = QueueRecipient.objects.create(entry=entry, address="d@remote.test")
    DeliveryAttempt.objects.create(entry=entry, number=1, started_at=now, finished_at=now)
    QueueRecipient.objects.filter(pk=later.pk).update(
        state="deferred",
        updated_at=now,
        last_reply="connect to mx.remote.test[192.0.2.1]:25: Connection refused",
    )
    QueueRecipient.objects.filter(pk=never.pk).update(
        state="bounced",
        updated_at=now,
        last_reply="host mx.remote.test said: 550 5.1.1 <d@remote.test>: no such user",
    )
    lines = [line(e) for e in follower.poll()]
    assert lines[0].startswith("4Fq2Zx9: client=local, from=<alice@example.com>, size=100, nrcpt=2")
    assert lines[1] == (
        "4Fq2Zx9: to=<c@remote.test>, relay=mx.remote.test[192.0.2.1], delay=30.00, dsn=4.0.0, "
        "status=deferred (connect to mx.remote.test[192.0.2.1]:25: Connection refused)"
    )
    assert lines[2].startswith(
        "4Fq2Zx9: to=<d@remote.test>, relay=mx.remote.test, delay=30.00, dsn=5.0.0, status=bounced"
    )


def test_run_writes_json_lines(alice: Account, smtp_server: tuple[str, int]) -> None:
    out = io.StringIO()
    rounds: list[int] = []

    def stop() -> bool:
        if len(rounds) == 1:
            send(smtp_server)
        rounds.append(1)
        return len(rounds) > 2

    run(out=out, as_json=True, write_lines=True, metrics=None, poll_seconds=0, stop=stop)
    [record] = [json.loads(x) for x in out.getvalue().splitlines()]
    assert record["event"] == "accepted" and record["sender"] == "bob@elsewhere.test"


def test_metrics_listener_is_off_by_default(settings: Any) -> None:
    from webmail import settings as defaults

    assert not defaults.METRICS_LISTEN.enabled


def test_smtp_refusals_and_sessions_are_counted(
    alice: Account, smtp_server: tuple[str, int]
) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    port = str(smtp_server[1])
    sessions = value("mailroom_smtp_sessions_total", port=port)
    unknown = value("mailroom_smtp_rejections_total", code="550 5.1.1")
    with smtplib.SMTP(*smtp_server, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("bob@elsewhere.test")
        code, _ = smtp.rcpt("nobody@example.com")
        assert code == 550
    assert value("mailroom_smtp_sessions_total", port=port) == sessions + 1
    assert value("mailroom_smtp_rejections_total", code="550 5.1.1") == unknown + 1


def test_api_latency_and_login_failures(alice: Account, client: Any) -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    failures = value("mailroom_login_failures_total")
    timed = value("mailroom_api_request_seconds_count", method="POST", status="400")
    response = client.post(
        "/api/v1/auth/token",
        {"address": "alice@example.com", "password": "wrong one"},
        content_type="application/json",
    )
    assert response.status_code in (400, 401)
    assert value("mailroom_login_failures_total") == failures + 1
    status = str(response.status_code)
    assert value("mailroom_api_request_seconds_count", method="POST", status=status) >= timed + 1


def _entry(queue_id: str, *, pk: int | None = None, rcpts: int = 1) -> QueueEntry:
    now = dt.datetime.now(tz=dt.UTC)
    entry = QueueEntry.objects.create(
        pk=pk,
        queue_id=queue_id,
        direction="in",
        sender="bob@elsewhere.test",
        spool_name="x",
        size=10,
        sha256="0" * 64,
        received_at=now,
        next_attempt_at=now,
    )
    for n in range(rcpts):
        QueueRecipient.objects.create(entry=entry, address=f"r{n}@example.com")
    return entry


def _settle(attempt: DeliveryAttempt) -> None:
    """What delivery's bookkeeping does: the attempt and its recipients stamped alike."""
    now = dt.datetime.now(tz=dt.UTC)
    QueueRecipient.objects.filter(entry=attempt.entry).update(
        state="delivered", last_reply="2.0.0 INBOX", updated_at=now
    )
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(finished_at=now, result="done")


def _queue_ids(events: list[Any]) -> tuple[list[str], list[str]]:
    accepted = [e.queue_id for e in events if isinstance(e, Accepted)]
    return accepted, [e.queue_id for e in events if isinstance(e, Settled)]


def test_a_burst_gives_each_line_once_across_a_restart(
    alice: Account, smtp_server: tuple[str, int]
) -> None:
    """N messages through the real listener and delivery: N accepted lines and N sent lines,
    none twice, when the follower is restarted mid-burst (after half was delivered)."""
    n = 12
    first = Follower()
    events = []
    for _ in range(n // 2):
        send(smtp_server)
    events += first.poll()
    run_queue()
    for _ in range(n // 2):
        send(smtp_server)
    events += first.poll()  # the second half accepted, the first half sent
    restarted = Follower()
    run_queue()
    events += restarted.poll()
    assert restarted.poll() == []
    accepted, settled = _queue_ids(events)
    queue_ids = set(QueueEntry.objects.values_list("queue_id", flat=True))
    assert len(accepted) == len(settled) == n
    assert set(accepted) == set(settled) == queue_ids
    assert all(SENT.match(line(e)) for e in events if isinstance(e, Settled))


def test_a_restart_logs_open_attempts_when_they_finish_and_finished_ones_never_again(
    alice: Account,
) -> None:
    """An attempt open when the follower starts is logged when it finishes; one that finished
    above it (already logged by the follower before the restart) is not logged again."""
    follower = Follower()
    slow, quick = _entry("SLOW1"), _entry("QUICK1")
    now = dt.datetime.now(tz=dt.UTC)
    open_attempt = DeliveryAttempt.objects.create(entry=slow, number=1, started_at=now)
    done_attempt = DeliveryAttempt.objects.create(entry=quick, number=1, started_at=now)
    _settle(done_attempt)
    assert _queue_ids(follower.poll()) == (["SLOW1", "QUICK1"], ["QUICK1"])
    restarted = Follower()
    assert restarted.poll() == []
    _settle(open_attempt)
    assert _queue_ids(restarted.poll()) == ([], ["SLOW1"])
    assert restarted.poll() == []


def test_a_row_committed_after_a_higher_id_is_still_logged(alice: Account) -> None:
    """Two writers take ids in one order and commit in the other: the lower id, read after
    the cursor passed it, is logged late rather than never (and once)."""
    follower = Follower()
    base = (QueueEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 10
    _entry("LATE2", pk=base + 2)
    assert _queue_ids(follower.poll()) == (["LATE2"], [])
    _entry("LATE1", pk=base + 1)  # its writer committed later
    assert _queue_ids(follower.poll()) == (["LATE1"], [])
    assert follower.poll() == []


def test_a_poll_stops_at_its_limit_and_the_next_goes_on(alice: Account) -> None:
    follower = Follower()
    for n in range(5):
        _entry(f"BATCH{n}", rcpts=2)
    seen: list[Any] = []
    polls = 0
    while True:
        events = follower.poll(limit=2)
        seen += events
        polls += 1
        if not follower.full:
            break
    assert polls == 3
    assert [e.queue_id for e in seen] == [f"BATCH{n}" for n in range(5)]
    assert {e.nrcpt for e in seen} == {2}  # type: ignore[union-attr]
