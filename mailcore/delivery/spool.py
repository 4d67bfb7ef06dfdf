"""The durable spool: raw accepted messages, written and fsynced before SMTP says 250.

A spool file counts only once its queue row (holding size and SHA-256, the file's trailer) is
committed; files without a row are orphans that the sweep removes. Only this module and
mailcore.store.maildir touch mail files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mailcore.errors import StorageError
from mailcore.fsutil import fsync_dir, read_checked, write_new_file

_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXZ"  # no vowels: ids never spell words


_ID_LENGTH = 15
_TAIL_SPACE = len(_ALPHABET) ** 6


def new_queue_id() -> str:
    """Time-ordered, unique without coordination: 9 chars of milliseconds + 6 random."""
    ms = int(time.time() * 1000)
    head = ""
    for _ in range(9):
        ms, rem = divmod(ms, len(_ALPHABET))
        head = _ALPHABET[rem] + head
    # One draw from the system's random source for the six random characters (six
    # secrets.choice calls were six getrandom() system calls: 2.5 % of the SMTP process).
    rnd = secrets.randbelow(_TAIL_SPACE)
    tail = ""
    for _ in range(6):
        rnd, rem = divmod(rnd, len(_ALPHABET))
        tail += _ALPHABET[rem]
    return head + tail


@dataclass(frozen=True, slots=True)
class SpoolFile:
    name: str  # relative to SPOOL_DIR
    size: int
    sha256: str


def _root() -> Path:
    return Path(settings.SPOOL_DIR)


def write(queue_id: str, data: bytes, *, sync_dir: bool = True) -> SpoolFile:
    """Write and fsync `data` (file and directory). Raises StorageError on any failure, leaving
    no partial file behind. With `sync_dir=False` the directory entry is not yet durable: the
    caller must pass the file to sync_dirs() before it commits the file's queue row (the group
    committer does, once per directory for a batch of files)."""
    if not queue_id.isalnum():
        raise StorageError("bad queue id")
    name = f"{_subdir(queue_id)}/{queue_id}"
    sub = _root() / name.partition("/")[0]
    path = sub / queue_id
    try:
        if not sub.is_dir():
            sub.mkdir(parents=True, exist_ok=True)
            fsync_dir(sub.parent)
        write_new_file(path, data)
        if sync_dir:
            fsync_dir(sub)
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise StorageError(f"spool write failed: {exc}") from exc
    return SpoolFile(name, len(data), hashlib.sha256(data).hexdigest())


def _subdir(queue_id: str) -> str:
    """Two characters of the id's time part that change every 30 ms (new_queue_id), so the
    files of concurrent sessions share a directory and the group committer syncs it once for
    them all (sync_dirs), while 900 directories, cycled every 27 s, spread a backlog. An id
    of another form: its last two characters."""
    return queue_id[6:8] if len(queue_id) == _ID_LENGTH else queue_id[-2:]


def sync_dirs(names: list[str]) -> None:
    """Make the directory entries of the spool files `names` durable: one fsync per distinct
    directory, however many of the files landed in it. Raises StorageError."""
    try:
        for sub in dict.fromkeys(_path(name).parent for name in names):
            fsync_dir(sub)
    except OSError as exc:
        raise StorageError(f"spool directory sync failed: {exc}") from exc


def read(name: str, *, size: int, sha256: str) -> bytes:
    """The spooled bytes, verified against the committed size and digest."""
    try:
        data = read_checked(_path(name), size=size, sha256=sha256)
    except OSError as exc:
        raise StorageError(f"spool file {name} unreadable: {exc}") from exc
    if data is None:
        raise StorageError(f"spool file {name} does not match its queue entry (corrupt)")
    return data


def remove(name: str) -> None:
    """Remove the spool file `name`; a malformed name (a damaged row) names no file: nothing
    is removed."""
    try:
        path = _path(name)
    except StorageError:
        return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _path(name: str) -> Path:
    sub, _, queue_id = name.partition("/")
    if not (sub.isalnum() and queue_id.isalnum()):
        raise StorageError(f"bad spool name {name!r}")
    return _root() / sub / queue_id


def iter_files(older_than: float) -> Iterator[tuple[str, float]]:
    """(name, mtime) of spool files older than `older_than` seconds (orphan candidates)."""
    cutoff = time.time() - older_than
    root = _root()
    if not root.is_dir():
        return
    for sub in os.scandir(root):
        if not sub.is_dir():
            continue
        for entry in os.scandir(sub.path):
            st = entry.stat()
            if st.st_mtime < cutoff:
                yield f"{sub.name}/{entry.name}", st.st_mtime


def exists(name: str) -> bool:
    """Whether the spool file `name` is there (an unreadable directory counts as there: only a
    file known to be missing is ever judged missing)."""
    try:
        _path(name).stat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True
