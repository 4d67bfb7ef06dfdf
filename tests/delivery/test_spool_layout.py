"""The spool's directory layout: files accepted together share a directory (one fsync of it
serves a whole group commit); sync fsyncs the files written unsynced and each directory once,
and closes every descriptor."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from mailcore.delivery import spool
from mailcore.errors import StorageError


@pytest.fixture
def spool_dir(settings, tmp_path: Path) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    return Path(settings.SPOOL_DIR)


def test_ids_made_together_share_a_directory(spool_dir: Path) -> None:
    ids = [spool.new_queue_id() for _ in range(20)]
    files = [spool.write(i, b"x", sync_dir=False, sync_file=i in ids[:10]) for i in ids]
    names = [f.name for f in files]
    # Made within a few milliseconds: at most two 30 ms buckets.
    assert len({n.partition("/")[0] for n in names}) <= 2
    unsynced = [f.fd for f in files[10:]]
    assert [f.fd for f in files[:10]] == [-1] * 10 and min(unsynced) >= 0
    spool.sync(files)
    for fd in unsynced:
        with pytest.raises(OSError):
            os.fstat(fd)  # closed
    digest = hashlib.sha256(b"x").hexdigest()
    for name, queue_id in zip(names, ids, strict=True):
        assert name.endswith("/" + queue_id)
        assert spool.read(name, size=1, sha256=digest) == b"x"


def test_ids_of_another_form_keep_their_last_two_characters(spool_dir: Path) -> None:
    assert spool.write("ABC123", b"x").name == "23/ABC123"
    assert (spool_dir / "23" / "ABC123").read_bytes() == b"x"


def test_a_failed_sync_closes_every_descriptor_and_raises(spool_dir: Path) -> None:
    files = [spool.write(spool.new_queue_id(), b"x", sync_file=False) for _ in range(3)]
    os.close(files[1].fd)
    files[1] = dataclasses.replace(files[1], fd=2**20)  # no such descriptor: its fsync fails
    with pytest.raises(StorageError):
        spool.sync(files)
    for f in (files[0], files[2]):
        with pytest.raises(OSError):
            os.fstat(f.fd)


def test_discard_closes_and_removes(spool_dir: Path) -> None:
    f = spool.write(spool.new_queue_id(), b"x", sync_file=False)
    spool.discard(f)
    assert not (spool_dir / f.name).exists()
    with pytest.raises(OSError):
        os.fstat(f.fd)


@pytest.mark.parametrize("sync_file", [True, False])
def test_a_directory_that_vanished_is_made_again(spool_dir: Path, sync_file: bool) -> None:
    # No stat per message: the write finds the directory missing and makes it.
    spool.write("ABC123", b"x")
    (spool_dir / "23" / "ABC123").unlink()
    (spool_dir / "23").rmdir()
    f = spool.write("XYZ123", b"y", sync_file=sync_file)
    spool.sync([f])
    assert (spool_dir / "23" / "XYZ123").read_bytes() == b"y"


@pytest.mark.parametrize("sync_file", [True, False])
def test_a_queue_id_taken_already_leaves_the_file_there_alone(
    spool_dir: Path, sync_file: bool
) -> None:
    """A write whose queue id names a file there already (a collision, or a second write of
    one id) fails, and the file that was there (another message's, its row maybe committed)
    is kept as it was: the failed write removes only what it made itself."""
    queue_id = spool.new_queue_id()
    first = spool.write(queue_id, b"first message")
    with pytest.raises(StorageError):
        spool.write(queue_id, b"second", sync_file=sync_file)
    digest = hashlib.sha256(b"first message").hexdigest()
    assert spool.read(first.name, size=13, sha256=digest) == b"first message"
