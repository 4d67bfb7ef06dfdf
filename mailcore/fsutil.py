"""Durable file primitives shared by the spool, the Maildir module and upload storage: create a
file with all its bytes on disk, and make a directory entry durable. Nothing mail-specific."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make the entries of `path` (a rename, a link, a new file) survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create `path` (it must not exist), write all of `data` and fsync it. Raises OSError;
    the caller removes a partial file. The directory entry is not synced here."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
