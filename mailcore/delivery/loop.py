"""The delivery loop: a long-running thread in each delivery worker process that claims due
inbound entries from the database itself, batch after batch, until none is left, and then
waits for the doorbell. It replaces a Celery task per doorbell notice for inbound mail: at
hundreds of messages a second, each task cost the worker's consumer a Redis fetch, an ack and
a QoS round trip, and the child a task trace, about a third of the delivery CPU in the profile.

The wake-up signal is a plain Redis list (DELIVERY_WAKE_URL, the broker's Redis by default):
the doorbell's batches are RPUSHed as comma-separated ids (one round trip, the list kept
short), a waiting loop takes them with BLPOP. The signal only wakes; the queue of record is
the database:
- no wake for DELIVERY_LOOP_POLL_SECONDS: the loop claims anyway (a lost wake costs that long);
- Redis unreachable: the loop polls the database every DELIVERY_LOOP_POLL_SECONDS and tries
  Redis again (mail keeps flowing without the broker); the publish fails and is logged;
- rung outbound entries (submissions, forwards) go on to the Celery task as before, so a slow
  remote server never holds local delivery up;
- the beat sweep and dead-worker take-over ring the same doorbell, as before.

Without a Redis (the embedded default) the loop is off and the doorbell rings the Celery task
through the filesystem broker (DELIVERY_LOOP=1 turns it on there: it then polls).
Claims are leases in the database (SKIP LOCKED), so loops in several processes share the work
and a crash mid-batch repeats at most bookkeeping, never a copy (delivery.actions).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

log = logging.getLogger("mailroom")

WAKE_KEY = "mailroom:delivery:wake"
WAKE_KEEP = 1000  # notices kept unread at most (the loop claims all that is due anyway)
TAKE_AT_ONCE = 100  # notices read in one LPOP after a wake
PULL_BATCH = 64  # entries per claim, as the Celery task's (delivery.tasks.PULL_BATCH)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def enabled() -> bool:
    return bool(settings.DELIVERY_LOOP)


def _client(url: str, *, blocking: bool) -> Any:
    """One redis-py client per URL and use, per process (its pool is thread-safe). A
    blocking client's socket waits longer than BLPOP's own timeout."""
    import redis

    key = f"{'b' if blocking else 'p'}:{url}"
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            timeout = 6 if blocking else 2
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=2, health_check_interval=30
            )
            _clients[key] = client
    return client


def publish(batch: list[int]) -> None:
    """What the doorbell hands a batch of committed entry ids to. With the loop on and a wake
    URL: one RPUSH (and a trim) in one round trip; raises when Redis is unreachable (the
    doorbell logs it; the loops poll). Otherwise the Celery task, as before the loop."""
    url = settings.DELIVERY_WAKE_URL
    if enabled() and url:
        pipe = _client(url, blocking=False).pipeline(transaction=False)
        pipe.rpush(WAKE_KEY, ",".join(str(int(i)) for i in batch))
        pipe.ltrim(WAKE_KEY, -WAKE_KEEP, -1)
        pipe.execute()
        return
    from mailcore.delivery.tasks import deliver_entries

    deliver_entries.delay(batch)


def _ids(notices: list[bytes]) -> list[int]:
    out: set[int] = set()
    for notice in notices:
        for part in notice.split(b","):
            if part.strip().isdigit():
                out.add(int(part))
    return sorted(out)


class SpoolRemover:
    """A thread that unlinks the spool files of entries done, off the delivery loop's path:
    an unlink waits on the filesystem's journal behind the Maildir and spool fsyncs (0.1 ms
    on a quiet machine, a sixth of the loop's busy time in a loaded end-to-end run). Safe to
    lose: a file left behind by a crash belongs to a done entry, which the sweep removes
    (actions.do_sweep); the entry's state was committed before its file was handed here."""

    def __init__(self) -> None:
        self._names: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="spool-remover", daemon=True)
        self._thread.start()

    def __call__(self, name: str) -> None:
        self._names.put(name)

    def _run(self) -> None:
        from mailcore.delivery import spool

        while (name := self._names.get()) is not None:
            try:
                spool.remove(name)
            except OSError:
                log.warning("spool file %s not removed (the sweep will)", name, exc_info=True)

    def stop(self, timeout: float = 30.0) -> None:
        """Remove what was handed over, then end the thread."""
        self._names.put(None)
        self._thread.join(timeout)


class DeliveryLoop:
    """One loop thread; start() it in a process that registered as a worker."""

    def __init__(self, worker: str = "") -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._remover: SpoolRemover | None = None
        self.woken = 0  # wakes taken from Redis (tests read these to tell the paths apart)
        self.polls = 0  # claims made without a wake (timeout, or Redis down)
        self.redis_down = False

    def start(self) -> None:
        self._remover = SpoolRemover()
        self._thread = threading.Thread(target=self._run, name="delivery-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in hand (its copies and bookkeeping are finished first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._remover is not None:
            self._remover.stop(timeout)

    def _run(self) -> None:
        log.info("delivery loop started (wake: %s)", settings.DELIVERY_WAKE_URL or "polling")
        rung: list[int] = []
        gather = settings.DELIVERY_LOOP_GATHER_MS / 1000
        while not self._stop.is_set():
            # Woken: let the batch gather a little longer first (the fixed costs of a batch,
            # ~17 statements, are most of a small one's); a backlog drains back to back.
            if rung and gather > 0:
                self._stop.wait(gather)
            try:
                self._drain(rung)
            except Exception:  # the database away, a bug: log, wait, go on; never die
                log.warning("delivery loop: batch failed; retrying", exc_info=True)
                connection.close()
                self._stop.wait(settings.DELIVERY_LOOP_POLL_SECONDS)
            rung = self._wait()
        connection.close()

    def _wait(self) -> list[int]:
        """Entry ids of the next wake (empty after a poll interval without one)."""
        poll = float(settings.DELIVERY_LOOP_POLL_SECONDS)
        url = settings.DELIVERY_WAKE_URL
        if not url:
            self._stop.wait(poll)
            self.polls += 1
            return []
        try:
            client = _client(url, blocking=True)
            deadline = time.monotonic() + poll
            got = None
            while got is None:
                # At most a second in each BLPOP, so that stop() never waits for a long one.
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    self.polls += 1
                    return []
                got = client.blpop([WAKE_KEY], timeout=max(0.01, min(left, 1.0)))
            notices = [got[1], *(client.lpop(WAKE_KEY, TAKE_AT_ONCE) or [])]
        except Exception as exc:  # redis.RedisError, OSError: fall back to polling
            if not self.redis_down:
                log.warning("delivery loop: wake channel %s unreachable (%s); polling", url, exc)
            self.redis_down = True
            self._stop.wait(poll)
            self.polls += 1
            return []
        if self.redis_down:
            log.info("delivery loop: wake channel %s is back", url)
        self.redis_down = False
        self.woken += 1
        return _ids(notices)

    def _drain(self, rung: list[int]) -> None:
        """Claim and deliver until a claim comes back short: what was rung (its inbound
        entries), then every due inbound entry, PULL_BATCH at a time. Rung entries that no
        claim took and that are outbound go on to the Celery task."""
        from mailcore.delivery import spool
        from mailcore.delivery.actions import do_deliver_inbound, outbound_among
        from mailcore.delivery.workers import settle_heap

        close_old_connections()  # broken or aged connections go, as in the Celery tasks
        left = set(rung)
        remove = self._remover or spool.remove
        while not self._stop.is_set():
            done = do_deliver_inbound(rung, worker=self.worker, fill_to=PULL_BATCH, remove=remove)
            if done:
                settle_heap(once=True)
            left.difference_update(done)
            if len(done) < PULL_BATCH:
                break
            rung = [i for i in rung if i in left]
        outbound = outbound_among(sorted(left)) if left else set()
        if outbound:
            _hand_to_celery(outbound)


def _hand_to_celery(ids: set[int]) -> None:
    from mailcore.delivery.tasks import deliver_entries

    try:
        deliver_entries.delay(sorted(ids))
    except Exception:
        log.warning("broker unavailable; outbound entries %s wait for the sweep", sorted(ids))


_loop: DeliveryLoop | None = None
_loop_pid = 0


def start(worker: str = "") -> DeliveryLoop | None:
    """Start this process's loop (once per process; a fork starts its own) when enabled."""
    import os

    global _loop, _loop_pid
    if not enabled():
        return None
    if _loop is not None and _loop_pid == os.getpid():
        return _loop
    _loop, _loop_pid = DeliveryLoop(worker), os.getpid()
    _loop.start()
    return _loop


def stop() -> None:
    import os

    global _loop
    if _loop is not None and _loop_pid == os.getpid():
        started = time.monotonic()
        _loop.stop()
        log.info("delivery loop stopped (%.1f s)", time.monotonic() - started)
    _loop = None
