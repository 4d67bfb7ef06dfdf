"""A delivery batch's Maildir files (do_deliver_many): every file written to tmp/, then all
fsynced side by side (mailcore.fsutil.fsync_side_by_side), then each linked into new/. Each
file is still durable before its link; a file whose fsync fails is not delivered and leaves
nothing behind; no descriptor is left open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcore import fsutil
from mailcore.errors import StorageError
from mailcore.store.maildir import Maildir, PendingFile, StoredFile, finish_deliveries


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _start(md: Maildir, n: int) -> list[PendingFile]:
    out = []
    for i in range(n):
        started = md.start_delivery("", f"q{i}.k,S=6", b"x\r\ny\r\n", mtime=1_700_000_000.0)
        assert isinstance(started, PendingFile)
        out.append(started)
    return out


def test_every_file_is_fsynced_before_any_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    synced: set[int] = set()
    real_fsync, real_link = os.fsync, os.link
    links: list[int] = []

    def fsync(fd: int) -> None:
        real_fsync(fd)
        synced.add(fd)

    def link(src: str, dst: str) -> None:
        links.append(len(synced))
        real_link(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    before = _open_fds()
    pending = _start(md, 5)
    fds = {p.fd for p in pending}
    results = finish_deliveries(pending, dirs_to_sync=[])
    assert fds <= synced and links == [len(synced)] * 5
    assert all(isinstance(r, tuple) and r[1] for r in results)
    assert sorted(os.listdir(tmp_path / "new")) == sorted(p.name for p in pending)
    assert os.listdir(tmp_path / "tmp") == []
    assert _open_fds() == before
    stored = results[0]
    assert isinstance(stored, tuple) and isinstance(stored[0], StoredFile)
    assert stored[0].mtime == 1_700_000_000.0 and stored[0].size == 4  # LF on disk


def test_a_failed_fsync_fails_that_copy_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    before = _open_fds()
    pending = _start(md, 3)
    bad = pending[1].fd
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if fd == bad:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    results = finish_deliveries(pending, dirs_to_sync=[])
    assert isinstance(results[1], StorageError)
    assert isinstance(results[0], tuple) and isinstance(results[2], tuple)
    assert sorted(os.listdir(tmp_path / "new")) == sorted([pending[0].name, pending[2].name])
    assert os.listdir(tmp_path / "tmp") == []
    assert _open_fds() == before


def test_side_by_side_answers_in_order_and_after_a_fork(tmp_path: Path) -> None:
    fds = [os.open(tmp_path / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(6)]
    try:
        assert fsutil.fsync_side_by_side(fds) == [None] * 6
        closed = fds.pop()
        os.close(closed)
        assert [e is None for e in fsutil.fsync_side_by_side([*fds, closed])] == [True] * 5 + [
            False
        ]
        pid = os.fork()
        if pid == 0:  # the child starts threads of its own: the parent's are not here
            code = 1
            try:  # whatever happens, the child never returns into pytest's session
                code = 0 if fsutil.fsync_side_by_side(fds) == [None] * 5 else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        for fd in fds:
            os.close(fd)


def test_without_threads_the_files_are_fsynced_in_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(fsutil, "_syncers", [])
    monkeypatch.setattr(fsutil, "_start_syncers", refuse)
    fds = [os.open(tmp_path / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600) for i in range(3)]
    closed = fds.pop()
    os.close(closed)
    try:
        assert [e is None for e in fsutil.fsync_side_by_side([*fds, closed])] == [
            True,
            True,
            False,
        ]
    finally:
        for fd in fds:
            os.close(fd)
