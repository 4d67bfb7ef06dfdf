"""Liveness of delivery worker processes, so that a crash costs seconds, not a lease.

Every worker process registers a DeliveryWorker row and refreshes its heartbeat from a thread;
its claims (the in-progress DeliveryAttempt rows) carry its name. A worker is dead when its
heartbeat is older than WORKER_STALE_SECONDS, or at once when it ran on this machine (same boot,
same pid namespace) and its process is gone. A worker that starts, and every sweep, releases
the leases of dead workers and rings the doorbell for them (Postfix's qmgr re-scans its active
queue at start). Leases of live workers are kept, however long their attempt takes.

Does not deliver anything itself; only mailcore.delivery.tasks (Celery signals) registers.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from mailcore.delivery.models import DeliveryAttempt, DeliveryWorker, EntryState, QueueEntry

log = logging.getLogger("mailroom")


@dataclass(frozen=True, slots=True)
class Identity:
    name: str  # unique per process and start: what its claims carry
    host: str
    host_key: str  # boot id + pid namespace: where `pid` names this very process
    pid: int
    pid_started: int  # the process's start time in clock ticks after boot (0 = unknown)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def host_key() -> str:
    """Identifies the pid space of this process: the kernel's boot id and the pid namespace.
    Two containers with one hostname differ here, so one never judges the other's pids."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    if not boot:
        return ""  # no /proc: pids are never judged, only heartbeats
    return f"{boot}/{namespace}"[:100]


def process_started(pid: int) -> int | None:
    """Start time of `pid` (field 22 of /proc/<pid>/stat), None if no such process; 0 when it
    cannot be told. A zombie counts as gone."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return 0
        return 0
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return 0


_current: Identity | None = None
_stop = threading.Event()


def current() -> Identity | None:
    """This process's identity if it registered as a worker (a fork must register anew)."""
    if _current is not None and _current.pid == os.getpid():
        return _current
    return None


def new_identity() -> Identity:
    pid = os.getpid()
    host = socket.gethostname()[:200]
    name = f"{host}:{pid}:{secrets.token_hex(3)}"[:200]
    return Identity(name, host, host_key(), pid, process_started(pid) or 0)


def is_dead(worker: DeliveryWorker, *, stale_before: datetime, here: str) -> bool:
    if worker.heartbeat_at < stale_before:
        return True
    if not here or worker.host_key != here:
        return False  # another machine: only its heartbeat can tell
    started = process_started(worker.pid)
    return started is None or bool(worker.pid_started and started and started != worker.pid_started)


def any_alive() -> bool:
    """Does some delivery worker's heartbeat say it is alive (within WORKER_STALE_SECONDS,
    the rule is_dead applies)?"""
    stale_before = timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    return DeliveryWorker.objects.filter(heartbeat_at__gte=stale_before).exists()


def dead_workers() -> list[str]:
    """Names of registered workers that are gone (see the module docstring)."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    here = host_key()
    mine = current()
    return [
        w.name
        for w in DeliveryWorker.objects.all()[:10000]
        if not (mine and w.name == mine.name) and is_dead(w, stale_before=stale_before, here=here)
    ]


def do_release_dead_leases() -> list[int]:
    """Free the entries that dead workers were delivering (due now), close their attempts as
    'worker died', drop the dead workers' rows; returns the freed entry ids. The caller rings
    the doorbell for them."""
    dead = dead_workers()
    if not dead:
        return []
    now = timezone.now()
    with transaction.atomic():
        attempts = DeliveryAttempt.objects.filter(
            worker__in=dead,
            finished_at__isnull=True,
            entry__state=EntryState.QUEUED,
            entry__attempts=F("number"),
        )
        lost = list(attempts.values_list("pk", "entry_id", "worker"))
        ids = sorted({entry_id for _, entry_id, _ in lost})
        qs = QueueEntry.objects.filter(pk__in=ids)
        if connection.features.has_select_for_update_skip_locked:
            # An entry whose row another transaction holds is being handled right now.
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("pk", flat=True))
        QueueEntry.objects.filter(pk__in=ids).update(locked_until=None, next_attempt_at=now)
        DeliveryAttempt.objects.filter(
            pk__in=[pk for pk, entry_id, _ in lost if entry_id in ids]
        ).update(
            finished_at=now, result="worker died", detail="the worker process died mid-attempt"
        )
        DeliveryWorker.objects.filter(name__in=dead).delete()
    for name in dead:
        taken = sorted(
            entry_id for _, entry_id, worker in lost if worker == name and entry_id in ids
        )
        log.warning(
            "worker %s is gone; %d leased entr%s released%s",
            name,
            len(taken),
            "y" if len(taken) == 1 else "ies",
            f": {taken[:20]}" if taken else "",
        )
    return ids


def _heartbeat(identity: Identity) -> None:
    now = timezone.now()
    updated = DeliveryWorker.objects.filter(name=identity.name).update(heartbeat_at=now)
    if not updated:  # first beat, or our row was removed while the database was away
        DeliveryWorker.objects.update_or_create(
            name=identity.name,
            defaults={
                "host": identity.host,
                "host_key": identity.host_key,
                "pid": identity.pid,
                "pid_started": identity.pid_started,
                "started_at": now,
                "heartbeat_at": now,
            },
        )


def _beat_loop(identity: Identity, registered: threading.Event) -> None:
    """Runs in its own thread (so its own database connection) for the life of the process."""
    while True:
        try:
            _heartbeat(identity)
            registered.set()
        except DatabaseError:
            log.warning("worker %s: heartbeat failed; retrying", identity.name, exc_info=True)
        finally:
            connection.close()  # one short connection per beat, none held in between
        if _stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            return


def register(timeout: float = 10.0) -> Identity:
    """Make this process a registered worker: its row is written (by the heartbeat thread,
    on a connection of its own, so a connection inherited over fork is never used) and
    refreshed every WORKER_HEARTBEAT_SECONDS until exit. Idempotent per process."""
    global _current
    mine = current()
    if mine is not None:
        return mine
    identity = new_identity()
    registered = threading.Event()
    _stop.clear()
    threading.Thread(
        target=_beat_loop, args=(identity, registered), name="worker-heartbeat", daemon=True
    ).start()
    if not registered.wait(timeout):
        log.warning("worker %s: not registered yet (database unreachable?)", identity.name)
    _current = identity
    log.info("worker %s registered", identity.name)
    return identity


def unregister() -> None:
    """On a clean shutdown: stop beating and remove the row (nothing is leased by then)."""
    global _current
    mine = current()
    if mine is None:
        return
    _stop.set()
    _current = None
    try:
        DeliveryWorker.objects.filter(name=mine.name).delete()
    except DatabaseError:
        log.warning("worker %s: could not remove its row", mine.name, exc_info=True)


_settled_pid = 0


def settle_heap(*, once: bool = False) -> None:
    """Move every object alive now into the cyclic GC's permanent generation (gc.freeze):
    Django's, Celery's and the delivery path's modules, settings and caches live as long as
    the process, yet each full collection traversed them all again (bench/deliver.py: 0.22 ms
    of a message's 2-3 ms of CPU; 0.05 once frozen). Called when a worker process starts, and
    with `once` after its first delivered batch (the modules the first message imported: the
    sender checks' and the MIME code's tables). Collects first, so no garbage is frozen."""
    import gc

    global _settled_pid
    if once:
        if _settled_pid == os.getpid():
            return
        _settled_pid = os.getpid()
    gc.collect()
    gc.freeze()
