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
from mailcore.fsutil import (
    create_file,
    fsync_dir,
    fsync_side_by_side,
    read_checked,
    write_new_file,
)

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
    # write(sync_file=False): the file's descriptor, still open and its data not yet
    # fsynced; sync() fsyncs and closes it. -1: written and fsynced (and closed).
    fd: int = -1


def _root() -> Path:
    return Path(settings.SPOOL_DIR)


def _root_str() -> str:
    """SPOOL_DIR as a string, for the hot path's os calls (pathlib's objects cost more than
    the system calls they name; the setting is read every time: tests change it)."""
    return os.fspath(settings.SPOOL_DIR)


def write(
    queue_id: str, data: bytes, *, sync_dir: bool = True, sync_file: bool = True
) -> SpoolFile:
    """Write and fsync `data` (file and directory). Raises StorageError on any failure, leaving
    no partial file behind. With `sync_dir=False` the directory entry is not yet durable, and
    with `sync_file=False` neither are the bytes (the file stays open, SpoolFile.fd): the
    caller must pass the file to sync() before it commits the file's queue row (the group
    committer does, for a batch of files at once)."""
    if not queue_id.isalnum():
        raise StorageError("bad queue id")
    sub_name = _subdir(queue_id)
    name = f"{sub_name}/{queue_id}"
    root = _root_str()
    sub = f"{root}/{sub_name}"
    path = f"{sub}/{queue_id}"
    fd = -1
    try:
        # No stat per message: the file is created in its directory, which is made (and its
        # entry in the spool's root synced) only when the creation finds it missing.
        try:
            fd = _create(path, data, sync_file)
        except FileNotFoundError:
            os.makedirs(sub, exist_ok=True)
            fsync_dir(root)
            fd = _create(path, data, sync_file)
        if sync_dir:
            fsync_dir(sub)
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        if not isinstance(exc, FileExistsError):  # that file is another message's: kept
            with contextlib.suppress(OSError):
                os.unlink(path)  # what this write made, partial or not durable
        raise StorageError(f"spool write failed: {exc}") from exc
    return SpoolFile(name, len(data), hashlib.sha256(data).hexdigest(), fd)


def _create(path: str, data: bytes, sync_file: bool) -> int:
    """Create `path` (it must not exist) with `data`: fsynced and closed (-1), or with
    `sync_file=False` left open, its descriptor returned. Raises OSError (FileNotFoundError:
    the directory is missing, and no file was made)."""
    if sync_file:
        write_new_file(path, data)
        return -1
    return create_file(path, data)


def _subdir(queue_id: str) -> str:
    """Two characters of the id's time part that change every 30 ms (new_queue_id), so the
    files of concurrent sessions share a directory and the group committer syncs it once for
    them all (sync_dirs), while 900 directories, cycled every 27 s, spread a backlog. An id
    of another form: its last two characters."""
    return queue_id[6:8] if len(queue_id) == _ID_LENGTH else queue_id[-2:]


def sync(files: list[SpoolFile]) -> None:
    """Make spool files durable: the bytes of those written with sync_file=False (their
    descriptors are closed, whatever happens) and the directory entries of all, one fsync per
    distinct directory; the fsyncs run side by side. Raises StorageError."""
    fds = [f.fd for f in files if f.fd >= 0]
    try:
        root = _root_str()
        for sub in dict.fromkeys(_dir_of(f.name) for f in files):
            # One at a time: those opened before a failure are closed below.
            fds.append(os.open(f"{root}/{sub}", os.O_RDONLY | os.O_DIRECTORY))  # noqa: PERF401
        # Side by side (fsutil.fsync_side_by_side: concurrent fsyncs share ext4 journal
        # commits); every one has ended before the descriptors are closed below.
        error = next((e for e in fsync_side_by_side(fds) if e is not None), None)
        if error is not None:
            raise error
    except (OSError, StorageError) as exc:
        raise StorageError(f"spool sync failed: {exc}") from exc
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def discard(file: SpoolFile) -> None:
    """Give up a spool file not accepted: its descriptor closed if still open, the file
    removed."""
    if file.fd >= 0:
        with contextlib.suppress(OSError):
            os.close(file.fd)
    remove(file.name)


def read(name: str, *, size: int, sha256: str) -> bytes:
    """The spooled bytes, verified against the committed size and digest."""
    try:
        data = read_checked(_path_str(name), size=size, sha256=sha256)
    except OSError as exc:
        raise StorageError(f"spool file {name} unreadable: {exc}") from exc
    if data is None:
        raise StorageError(f"spool file {name} does not match its queue entry (corrupt)")
    return data


def remove(name: str) -> None:
    """Remove the spool file `name`; a malformed name (a damaged row) names no file: nothing
    is removed."""
    try:
        path = _path_str(name)
    except StorageError:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _path(name: str) -> Path:
    return _root() / _dir_of(name) / name.partition("/")[2]


def _path_str(name: str) -> str:
    """_path as a string, for the hot path's os calls (see _root_str)."""
    return f"{_root_str()}/{_dir_of(name)}/{name.partition('/')[2]}"


def _dir_of(name: str) -> str:
    """The directory of the spool file `name`, relative to SPOOL_DIR; StorageError for a
    malformed name."""
    sub, _, queue_id = name.partition("/")
    if not (sub.isalnum() and queue_id.isalnum()):
        raise StorageError(f"bad spool name {name!r}")
    return sub


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
