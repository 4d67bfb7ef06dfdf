"""Celery tasks: thin wrappers that load by id and call an action. Retries are not Celery's
job here: the queue row's next_attempt_at and the periodic sweep are the retry schedule."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.db import close_old_connections

from mailcore.delivery.actions import do_dispatch_untried, do_process_entries, do_sweep
from mailcore.delivery.workers import settle_heap
from mailcore.inbound import warm_up as warm_up_checks

log = logging.getLogger("mailroom")


# A task rung for a few entries also takes other due inbound entries, up to this many in all:
# under a backlog, batches grow (one claim, one index transaction, one bookkeeping transaction
# for many messages) and the notices for what it took find nothing left to do.
PULL_BATCH = 64


@shared_task(bind=True, name="mailcore.deliver_entries", acks_late=True, ignore_result=True)
def deliver_entries(self: Any, entry_ids: list[int]) -> dict[int, str]:
    close_old_connections()  # connections live across tasks (CELERY_DB_REUSE_MAX): drop bad ones
    ids = [int(i) for i in entry_ids][:100]
    done = do_process_entries(ids, worker=str(self.request.hostname or ""), fill_to=PULL_BATCH)
    if done:
        settle_heap(once=True)
    return done


@shared_task(name="mailcore.sweep_queue", ignore_result=True)
def sweep_queue() -> dict[str, int]:
    close_old_connections()
    return do_sweep()


@shared_task(name="mailcore.dispatch_due_untried", ignore_result=True, expires=30)
def dispatch_due_untried() -> int:
    close_old_connections()
    return do_dispatch_untried()


def _start_worker(sender: Any = None, **_: Any) -> None:
    """A worker process starts: register it (heartbeat), and take over at once what workers
    that are gone had leased (Postfix's qmgr re-scans its active queue at start). Runs in a
    thread of its own, so a database connection inherited over fork is never touched. Then
    its delivery loop starts (mailcore.delivery.loop), in each process that runs tasks: the
    prefork children, or the main process of a solo or threads pool."""
    import threading

    from mailcore.delivery import loop

    thread = threading.Thread(target=_take_over, name="worker-start")
    thread.start()
    thread.join(30)
    warm_up_checks()
    settle_heap()
    pool = getattr(sender, "pool", None)
    if pool is not None and "prefork" in type(pool).__module__:
        return  # the main process of a prefork pool only consumes; its children deliver
    loop.start()


def _take_over() -> None:
    from django.db import DatabaseError, connection

    from mailcore.delivery.entries import dispatch
    from mailcore.delivery.workers import do_release_dead_leases, register

    register()
    try:
        for entry_id in do_release_dead_leases():
            dispatch(entry_id)
    except DatabaseError:  # the database is away: the sweep does this once it is back
        log.warning("could not release the leases of dead workers", exc_info=True)
    finally:
        connection.close()


def _stop_worker(**_: Any) -> None:
    from mailcore.delivery import loop
    from mailcore.delivery.workers import unregister

    loop.stop()  # its batch in hand finishes first: nothing leased is left behind
    unregister()


# worker_ready: the main process (it runs the tasks with --pool solo/threads); prefork children
# run them otherwise, and register themselves.
worker_ready.connect(_start_worker, weak=False)
worker_process_init.connect(_start_worker, weak=False)
worker_shutdown.connect(_stop_worker, weak=False)
worker_process_shutdown.connect(_stop_worker, weak=False)
