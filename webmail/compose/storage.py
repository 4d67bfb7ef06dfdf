"""Upload bytes on disk: UPLOAD_DIR/<random name>, written and fsynced before their row exists.

The only module that touches upload files. Names are random tokens, never user input.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mailcore.errors import StorageError
from mailcore.fsutil import fsync_dir, read_checked

_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class StoredUpload:
    name: str
    size: int
    sha256: str


def _dir() -> Path:
    path = Path(settings.UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write(chunks: Iterable[bytes], *, max_bytes: int) -> StoredUpload:
    """Stream `chunks` into a new file (tmp name, fsync, rename, fsync dir). Raises
    StorageError on I/O failure and ValueError past `max_bytes`; nothing is left behind."""
    directory = _dir()
    name = secrets.token_hex(16)
    tmp = directory / (name + _TMP_SUFFIX)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "xb") as fh:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError("upload too large")
                digest.update(chunk)
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(directory / name)
        fsync_dir(directory)
    except ValueError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot store upload: {exc}") from exc
    return StoredUpload(name=name, size=size, sha256=digest.hexdigest())


def read(name: str, *, size: int, sha256: str) -> bytes:
    """The bytes of `name`, checked against the row's size and digest."""
    try:
        data = read_checked(_dir() / name, size=size, sha256=sha256)
    except OSError as exc:
        raise StorageError(f"upload {name} is unreadable: {exc}") from exc
    if data is None:
        raise StorageError(f"upload {name} does not match its record")
    return data


def remove(name: str) -> None:
    try:
        (_dir() / name).unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot remove upload {name}: {exc}") from exc


def iter_older_than(seconds: float) -> Iterator[str]:
    """Names (tmp debris included) of files not modified for `seconds`."""
    cutoff = time.time() - seconds
    for entry in os.scandir(_dir()):
        if entry.is_file() and entry.stat().st_mtime < cutoff:
            yield entry.name
