"""The stem index of mailcore.store.maildir in a busy folder: a flag change or a delivery
changes the directory's mtime, which must not cost every later lookup in it a rescan of the
whole directory (10,000 entries: ~10 ms each, per IMAP STORE/EXPUNGE/body FETCH); a hint is
still used when it names exactly the file asked for, and anything else is looked up again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailcore.store import maildir as maildir_module
from mailcore.store.maildir import Maildir


class _ScanCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.scans = 0
        real = os.scandir

        def counting(path: os.PathLike[str] | str) -> os.ScandirIterator[str]:
            self.scans += 1
            return real(path)

        monkeypatch.setattr(maildir_module.os, "scandir", counting)


@pytest.fixture
def busy(tmp_path: Path) -> Maildir:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    for i in range(50):
        md.deliver("", f"k{i}", b"line\n" * (i + 1), info="S", in_cur=True)
    return md


def test_a_flag_change_does_not_make_the_next_lookups_rescan(
    busy: Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _ScanCounter(monkeypatch)
    assert busy.read("", "k1", in_cur=True, info="S") == b"line\r\n" * 2  # first look: a scan
    assert counter.scans == 1
    busy.set_info("", "k2", in_cur=True, info="S", new_info="FS")  # cur/ mtime changes
    busy.set_info("", "k2", in_cur=True, info="FS", new_info="S")
    busy.deliver("", "new1", b"fresh\n", info="S", in_cur=True)
    for i in (3, 4, 5, 2):
        assert busy.read("", f"k{i}", in_cur=True, info="S") == b"line\r\n" * (i + 1)
    assert busy.read("", "new1", in_cur=True, info="S") == b"fresh\r\n"
    assert counter.scans == 1


def test_a_stale_hint_is_never_followed_to_a_wrong_file(
    busy: Maildir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert busy.read("", "k7", in_cur=True, info="S") == b"line\r\n" * 8
    # Another Maildir client changes the flags behind our back.
    (old,) = [p for p in (tmp_path / "cur").iterdir() if p.name.startswith("k7,")]
    old.rename(old.with_name(old.name.replace(":2,S", ":2,RS")))
    counter = _ScanCounter(monkeypatch)
    # Our row still says "S": the hint's file is gone, so the directory is read again.
    assert busy.read("", "k7", in_cur=True, info="S") == b"line\r\n" * 8
    assert counter.scans == 1
    busy.unlink("", "k7", in_cur=True, info="RS")
    assert not [p for p in (tmp_path / "cur").iterdir() if p.name.startswith("k7,")]
