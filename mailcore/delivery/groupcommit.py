"""Group commit of queue rows: concurrent SMTP sessions share one database transaction (and one
fsync per spool directory) instead of one each, as PostgreSQL's own group commit and Postfix's
cleanup share the disk's flushes. A session still answers 250 only once its own rows are
committed; when a batch's commit fails, every session in it gets the error (and answers 4xx)
and nothing of the batch is queued.

One thread of its own per process does the whole durable step for a batch: each session's
`prepare` (the spool file's write and fsync), then the commit of every row on its own database
connection, then one wake-up of the event loop for all of the batch's sessions. It takes
whatever arrived while it worked (so batches grow with the load and cost no waiting when
idle), optionally after waiting `window` seconds for more. One thread and two hand-offs per
batch: a pool thread per message (the design before) cost each message a thread wake-up, a
wake-up of the loop and the GIL's hand-offs between up to eight threads, which was half of the
SMTP process's CPU (`docs/performance.md`, sixth pass). SQLite's single writer gains most, one
write transaction serving many messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import close_old_connections, connections

from mailcore.delivery.entries import SpooledEntry, do_commit_spooled

log = logging.getLogger("mailroom")

T = TypeVar("T")

# The thread ends after this long without work (the next session starts it again), so that an
# idle process holds no database connection for it.
IDLE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Job(Generic[T]):
    prepare: Callable[[], list[T]]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[T]]


_Outcome = tuple["asyncio.Future[list[T]]", list[T], BaseException | None]


def _settle(outcomes: list[_Outcome[T]]) -> None:
    """On the loop: answer each session of a batch (one call for all of them)."""
    for future, items, error in outcomes:
        if future.done():  # the session was cancelled (client gone); the outcome stands anyway
            continue
        if error is None:
            future.set_result(items)
        else:
            future.set_exception(error)


class GroupCommitter(Generic[T]):
    """Collects `prepare` calls from many event-loop tasks and runs them, then `commit` of all
    their items, on a thread of its own, a batch at a time. `commit(items)` must commit all of
    them or none and raise on failure."""

    def __init__(
        self, commit: Callable[[list[T]], None], *, window: float = 0.0, max_batch: int = 256
    ) -> None:
        self._commit = commit
        self.window = window
        self.max_batch = max_batch
        self._pending: list[_Job[T]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # work arrived, or the thread went idle
        self._thread: threading.Thread | None = None
        self._working = False  # the thread is on a batch (new jobs wait for its next round)
        self._stopping = False  # shutdown(): the thread ends once nothing is pending
        self.batches = 0  # commits made (tests, benchmarks)

    async def prepare_and_commit(self, prepare: Callable[[], list[T]]) -> list[T]:
        """Run `prepare` (file I/O, e.g. the spool write) on the committer's thread, which then
        commits its items with those of the other sessions waiting: the session's task wakes
        once, when the batch holding its items is committed. Raises what `prepare` or the
        commit raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[T]] = loop.create_future()
        with self._lock:
            self._pending.append(_Job(prepare, loop, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            elif not self._working:
                self._wake.notify()  # only an idle thread waits (no wake-up per message)
        return await future

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    self._working = False
                    self._wake.notify_all()  # shutdown() waits for this
                    if not self._pending and not self._stopping:
                        self._wake.wait(IDLE_SECONDS)
                    if not self._pending:
                        self._thread = None
                        return
                    self._working = True
                if self.window > 0:
                    time.sleep(self.window)  # let more sessions join this batch
                with self._lock:
                    batch = self._pending[: self.max_batch]
                    del self._pending[: self.max_batch]
                try:
                    self._do_batch(batch)
                except BaseException as exc:  # a bug here must not strand the sessions
                    log.exception("group commit failed")
                    _answer([(job, [], exc) for job in batch])
        finally:
            connections.close_all()  # this thread's own connection

    def shutdown(self, timeout: float = 10.0) -> None:
        """Wait until what is pending is committed and the thread has ended, with its database
        connection (server shutdown). A later session starts a new thread."""
        with self._wake:
            thread = self._thread
            self._stopping = True
            self._wake.notify_all()
        try:
            if thread is not None:
                thread.join(timeout)
        finally:
            with self._lock:
                self._stopping = False

    def _do_batch(self, batch: list[_Job[T]]) -> None:
        outcomes: list[tuple[_Job[T], list[T], BaseException | None]] = []
        ready: list[tuple[_Job[T], list[T]]] = []
        for job in batch:
            try:
                ready.append((job, job.prepare()))
            except BaseException as exc:  # this session alone fails (its own spool write)
                outcomes.append((job, [], exc))
        if ready:
            error: BaseException | None = None
            try:
                close_old_connections()  # a broken or aged connection: this batch fails, 4xx
                self._commit([item for _, items in ready for item in items])
            except BaseException as exc:
                log.warning("group commit of %d sessions failed: %s", len(ready), exc)
                error = exc
            self.batches += 1
            outcomes.extend((job, items, error) for job, items in ready)
        _answer(outcomes)


def _answer(outcomes: list[tuple[_Job[T], list[T], BaseException | None]]) -> None:
    """Hand each session its outcome: one wake-up per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome[T]]] = {}
    for job, items, error in outcomes:
        by_loop.setdefault(job.loop, []).append((job.future, items, error))
    for loop, answers in by_loop.items():
        # A loop that is closed (its server stopped) has no session left to answer.
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(_settle, answers)


_queue_rows: GroupCommitter[SpooledEntry] | None = None


def queue_committer() -> GroupCommitter[SpooledEntry]:
    """The process's committer of queue rows (SMTP_GROUP_COMMIT_WINDOW_MS read at first use)."""
    global _queue_rows
    if _queue_rows is None:
        from django.conf import settings

        window = getattr(settings, "SMTP_GROUP_COMMIT_WINDOW_MS", 0.0) / 1000
        _queue_rows = GroupCommitter(do_commit_spooled, window=window)
    return _queue_rows
