"""Maildir++ on disk: the write protocol, names, flags, UIDs, and path-traversal refusals."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mailcore.errors import InvalidFolderNameError, StorageError
from mailcore.store.maildir import (
    Maildir,
    folder_name_for_path,
    folder_path_for_name,
    split_filename,
)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("INBOX", ""),
        ("inbox", ""),
        ("Sent", ".Sent"),
        ("Work/Projects", ".Work.Projects"),
        ("받은편지", ".&vBvHQNO4ycA-"),
        ("日本語", ".&ZeVnLIqe-"),
        ("R&D", ".R&-D"),
        ("To Me", ".To Me"),
    ],
)
def test_folder_names_round_trip(name: str, path: str) -> None:
    assert folder_path_for_name(name) == path
    assert folder_name_for_path(path) == ("INBOX" if path == "" else name)


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../other",
        "a/../b",
        "a.b",
        ".hidden",
        "",
        "a//b",
        "/abs",
        "~bob",
        "x\x00y",
        "tab\there",
        " lead",
        "a\\b",
        "x" * 300,
    ],
)
def test_folder_names_that_could_escape_are_refused(name: str) -> None:
    with pytest.raises(InvalidFolderNameError):
        folder_path_for_name(name)


@pytest.mark.parametrize("path", ["..", ".", "./x", "../x", "/etc", ".a/b", "&"])
def test_foreign_paths_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(InvalidFolderNameError):
        Maildir(tmp_path).folder_dir(path) if "/" in path or path in {
            ".",
            "..",
        } else folder_name_for_path(path)


def test_deliver_is_atomic_and_idempotent(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Maildir")
    md.create_folder("", 1234)
    stored, created = md.deliver("", "q1.abc.host,S=5", b"hello", mtime=1_700_000_000)
    assert created and not stored.in_cur
    # The key's S= is not the file's: the name carries the sizes of what is on disk.
    assert stored.key == "q1.abc.host,S=5,W=5" and stored.wire_size == 5
    assert (tmp_path / "Maildir/new/q1.abc.host,S=5,W=5").read_bytes() == b"hello"
    assert list((tmp_path / "Maildir/tmp").iterdir()) == []
    again, created_again = md.deliver("", "q1.abc.host,S=5", b"hello")
    assert not created_again and again.key == stored.key
    assert len(list((tmp_path / "Maildir/new").iterdir())) == 1
    assert (tmp_path / "Maildir/new/q1.abc.host,S=5,W=5").stat().st_mtime == 1_700_000_000


def test_flags_live_in_the_info_suffix(tmp_path: Path) -> None:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    md.deliver("", "k1", b"x")
    md.set_info("", "k1", in_cur=False, info="", new_info="FS")
    assert [p.name for p in (tmp_path / "cur").iterdir()] == ["k1,S=1,W=1:2,FS"]
    # Another Maildir client renamed it behind our back: locate still finds it.
    (tmp_path / "cur/k1,S=1,W=1:2,FS").rename(tmp_path / "cur/k1,S=1,W=1:2,S")
    assert md.read("", "k1", in_cur=True, info="FS") == b"x"
    md.unlink("", "k1", in_cur=True, info="FS")
    assert not list((tmp_path / "cur").iterdir())
    md.unlink("", "k1")  # idempotent


def test_a_file_renamed_between_lookup_and_use_is_found_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web app marks a message seen (new/ → cur/:2,S) while its body is being read: the
    reader looked the file up under its old name just before the rename."""
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    md.deliver("", "k1", b"body")
    real_locate = Maildir.locate
    renames = iter(["S", "RS"])  # two flag changes land between lookups and uses

    def locate_then_lose_the_race(self: Maildir, *args: object, **kwargs: object) -> Path:
        found = real_locate(self, *args, **kwargs)  # type: ignore[arg-type]
        letters = next(renames, None)
        if letters is not None:
            found.rename(tmp_path / "cur" / f"k1:2,{letters}")
        return found

    monkeypatch.setattr(Maildir, "locate", locate_then_lose_the_race)
    assert md.read("", "k1") == b"body"
    renames = iter(["S"])
    md.set_info("", "k1", in_cur=False, info="", new_info="FS")  # renames what it finds now
    renames = iter(["FRS"])
    md.create_folder(".Archive", 2)
    md.move("", ".Archive", "k1", in_cur=True, info="FS", new_info="FRS")
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / ".Archive" / "cur").iterdir()] == ["k1:2,FRS"]
    assert not list((tmp_path / "cur").iterdir()) and not list((tmp_path / "new").iterdir())
    # Gone for good: a clear StorageError, not an endless search.
    with pytest.raises(StorageError, match="missing"):
        md.read("", "k1")


def test_reads_never_fail_while_flags_change_under_them(tmp_path: Path) -> None:
    """Real concurrency, bounded: one thread changes flags every 0.2 ms (far faster than
    any user or IMAP client) while this one reads; every read returns the bytes."""
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    md.deliver("", "k1", b"body")
    stop = threading.Event()
    state = {"info": "", "in_cur": False}

    def flip() -> None:
        letters = ["S", "FS", "RS", ""]
        for i in range(20_000):
            if stop.is_set():
                return
            new = letters[i % len(letters)]
            md.set_info("", "k1", in_cur=state["in_cur"], info=state["info"], new_info=new)
            state.update(info=new, in_cur=True)
            time.sleep(0.0002)

    writer = threading.Thread(target=flip)
    writer.start()
    try:
        reads = [md.read("", "k1") for _ in range(2_000)]
    finally:
        stop.set()
        writer.join(timeout=30)
    assert set(reads) == {b"body"}


def test_uidlist_append_and_compact(tmp_path: Path) -> None:
    md = Maildir(tmp_path)
    md.create_folder(".Sent", 777)
    md.append_uid(".Sent", 1, "a")
    md.append_uid(".Sent", 2, "b")
    md.append_uid(".Sent", 3, "a")  # moved out and back: the later line wins
    assert md.read_uidlist(".Sent") == (777, {"a": 3, "b": 2})
    md.rewrite_uidlist(".Sent", 777, {"b": 2})
    assert md.read_uidlist(".Sent") == (777, {"b": 2})
    assert (tmp_path / ".Sent/maildirfolder").exists()


def test_keywords_use_dovecot_letters(tmp_path: Path) -> None:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    assert md.keyword_letters("", ["$Work", "Later"]) == "ab"
    assert md.keyword_letters("", ["Later"]) == "b"
    assert md.read_keywords("") == ["$Work", "Later"]


def test_unsafe_keys_are_refused(tmp_path: Path) -> None:
    md = Maildir(tmp_path)
    md.create_folder("", 1)
    for key in ["../x", "a/b", ".hidden", "a:2,S"]:
        with pytest.raises(StorageError):
            md.deliver("", key, b"x")


def test_split_filename() -> None:
    assert split_filename("123.abc:2,FS") == ("123.abc", "FS")
    assert split_filename("123.abc") == ("123.abc", "")


def test_clean_tmp_removes_only_old_debris(tmp_path: Path) -> None:
    import os

    md = Maildir(tmp_path)
    md.create_folder("", 1)
    old, fresh = tmp_path / "tmp/old", tmp_path / "tmp/fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (1, 1))
    assert md.clean_tmp("", 36 * 3600) == 1
    assert fresh.exists() and not old.exists()
