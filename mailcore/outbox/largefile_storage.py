"""Large-file bytes on disk: LARGE_FILE_DIR/<random name>, one file per upload, written chunk
by chunk at the committed offset and fsynced before the chunk is acknowledged.

The only module that touches large files. Names are random tokens, never user input; nothing
here reads a whole file into memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from mailcore.errors import ConflictError, StorageError
from mailcore.fsutil import fsync_dir, write_all

BLOCK = 1024 * 1024  # what one read from the network or the disk takes at most


class ShortChunkError(Exception):
    """The request body ended before its declared length (a dropped connection)."""


def _dir() -> Path:
    path = Path(settings.LARGE_FILE_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def path_of(name: str) -> Path:
    return _dir() / name


def create() -> str:
    """A new empty file; its name. The directory entry is durable before the row exists."""
    directory = _dir()
    name = secrets.token_hex(16)
    try:
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        fsync_dir(directory)
    except OSError as exc:
        raise StorageError(f"cannot create large file: {exc}") from exc
    return name


@contextmanager
def _locked(name: str) -> Iterator[int]:
    """The file open for writing under an exclusive lock; ConflictError('upload_busy') if
    another request writes it now (two tabs resuming the same upload)."""
    try:
        fd = os.open(path_of(name), os.O_WRONLY)
    except FileNotFoundError as exc:
        raise StorageError(f"large file {name} is missing") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ConflictError(
                "another request is uploading this file right now", code="upload_busy"
            ) from exc
        yield fd
    finally:
        os.close(fd)  # releases the lock


def write_at(
    name: str,
    offset: int,
    length: int,
    read: Callable[[int], bytes],
    *,
    committed: Callable[[], int],
) -> None:
    """Write `length` bytes from `read` at `offset`, truncate there and fsync. `committed`
    is called under the lock and must return the offset of record: a chunk for another
    offset is a ConflictError('offset_mismatch'). Raises ShortChunkError when the body ends
    early (nothing past `offset` counts then) and StorageError on I/O failure."""
    with _locked(name) as fd:
        if committed() != offset:
            raise ConflictError(
                "the chunk does not start at the upload's offset", code="offset_mismatch"
            )
        left = length
        try:
            os.lseek(fd, offset, os.SEEK_SET)
            while left:
                block = read(min(BLOCK, left))
                if not block:
                    raise ShortChunkError(f"{left} bytes missing")
                write_all(fd, block[:left])
                left -= min(len(block), left)
            os.ftruncate(fd, offset + length)
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"cannot write large file {name}: {exc}") from exc


def truncate(name: str, size: int = 0) -> None:
    with _locked(name) as fd:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"cannot truncate large file {name}: {exc}") from exc


def digest(name: str) -> tuple[int, str]:
    """(size, SHA-256 hex) of the file on disk, read block by block."""
    sha = hashlib.sha256()
    size = 0
    try:
        with open(path_of(name), "rb", buffering=0) as fh:
            while block := fh.read(BLOCK * 4):
                sha.update(block)
                size += len(block)
    except OSError as exc:
        raise StorageError(f"cannot read large file {name}: {exc}") from exc
    return size, sha.hexdigest()


def remove(name: str) -> None:
    try:
        path_of(name).unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot remove large file {name}: {exc}") from exc


def names() -> Iterator[str]:
    for entry in os.scandir(_dir()):
        if entry.is_file():
            yield entry.name


class RangeReader:
    """The bytes [start, start+length) of a file in blocks; close() closes the file even when
    iteration never started (a HEAD, a client gone before the first byte)."""

    def __init__(self, name: str, start: int, length: int) -> None:
        try:
            self._fh = open(path_of(name), "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise StorageError(f"cannot open large file {name}: {exc}") from exc
        self._start, self._left = start, length

    def __iter__(self) -> Iterator[bytes]:
        self._fh.seek(self._start)
        while self._left > 0:
            block = self._fh.read(min(BLOCK, self._left))
            if not block:
                return
            self._left -= len(block)
            yield block

    def close(self) -> None:
        self._fh.close()


def read_head(name: str, length: int = 16) -> bytes:
    """The first bytes of a file (for type sniffing)."""
    try:
        with open(path_of(name), "rb") as fh:
            return fh.read(length)
    except OSError as exc:
        raise StorageError(f"cannot open large file {name}: {exc}") from exc
