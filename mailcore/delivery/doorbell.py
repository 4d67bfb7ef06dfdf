"""The doorbell: tells workers that queue entries were committed. Notices are coalesced: at
most one Celery task per MIN_INTERVAL_SECONDS (a publish costs CPU on both sides; at hundreds
of messages a second that matters). Losing a notice is harmless: the sweep finds every due row.

The bell knows nothing of Celery: what it rings (the deliver_entries task) is connected once,
by the delivery app when Django starts (DeliveryConfig.ready), so the layers read one way:
tasks → actions → entries → doorbell."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger("mailroom")

# The first notice after a quiet spell is published at once; after that, at most one publish
# per MIN_INTERVAL_SECONDS (one per MAX_BATCH ids), carrying every id rung meanwhile. A
# Celery publish costs the SMTP process about half a millisecond of CPU and the worker's
# consumer an ack and a QoS round trip; the task it rings takes every due entry up to its
# batch size anyway (deliver_entries' PULL_BATCH), so a notice only needs to wake a worker,
# not to list them all. Under load that is 10 publishes a second, however many messages
# arrive; when idle, no added latency.
MIN_INTERVAL_SECONDS = 0.1
# Without the delivery loop (the embedded default) a publish is a Celery task whose batch is
# what came due meanwhile, and a batch's fixed cost (claim, conversation look-ups, three
# commits) is most of a small one's: 0.2 s makes them ~1.4x larger (docs/performance.md, sixth
# pass (embedded)). The loop gathers for itself (DELIVERY_LOOP_GATHER_MS).
TASK_MIN_INTERVAL_SECONDS = 0.2
MAX_BATCH = 64
# ring_later: timers only for entries due this soon (the due scan has the rest), and a little
# after the due time, so the claim (next_attempt_at <= now) finds it due.
LATER_MAX_SECONDS = 300.0
LATER_MARGIN_SECONDS = 0.2


class Doorbell:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._publish_batch: Callable[[list[int]], object] | None = None

    def connect(self, publish: Callable[[list[int]], object]) -> None:
        """What a batch of rung entry ids is handed to (the deliver_entries task's delay)."""
        self._publish_batch = publish

    def ring(self, entry_id: int) -> None:
        self._idle.clear()
        self._queue.put(entry_id)
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="doorbell", daemon=True)
                    self._thread.start()

    def ring_later(self, entry_id: int, delay: float) -> None:
        """Ring for an entry that comes due in `delay` seconds (an undo window, a scheduled
        send soon): a timer in this process, so it leaves on time even between due scans.
        Only a shortcut: a restart forgets it, and the due scan (OUTBOX_DUE_SCAN_SECONDS)
        takes the entry anyway; a ring that comes early finds it not due and does nothing."""
        if delay > LATER_MAX_SECONDS:
            return
        timer = threading.Timer(max(0.0, delay) + LATER_MARGIN_SECONDS, self.ring, (entry_id,))
        timer.daemon = True
        timer.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every rung notice has been handed to the broker (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        from django.conf import settings

        interval = MIN_INTERVAL_SECONDS if settings.DELIVERY_LOOP else TASK_MIN_INTERVAL_SECONDS
        last = -interval
        while True:
            try:
                first = self._queue.get(timeout=30)
            except queue.Empty:
                return  # idle thread exits; the next ring starts a new one
            # Sleep out the interval, then take everything rung meanwhile: one wake of this
            # thread per publish, where waiting on the queue woke it for every message.
            remaining = last + interval - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)
            rung = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    rung.append(self._queue.get_nowait())
            for at in range(0, len(rung), MAX_BATCH):
                self._publish(rung[at : at + MAX_BATCH])
            last = time.monotonic()
            if self._queue.empty():
                self._idle.set()

    def _publish(self, batch: list[int]) -> None:
        if self._publish_batch is None:
            log.warning("doorbell not connected; entries %s wait for the sweep", batch)
            return
        try:
            self._publish_batch(batch)
        except Exception:
            log.warning("broker unavailable; entries %s wait for the sweep", batch, exc_info=True)


doorbell = Doorbell()
