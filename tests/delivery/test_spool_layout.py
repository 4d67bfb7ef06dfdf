"""The spool's directory layout: files accepted together share a directory (one fsync of it
serves a whole group commit), and sync_dirs syncs each directory once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mailcore.delivery import spool


@pytest.fixture
def spool_dir(settings, tmp_path: Path) -> Path:
    settings.SPOOL_DIR = tmp_path / "spool"
    return Path(settings.SPOOL_DIR)


def test_ids_made_together_share_a_directory(spool_dir: Path) -> None:
    ids = [spool.new_queue_id() for _ in range(20)]
    names = [spool.write(i, b"x", sync_dir=False).name for i in ids]
    # Made within a few milliseconds: at most two 30 ms buckets.
    assert len({n.partition("/")[0] for n in names}) <= 2
    spool.sync_dirs(names)
    digest = hashlib.sha256(b"x").hexdigest()
    for name, queue_id in zip(names, ids, strict=True):
        assert name.endswith("/" + queue_id)
        assert spool.read(name, size=1, sha256=digest) == b"x"


def test_ids_of_another_form_keep_their_last_two_characters(spool_dir: Path) -> None:
    assert spool.write("ABC123", b"x").name == "23/ABC123"
    assert (spool_dir / "23" / "ABC123").read_bytes() == b"x"
