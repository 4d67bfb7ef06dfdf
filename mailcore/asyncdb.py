"""The one way asyncio code (SMTP, IMAP, POP3) calls the synchronous ORM: a bounded thread
pool whose threads keep their own database connections and drop broken ones."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.db import close_old_connections, connections

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        from django.conf import settings

        _executor = ThreadPoolExecutor(
            max_workers=getattr(settings, "ASYNC_DB_THREADS", 8), thread_name_prefix="db"
        )
    return _executor


def _call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # Drops a connection that is past CONN_MAX_AGE or saw an error (a database restart):
    # that call fails with a temporary error, the next one reconnects.
    close_old_connections()
    return fn(*args, **kwargs)


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(_call, fn, *args, **kwargs))


def submit(fn: Callable[[], object]) -> None:
    """Run `fn` on a pool thread without waiting for it: `fn` reports its own outcome (the
    group committer's spool step hands its result on to the committer thread, so the caller's
    task wakes once instead of twice)."""
    _pool().submit(_call, fn)


def shutdown() -> None:
    """Close every pool thread's database connection and stop the pool (server shutdown)."""
    global _executor
    pool, _executor = _executor, None
    if pool is None:
        return
    size = pool._max_workers
    barrier = threading.Barrier(size)

    def close() -> None:
        # The barrier makes each of the pool's threads take exactly one of these jobs.
        barrier.wait(10)
        connections.close_all()

    for future in [pool.submit(close) for _ in range(size)]:
        future.result(15)
    pool.shutdown(wait=True)
