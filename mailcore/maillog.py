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
from collections.abc import Iterable
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
    """Turns queue rows newer than its cursors into events, oldest first. Starts at the rows
    that exist when it is made (`from_start` reads the whole table: tests, a replay): attempts
    open then are logged when they finish, those finished then never, so a restart repeats no
    line (rows made while it was down are not logged: as before).

    A poll is two statements whatever the number of rows: the new entries with their
    recipient count, and the new or still open attempts joined to the recipients each settled
    (on the attempt's finishing time, which delivery's bookkeeping stamps on them in the same
    statement). Only the columns a line needs are read, as tuples: no model instances, no
    query per row.

    Ids come from sequences, so a row can commit after one with a higher id was read (two
    SMTP processes' group commits, two workers' claims). An id skipped between the rows read
    is looked at again in each poll for RECHECK_SECONDS (a rolled-back insert leaves its gap
    for ever): a late commit is logged late, not lost."""

    RECHECK_SECONDS = 60.0
    MAX_RECHECK = 1000  # skipped ids kept per table (a larger jump is not a commit race)

    def __init__(self, *, from_start: bool = False) -> None:
        self.entry_cursor = 0
        self.attempt_cursor = 0
        self.full = False  # the last poll stopped at its limit: more rows are waiting
        self._pending: dict[int, None] = {}  # attempts at or below the cursor, open when read
        self._entry_gaps: dict[int, float] = {}  # skipped id → monotonic time to give up
        self._attempt_gaps: dict[int, float] = {}
        if from_start:
            return
        from django.db import connection

        qe, da = _tables()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {qe}")  # noqa: S608 (a model's table)
            self.entry_cursor = cursor.fetchone()[0] or 0
            cursor.execute(f"SELECT MAX(id) FROM {da}")  # noqa: S608
            self.attempt_cursor = cursor.fetchone()[0] or 0
            # Open attempts finish later: each is logged then (and none that finished before).
            cursor.execute(
                f"SELECT id FROM {da} WHERE finished_at IS NULL AND id <= %s ORDER BY id",  # noqa: S608
                [self.attempt_cursor],
            )
            self._pending = dict.fromkeys(row[0] for row in cursor.fetchall())

    def poll(self, limit: int = 5000) -> list[Event]:
        """What happened since the last poll: accepted entries, then settled recipients, each
        once; at most `limit` new entries and `limit` new attempts (`full` says if it stopped
        there)."""
        from django.db import connection

        now = time.monotonic()
        events: list[Event] = []
        with connection.cursor() as cursor:
            full_entries = self._accepted(cursor, limit, now, events)
            full_attempts = self._settled(cursor, limit, now, events)
        self.full = full_entries or full_attempts
        return events

    def _recheck(self, gaps: dict[int, float], now: float) -> list[int]:
        for gone in [i for i, until in gaps.items() if until < now]:
            del gaps[gone]
        return list(gaps)

    def _note_gaps(self, gaps: dict[int, float], cursor: int, ids: list[int], now: float) -> None:
        """Ids above `cursor` that the sorted new `ids` skipped: looked at again later."""
        until = now + self.RECHECK_SECONDS
        previous = cursor
        for i in ids:
            if i > previous + 1 and len(gaps) < self.MAX_RECHECK:
                room = self.MAX_RECHECK - len(gaps)
                gaps.update(dict.fromkeys(range(previous + 1, min(i, previous + 1 + room)), until))
            previous = i

    def _accepted(self, cursor: Any, limit: int, now: float, events: list[Event]) -> bool:
        qe, _ = _tables()
        qr = _table_of("QueueRecipient")
        again = self._recheck(self._entry_gaps, now)
        ids, params = _ids_after(qe, self.entry_cursor, limit, again)
        cursor.execute(
            "SELECT e.id, e.queue_id, e.received_at, e.client_ip, e.client_helo, e.sender, "  # noqa: S608
            f"e.size, e.direction, (SELECT COUNT(*) FROM {qr} r WHERE r.entry_id = e.id) "
            f"FROM ({ids}) n JOIN {qe} e ON e.id = n.id ORDER BY e.id",
            params,
        )
        new: list[int] = []
        for pk, queue_id, at, ip, helo, sender, size, direction, nrcpt in cursor.fetchall():
            if pk > self.entry_cursor:
                new.append(pk)
            else:
                self._entry_gaps.pop(pk, None)
            events.append(
                Accepted(
                    queue_id,
                    _aware(at),
                    f"{helo or 'unknown'}[{ip}]" if ip else "local",
                    sender,
                    size,
                    nrcpt,
                    direction,
                )
            )
        if new:
            self._note_gaps(self._entry_gaps, self.entry_cursor, new, now)
            self.entry_cursor = new[-1]
        return len(new) >= limit

    def _settled(self, cursor: Any, limit: int, now: float, events: list[Event]) -> bool:
        qe, da = _tables()
        qr = _table_of("QueueRecipient")
        again = [*self._pending, *self._recheck(self._attempt_gaps, now)]
        ids, params = _ids_after(da, self.attempt_cursor, limit, again)
        cursor.execute(
            "SELECT a.id, a.finished_at, e.queue_id, e.received_at, e.direction, "  # noqa: S608
            "r.address, r.state, r.last_reply "
            f"FROM ({ids}) n JOIN {da} a ON a.id = n.id JOIN {qe} e ON e.id = a.entry_id "
            f"LEFT JOIN {qr} r ON r.entry_id = a.entry_id AND r.updated_at = a.finished_at "
            "AND r.state <> %s "
            "ORDER BY a.id, r.id",
            [*params, "pending"],
        )
        new: list[int] = []
        last = 0
        open_ = False
        since = until = _EPOCH
        for pk, finished, queue_id, received, direction, address, state, reply in cursor.fetchall():
            if pk != last:  # an attempt's first row (it has one per recipient it settled)
                last = pk
                if pk > self.attempt_cursor:
                    new.append(pk)
                else:
                    self._attempt_gaps.pop(pk, None)
                open_ = finished is None
                if open_:
                    self._pending[pk] = None
                    continue
                self._pending.pop(pk, None)
                since, until = _aware(received), _aware(finished)
            if open_ or address is None:
                continue
            events.append(settled_event(queue_id, since, until, address, state, reply, direction))
        if new:
            self._note_gaps(self._attempt_gaps, self.attempt_cursor, new, now)
            self.attempt_cursor = new[-1]
        return len(new) >= limit


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _table_of(model: str) -> str:
    from django.apps import apps
    from django.db import connection

    return connection.ops.quote_name(apps.get_model("delivery", model)._meta.db_table)


def _tables() -> tuple[str, str]:
    """The quoted tables of QueueEntry and DeliveryAttempt."""
    return _table_of("QueueEntry"), _table_of("DeliveryAttempt")


def _ids_after(table: str, cursor: int, limit: int, again: list[int]) -> tuple[str, list[Any]]:
    """A derived table of ids: the first `limit` above `cursor`, and those of `again` (all
    below it). Two selects, so each uses the primary key's index on its own."""
    sql = f"SELECT id FROM (SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT %s) m"  # noqa: S608
    if not again:
        return sql, [cursor, limit]
    marks = ", ".join(["%s"] * len(again))
    return f"{sql} UNION ALL SELECT id FROM {table} WHERE id IN ({marks})", [cursor, limit, *again]  # noqa: S608


def _aware(value: dt.datetime | str) -> dt.datetime:
    """A timestamp as the cursor gives it (aware on PostgreSQL; on SQLite a naive UTC
    datetime or its text) as an aware datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


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
    """Follow the queue until `stop()` says so (for ever in the service). A poll starts every
    `poll_seconds` (its own time included, so no line is later than that), or at once while
    the last one stopped at its limit; its lines go out in one write."""
    from django.db import close_old_connections

    follower = Follower()
    while stop is None or not stop():
        started = time.monotonic()
        close_old_connections()
        events = follower.poll()
        if metrics is not None:
            for event in events:
                metrics.observe(event)
        if write_lines and events:
            out.write("".join([line(event, as_json=as_json) + "\n" for event in events]))
            out.flush()
        if not follower.full:
            time.sleep(max(0.0, poll_seconds - (time.monotonic() - started)))


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
