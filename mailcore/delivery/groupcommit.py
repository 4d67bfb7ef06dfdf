"""Group commit of queue rows: concurrent SMTP sessions share one database transaction (and one
fsync per spool directory) instead of one each, as PostgreSQL's own group commit and Postfix's
cleanup share the disk's flushes. A session still answers 250 only once its own rows are
committed; when a batch's commit fails, every session in it gets the error (and answers 4xx)
and nothing of the batch is queued.

One committer thread per process: it takes whatever arrived while the previous commit ran (so
batches grow with the load and cost no waiting when idle), optionally waits `window` seconds
for more, and commits. It holds its own database connection, like the asyncdb pool threads;
SQLite's single writer gains most, one write transaction serving many messages."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import close_old_connections, connections

from mailcore import asyncdb
from mailcore.delivery.entries import SpooledEntry, do_commit_spooled

log = logging.getLogger("mailroom")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Job(Generic[T]):
    items: list[T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[T]]


def _settle(future: asyncio.Future[list[T]], items: list[T], error: BaseException | None) -> None:
    if future.done():  # the session was cancelled (client gone); the outcome stands anyway
        return
    if error is None:
        future.set_result(items)
    else:
        future.set_exception(error)


class GroupCommitter(Generic[T]):
    """Collects items from many event-loop tasks and hands them to `commit` in batches, from
    one thread. `commit(items)` must commit all of them or none and raise on failure."""

    def __init__(
        self, commit: Callable[[list[T]], None], *, window: float = 0.0, max_batch: int = 256
    ) -> None:
        self._commit = commit
        self.window = window
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job[T] | None] = queue.SimpleQueue()  # None: stop
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # commits made (tests, benchmarks)

    async def prepare_and_commit(self, prepare: Callable[[], list[T]]) -> list[T]:
        """Run `prepare` (file I/O, e.g. the spool write) on an asyncdb pool thread, which
        hands its items straight to the committer: the session's task wakes once, when the
        batch holding its items is committed. Raises what `prepare` or the commit raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[T]] = loop.create_future()

        def work() -> None:
            try:
                items = prepare()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, future, [], exc)
                return
            self._put(_Job(items, loop, future))

        asyncdb.submit(work)
        return await future

    def _put(self, job: _Job[T]) -> None:
        with self._lock:
            self._queue.put(job)
            if self._thread is None:
                # Lives until shutdown(): an idle thread costs nothing, and one that ended on
                # its own could strand an item put in the moment it did.
                thread = threading.Thread(target=self._run, name="groupcommit", daemon=True)
                thread.start()
                self._thread = thread

    def shutdown(self, timeout: float = 10.0) -> None:
        """Commit what is queued, close the thread's database connection and end it (server
        shutdown). A later item starts a new thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch, stop = self._take()
            if batch:
                self._commit_batch(batch)
            if stop:
                connections.close_all()
                return

    def _commit_batch(self, batch: list[_Job[T]]) -> None:
        items = [item for job in batch for item in job.items]
        error: BaseException | None = None
        try:
            close_old_connections()  # a broken or aged connection: this batch fails, 4xx
            self._commit(items)
        except BaseException as exc:
            log.warning("group commit of %d items failed: %s", len(items), exc)
            error = exc
        self.batches += 1
        for job in batch:
            # A loop that is closed (its server stopped) has no session left to answer.
            if not job.loop.is_closed():
                job.loop.call_soon_threadsafe(_settle, job.future, job.items, error)

    def _take(self) -> tuple[list[_Job[T]], bool]:
        """The next batch: what is waiting now (blocking for the first), plus what arrives
        within the window; and whether the thread is to stop after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False


_queue_rows: GroupCommitter[SpooledEntry] | None = None


def queue_committer() -> GroupCommitter[SpooledEntry]:
    """The process's committer of queue rows (SMTP_GROUP_COMMIT_WINDOW_MS read at first use)."""
    global _queue_rows
    if _queue_rows is None:
        from django.conf import settings

        window = getattr(settings, "SMTP_GROUP_COMMIT_WINDOW_MS", 0.0) / 1000
        _queue_rows = GroupCommitter(do_commit_spooled, window=window)
    return _queue_rows
