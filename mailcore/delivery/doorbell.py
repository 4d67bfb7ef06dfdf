"""The doorbell: tells workers that queue entries were committed. Notices are coalesced into
one Celery task per short window (a publish costs about a millisecond of CPU; at hundreds of
messages a second that matters). Losing a notice is harmless: the sweep finds every due row."""

from __future__ import annotations

import logging
import queue
import threading
import time

log = logging.getLogger("mailroom")

WINDOW_SECONDS = 0.01
MAX_BATCH = 8  # small batches keep every worker process busy


class Doorbell:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def ring(self, entry_id: int) -> None:
        self._idle.clear()
        self._queue.put(entry_id)
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="doorbell", daemon=True)
                    self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every rung notice has been handed to the broker (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=30)
            except queue.Empty:
                return  # idle thread exits; the next ring starts a new one
            batch = [first]
            deadline = time.monotonic() + WINDOW_SECONDS
            while len(batch) < MAX_BATCH:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            self._publish(batch)
            if self._queue.empty():
                self._idle.set()

    @staticmethod
    def _publish(batch: list[int]) -> None:
        from mailcore.delivery.tasks import deliver_entries

        try:
            deliver_entries.delay(batch)
        except Exception:
            log.warning("broker unavailable; entries %s wait for the sweep", batch, exc_info=True)


doorbell = Doorbell()
