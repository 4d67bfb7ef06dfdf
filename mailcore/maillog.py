"""The mail log and the Prometheus metrics (issue 15 item 4), both read from the queue of record.

Postfix writes one line per event as each daemon sees it; here the events are already rows
(QueueEntry when a message is accepted, DeliveryAttempt plus the QueueRecipient rows it
settled when a worker finishes an attempt — the rows the console's 전송 기록 shows), so one
follower turns new rows into lines in Postfix's shape and into counters:

    4Fq2Zx…: client=mx.example[192.0.2.7], from=<a@example>, size=1834, nrcpt=1 (queue active)
    4Fq2Zx…: to=<b@example.com>, relay=local, delay=0.42, dsn=2.0.0, status=sent (2.0.0 INBOX)

`python -m mailcore.maillog` runs it: lines to stdout (journald) as text or JSON (MAIL_LOG),
and with METRICS_LISTEN a `/metrics` listener of its own (off by default). Reading rows
rather than hooking the delivery code keeps one source for the log, the metrics and the
console, and costs the delivery path nothing; a line comes at most MAIL_LOG_POLL_SECONDS late.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")
_RELAY = re.compile(r"(?:host|connect to) (\S+?)(?::\d+)?(?: said:|:)")
STATUS = {"delivered": "sent", "deferred": "deferred", "bounced": "bounced"}
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14400, 86400)


@dataclass(frozen=True, slots=True)
class Accepted:
    queue_id: str
    at: dt.datetime
    client: str  # "helo[ip]" or "local"
    sender: str
    size: int
    nrcpt: int
    direction: str  # in | out


@dataclass(frozen=True, slots=True)
class Settled:
    queue_id: str
    at: dt.datetime
    to: str
    relay: str
    delay: float  # seconds since the message was accepted
    dsn: str
    status: str  # sent | deferred | bounced
    reply: str
    direction: str


Event = Accepted | Settled


def line(event: Event, *, as_json: bool = False) -> str:
    """One line in Postfix's shape (or a JSON object with the same fields and `event`)."""
    if as_json:
        fields: dict[str, Any] = asdict(event)
        fields["at"] = event.at.isoformat()
        fields["event"] = "accepted" if isinstance(event, Accepted) else event.status
        return json.dumps(fields, ensure_ascii=False, sort_keys=True)
    if isinstance(event, Accepted):
        return (
            f"{event.queue_id}: client={event.client}, from=<{event.sender}>, "
            f"size={event.size}, nrcpt={event.nrcpt} (queue active)"
        )
    return (
        f"{event.queue_id}: to=<{event.to}>, relay={event.relay}, delay={event.delay:.2f}, "
        f"dsn={event.dsn}, status={event.status} ({event.reply})"
    )


def _relay(reply: str, direction: str, state: str) -> str:
    found = _RELAY.search(reply)
    if found:
        return found.group(1)
    if direction == "in" or (state == "delivered" and "host" not in reply):
        return "local" if direction == "in" else "none"
    return "none"


def settled_event(
    queue_id: str,
    received_at: dt.datetime,
    finished_at: dt.datetime,
    address: str,
    state: str,
    reply: str,
    direction: str,
) -> Settled:
    found = _DSN.match(reply)
    dsn = (
        found.group(1) if found else {"delivered": "2.0.0", "bounced": "5.0.0"}.get(state, "4.0.0")
    )
    return Settled(
        queue_id=queue_id,
        at=finished_at,
        to=address,
        relay=_relay(reply, direction, state),
        delay=max(0.0, (finished_at - received_at).total_seconds()),
        dsn=dsn,
        status=STATUS.get(state, state),
        reply=reply.replace("\n", " ")[:500],
        direction=direction,
    )


class Follower:
    """Turns queue rows newer than its cursor into events, oldest first. Starts at the rows
    that exist when it is made (`from_start` reads the whole table: tests, a replay)."""

    def __init__(self, *, from_start: bool = False) -> None:
        from mailcore.delivery.models import DeliveryAttempt, QueueEntry

        self.entry_cursor = 0
        self.attempt_cursor = 0
        if not from_start:
            last_entry = QueueEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
            self.entry_cursor = last_entry or 0
            # Attempts still in progress may finish later: start below the oldest open one.
            open_attempt = (
                DeliveryAttempt.objects.filter(finished_at__isnull=True)
                .order_by("pk")
                .values_list("pk", flat=True)
                .first()
            )
            last_attempt = DeliveryAttempt.objects.order_by("-pk").values_list("pk", flat=True)
            top = last_attempt.first() or 0
            self.attempt_cursor = (open_attempt - 1) if open_attempt else top
        self._pending: set[int] = set()  # attempts above the cursor seen unfinished

    def poll(self, limit: int = 1000) -> list[Event]:
        return [*self._accepted(limit), *self._settled(limit)]

    def _accepted(self, limit: int) -> Iterator[Accepted]:
        from django.db.models import Count

        from mailcore.delivery.models import QueueEntry

        rows = (
            QueueEntry.objects.filter(pk__gt=self.entry_cursor)
            .annotate(nrcpt=Count("recipients"))
            .order_by("pk")[:limit]
        )
        for entry in rows:
            self.entry_cursor = entry.pk
            client = (
                f"{entry.client_helo or 'unknown'}[{entry.client_ip}]"
                if entry.client_ip
                else "local"
            )
            yield Accepted(
                queue_id=entry.queue_id,
                at=entry.received_at,
                client=client,
                sender=entry.sender,
                size=entry.size,
                nrcpt=int(getattr(entry, "nrcpt", 0)),
                direction=entry.direction,
            )

    def _settled(self, limit: int) -> Iterator[Settled]:
        from django.db.models import Q

        from mailcore.delivery.models import DeliveryAttempt, QueueRecipient

        attempts = list(
            DeliveryAttempt.objects.filter(Q(pk__gt=self.attempt_cursor) | Q(pk__in=self._pending))
            .select_related("entry")
            .order_by("pk")[:limit]
        )
        for attempt in attempts:
            if attempt.finished_at is None:
                self._pending.add(attempt.pk)
                continue
            self._pending.discard(attempt.pk)
            entry = attempt.entry
            # _record stamps the recipients it settles with the attempt's finishing time.
            for rcpt in QueueRecipient.objects.filter(
                entry=entry, updated_at=attempt.finished_at
            ).order_by("pk"):
                if rcpt.state == "pending":
                    continue
                yield settled_event(
                    entry.queue_id,
                    entry.received_at,
                    attempt.finished_at,
                    rcpt.address,
                    rcpt.state,
                    rcpt.last_reply,
                    entry.direction,
                )
        if attempts:
            self.attempt_cursor = max(self.attempt_cursor, max(a.pk for a in attempts))


# --- metrics -----------------------------------------------------------------------------------


class QueueCollector(Collector):
    """Queue depth by state at scrape time, from the database (the queue of record). Each
    scrape runs in a thread of the HTTP server: its connection is closed with the thread's
    work, not left behind (a new thread per request would leak one per scrape)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from django.db import connections

        try:
            yield from self._families()
        finally:
            connections.close_all()  # this thread's connections only

    def _families(self) -> Iterable[GaugeMetricFamily]:
        from django.db.models import Count

        from mailcore.delivery.models import QueueEntry, QueueRecipient

        entries = GaugeMetricFamily(
            "mailroom_queue_entries", "Queue entries by state", labels=["state", "direction"]
        )
        for row in QueueEntry.objects.values("state", "direction").annotate(n=Count("pk")):
            entries.add_metric([row["state"], row["direction"]], row["n"])
        recipients = GaugeMetricFamily(
            "mailroom_queue_recipients",
            "Recipients of queued (not done) entries by state",
            labels=["state"],
        )
        waiting = QueueRecipient.objects.exclude(entry__state="done")
        for state, n in waiting.values_list("state").annotate(n=Count("pk")):
            recipients.add_metric([state], n)
        yield entries
        yield recipients


class Metrics:
    """The counters the follower feeds, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.accepted = Counter(
            "mailroom_messages_accepted",
            "Messages accepted into the queue (SMTP, submission, web/API)",
            ["direction"],
            registry=self.registry,
        )
        self.recipients = Counter(
            "mailroom_recipients",
            "Recipient outcomes of delivery attempts",
            ["status", "direction"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailroom_delivery_latency_seconds",
            "From acceptance to final delivery (status=sent), per recipient",
            ["direction"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, event: Event) -> None:
        if isinstance(event, Accepted):
            self.accepted.labels(event.direction).inc()
            return
        self.recipients.labels(event.status, event.direction).inc()
        if event.status == "sent":
            self.latency.labels(event.direction).observe(event.delay)


def run(
    *,
    out: IO[str],
    as_json: bool,
    write_lines: bool,
    metrics: Metrics | None,
    poll_seconds: float,
    stop: Any = None,
) -> None:
    """Follow the queue until `stop()` says so (for ever in the service)."""
    from django.db import close_old_connections

    follower = Follower()
    while stop is None or not stop():
        close_old_connections()
        for event in follower.poll():
            if metrics is not None:
                metrics.observe(event)
            if write_lines:
                out.write(line(event, as_json=as_json) + "\n")
        out.flush()
        time.sleep(poll_seconds)


def exposed_registry(metrics: Metrics) -> CollectorRegistry:
    """What /metrics shows: with PROMETHEUS_MULTIPROC_DIR every process's instruments (this
    one's included: in that mode they live in the directory's files), else this process's;
    and the queue depth from the database."""
    multiproc = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiproc)  # type: ignore[no-untyped-call]
    else:
        registry = metrics.registry
    registry.register(QueueCollector())
    return registry


def main() -> None:
    """`python -m mailcore.maillog`: the mail log on stdout and, with METRICS_LISTEN, /metrics."""
    from mailcore.runtime import bootstrap

    bootstrap()
    from django.conf import settings
    from prometheus_client import start_http_server

    from mailcore import privileges

    mode = settings.MAIL_LOG
    metrics: Metrics | None = None
    listen = settings.METRICS_LISTEN
    if listen.enabled:
        metrics = Metrics()
        start_http_server(listen.port, addr=listen.host, registry=exposed_registry(metrics))
        print(f"maillog: metrics on http://{listen}/metrics", flush=True)
    privileges.drop(what="maillog")
    run(
        out=sys.stdout,
        as_json=mode == "json",
        write_lines=mode != "off",
        metrics=metrics,
        poll_seconds=settings.MAIL_LOG_POLL_SECONDS,
    )


if __name__ == "__main__":
    main()
