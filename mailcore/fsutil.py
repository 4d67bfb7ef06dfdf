"""Durable file primitives shared by the spool, the Maildir module and upload storage: create a
file with all its bytes on disk, and make a directory entry durable. Nothing mail-specific."""

from __future__ import annotations

import hashlib
import os
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


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
