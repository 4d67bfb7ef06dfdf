"""Durable file primitives shared by the spool, the Maildir module and upload storage: create a
file with all its bytes on disk, and make a directory entry durable. Nothing mail-specific."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path


def fsync_dir(path: Path | str) -> None:
    """Make the entries of `path` (a rename, a link, a new file) survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path | str, data: bytes, mode: int = 0o600) -> None:
    """Create `path` (it must not exist), write all of `data` and fsync it. Raises OSError;
    the caller removes a partial file. The directory entry is not synced here."""
    fd = create_file(path, data, mode)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_file(path: Path | str, data: bytes, mode: int = 0o600) -> int:
    """Create `path` (it must not exist) and write all of `data`, not yet fsynced: its open
    descriptor is returned (the caller fsyncs, e.g. with a batch in fsync_side_by_side, and
    closes it). Raises OSError, the descriptor closed; the caller removes a partial file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a write may be short, e.g. near a full disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_checked(path: Path | str, *, size: int, sha256: str) -> bytes | None:
    """The bytes of `path`, or None when they do not match the recorded size and SHA-256
    (a truncated or altered file). Raises OSError when it cannot be read."""
    with open(path, "rb", buffering=0) as f:
        data = f.read()
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data


# Threads that only wait in fsync (the GIL is released there), for fsync_side_by_side: the
# delivery worker's Maildir files and the SMTP side's spool files and directories. Jobs and
# answers travel through C-level queues (a ThreadPoolExecutor's submit, with its Python
# semaphore, was 15 % of the SMTP committer thread's time holding the GIL). Started on first
# use; a forked child starts its own (the parent's threads are not in it).
SYNC_THREADS = 8
_Answer = queue.SimpleQueue[tuple[int, OSError | None]]
_sync_jobs: queue.SimpleQueue[tuple[int, int, _Answer]] = queue.SimpleQueue()
_syncers: list[threading.Thread] = []
_syncers_lock = threading.Lock()


def _syncer(jobs: queue.SimpleQueue[tuple[int, int, _Answer]]) -> None:
    while True:
        n, fd, answer = jobs.get()
        try:
            os.fsync(fd)
        except OSError as exc:
            answer.put((n, exc))
        else:
            answer.put((n, None))


def _start_syncers() -> None:
    with _syncers_lock:
        while len(_syncers) < SYNC_THREADS:
            thread = threading.Thread(target=_syncer, args=(_sync_jobs,), name="fsync", daemon=True)
            thread.start()
            _syncers.append(thread)


def _forget_syncers() -> None:
    """In a forked child: none of the parent's threads (nor its queue's waiters) is here."""
    global _sync_jobs
    _sync_jobs = queue.SimpleQueue()
    _syncers.clear()


os.register_at_fork(after_in_child=_forget_syncers)


def fsync_side_by_side(fds: Sequence[int]) -> list[OSError | None]:
    """fsync every descriptor of `fds` (left open), side by side: on ext4 concurrent fsyncs
    share journal commits, and they cost the caller less CPU as well as less time (32 new
    4 KiB files: about 60 us of process CPU each against 120-145 one after the other, in a
    micro-benchmark on this machine's disk). Returns each one's error (None: durable), in
    order, once every fsync has ended (so none still uses a descriptor the caller closes)."""
    errors: list[OSError | None] = [None] * len(fds)
    if not fds:
        return errors
    side = len(fds) > 1
    if side and len(_syncers) < SYNC_THREADS:
        try:
            _start_syncers()
        except RuntimeError:  # no thread could be started: one after the other, here
            side = bool(_syncers)
    answer: _Answer = queue.SimpleQueue()
    for n in range(1, len(fds)):
        if side:
            _sync_jobs.put((n, fds[n], answer))
        else:
            try:
                os.fsync(fds[n])
            except OSError as exc:
                errors[n] = exc
    try:
        os.fsync(fds[0])
    except OSError as exc:
        errors[0] = exc
    for _ in range(1, len(fds) if side else 1):
        n, error = answer.get()
        errors[n] = error
    return errors
