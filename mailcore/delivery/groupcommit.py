"""Group commit of queue rows: concurrent SMTP sessions share one database transaction (and one
fsync per spool directory) instead of one each, as PostgreSQL's own group commit and Postfix's
cleanup share the disk's flushes. A session still answers 250 only once its own rows are
committed; when a batch's commit fails, every session in it gets the error (and answers 4xx)
and nothing of the batch is queued.

One batch at a time per process, committed by the pool thread that finds no commit running:
it takes whatever arrived while the previous commit ran (so batches grow with the load and
cost no waiting when idle), optionally waits `window` seconds for more, and commits, on its
own database connection; SQLite's single writer gains most, one write transaction serving
many messages."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import close_old_connections

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
    """Collects items from many event-loop tasks and hands them to `commit` in batches, one
    batch at a time. `commit(items)` must commit all of them or none and raise on failure.

    No thread of its own (leader and followers, as PostgreSQL's WAL group commit): the pool
    thread whose items arrive while no commit runs commits them, then whatever arrived
    meanwhile, until nothing waits; items that arrive during a commit wait for the next
    batch of that thread. One thread hand-off per message fewer than a committer thread."""

    def __init__(
        self, commit: Callable[[list[T]], None], *, window: float = 0.0, max_batch: int = 256
    ) -> None:
        self._commit = commit
        self.window = window
        self.max_batch = max_batch
        self._pending: list[_Job[T]] = []
        self._leading = False  # a thread is committing (it takes what is pending after)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when leadership ends
        self.batches = 0  # commits made (tests, benchmarks)

    async def prepare_and_commit(self, prepare: Callable[[], list[T]]) -> list[T]:
        """Run `prepare` (file I/O, e.g. the spool write) on an asyncdb pool thread, which
        then commits its items with what else is pending (or leaves them to the thread
        committing now): the session's task wakes once, when the batch holding its items is
        committed. Raises what `prepare` or the commit raised."""
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
            self._pending.append(job)
            if self._leading:
                return  # the committing thread takes it next
            self._leading = True
        self._lead()

    def _lead(self) -> None:
        """Commit batches until nothing is pending, then give up leadership."""
        try:
            while True:
                if self.window > 0:
                    time.sleep(self.window)  # let more sessions join this batch
                with self._lock:
                    batch = self._pending[: self.max_batch]
                    del self._pending[: self.max_batch]
                    if not batch:
                        self._leading = False
                        self._idle.notify_all()
                        return
                self._commit_batch(batch)
        except BaseException:
            with self._lock:  # never strand what is pending without a leader
                self._leading = False
                self._idle.notify_all()
            raise

    def shutdown(self, timeout: float = 10.0) -> None:
        """Wait until what is pending is committed (server shutdown). The committing
        threads' database connections go with the asyncdb pool's."""
        with self._idle:
            self._idle.wait_for(lambda: not self._leading and not self._pending, timeout)

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


_queue_rows: GroupCommitter[SpooledEntry] | None = None


def queue_committer() -> GroupCommitter[SpooledEntry]:
    """The process's committer of queue rows (SMTP_GROUP_COMMIT_WINDOW_MS read at first use)."""
    global _queue_rows
    if _queue_rows is None:
        from django.conf import settings

        window = getattr(settings, "SMTP_GROUP_COMMIT_WINDOW_MS", 0.0) / 1000
        _queue_rows = GroupCommitter(do_commit_spooled, window=window)
    return _queue_rows
