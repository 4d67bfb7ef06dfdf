"""The LF layout of message files (issue 9 item 16): LF line ends on disk as every Unix MDA
writes them, '<stem>,S=<disk>,W=<crlf>' names, exact CRLF readers (whole, streamed, ranged),
and the conversion of files written before, safe to interrupt and to run again."""

from __future__ import annotations

import fcntl
import mailbox
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mailcore.errors import StorageError
from mailcore.store.maildir import (
    RENAME_LOCK,
    Maildir,
    canonical_crlf,
    key_stem,
    name_sizes,
    split_filename,
)

MSG = (
    b"Return-Path: <a@example.org>\r\n"
    b"Subject: lines\r\n"
    b"From: A <a@example.org>\r\n"
    b"\r\n"
    b"first line\r\n"
    b"a bare \r inside a line\r\n"  # survives the round trip
    b"\r\n"
    b".\r\n"
    b"last line without end"
)


def files(d: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") for p in (d / sub).iterdir())


def legacy_deliver(md: Maildir, path: str, key: str, data: bytes, info: str = "") -> Path:
    """What the code before the LF layout left: CRLF bytes under the key itself."""
    d = md.folder_dir(path)
    target = d / "cur" / f"{key}:2,{info}" if info else d / "new" / key
    target.write_bytes(data)
    return target


@pytest.fixture
def md(tmp_path: Path) -> Maildir:
    m = Maildir(tmp_path / "Maildir")
    m.create_folder("", 1)
    return m


def test_files_have_lf_line_ends_and_the_crlf_size_in_their_name(md: Maildir) -> None:
    stored, created = md.deliver("", "q1.abc.host,S=171", MSG)
    (path,) = files(md.root)
    on_disk = path.read_bytes()
    header = on_disk.split(b"\n\n", 1)[0]
    assert b"\r" not in header  # mutt shows no ^M
    assert on_disk == MSG.replace(b"\r\n", b"\n")
    disk, wire = name_sizes(path.name)
    assert path.name == f"q1.abc.host,S={len(on_disk)},W={len(MSG)}"
    assert (disk, wire) == (len(on_disk), len(MSG)) == (stored.size, stored.wire_size)
    assert created and stored.key == path.name
    # Readers get the CRLF form back, byte for byte, by every route.
    assert md.read("", "q1.abc.host,S=171") == MSG
    with md.open_crlf("", "q1.abc.host,S=171") as reader:
        assert reader.size == len(MSG)
        assert reader.read_all() == MSG
    assert b"".join(md.iter_crlf("", "q1.abc.host,S=171", chunk_size=3)) == MSG
    assert md.crlf_size("", "q1.abc.host,S=171") == len(MSG)


def test_a_unix_mail_reader_sees_lf_lines(md: Maildir) -> None:
    """Python's mailbox.Maildir reads like mutt: the file as it is, lines split at LF."""
    md.deliver("", "q1.abc.host", MSG)
    box = mailbox.Maildir(md.root, factory=None, create=False)
    (msg,) = list(box)
    assert msg["Subject"] == "lines" and msg["From"] == "A <a@example.org>"
    raw = box.get_bytes(next(iter(box.keys())))
    assert all(not line.endswith(b"\r") for line in raw.split(b"\n")[:3])


@pytest.mark.parametrize(
    ("given", "reads_back"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\nb\n", b"a\r\nb\r\n"),  # bare LF: a line end
        (b"a\rb\r\n", b"a\rb\r\n"),  # bare CR inside a line: kept
        (b"a\r\r\nb", b"a\r\nb"),  # CR before a line end: part of the line end
        (b"\r\n\r\n", b"\r\n\r\n"),
        (b"end\r", b"end\r"),  # a CR at the very end: kept
        (b"", b""),
    ],
)
def test_line_end_round_trip(md: Maildir, given: bytes, reads_back: bytes) -> None:
    stored, _ = md.deliver("", "k1", given)
    assert md.read("", "k1") == reads_back == canonical_crlf(given)
    assert stored.wire_size == len(reads_back) == md.crlf_size("", "k1")
    assert b"\r\n" not in files(md.root)[0].read_bytes()


def test_canonical_data_is_not_copied() -> None:
    assert canonical_crlf(MSG) is MSG


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 64 * 1024])
@pytest.mark.parametrize("layout", ["lf", "legacy-crlf", "foreign-lf"])
def test_ranged_reads_match_slices_of_the_crlf_form(
    md: Maildir, chunk_size: int, layout: str
) -> None:
    if layout == "lf":
        md.deliver("", "k1", MSG)
    elif layout == "legacy-crlf":
        legacy_deliver(md, "", "k1", MSG)
    else:  # dropped in by procmail: LF, no sizes in the name
        (md.root / "new" / "k1").write_bytes(MSG.replace(b"\r\n", b"\n"))
    with md.open_crlf("", "k1", chunk_size=chunk_size) as reader:
        assert reader.size == len(MSG)
        assert b"".join(reader.chunks()) == MSG
        for start in range(len(MSG) + 2):
            for length in (0, 1, 2, 7, len(MSG)):
                assert reader.read_range(start, length) == MSG[start : start + length]
    assert md.read_crlf_range("", "k1", 3, 20) == MSG[3:23]
    with pytest.raises(ValueError):
        md.read_crlf_range("", "k1", -1, 2)


def test_a_reader_keeps_reading_while_the_file_is_renamed(md: Maildir) -> None:
    md.deliver("", "k1", MSG * 1000)
    chunks = md.iter_crlf("", "k1", chunk_size=4096)
    first = next(chunks)
    md.set_info("", "k1", in_cur=False, info="", new_info="S")  # the web app marks it seen
    assert first + b"".join(chunks) == MSG * 1000


def test_a_name_with_a_wrong_s_is_not_trusted_for_w(md: Maildir) -> None:
    (md.root / "new" / "k1,S=3,W=99999").write_bytes(b"a\nb\n")
    with md.open_crlf("", "k1") as reader:
        assert reader.size == 6 and reader.read_all() == b"a\r\nb\r\n"
    assert [f.wire_size for f in md.scan("")] == [None]


def test_a_delivery_started_before_the_lf_layout_is_not_stored_twice(md: Maildir) -> None:
    """A retry after the upgrade finds the CRLF file the old code wrote under the key."""
    old = legacy_deliver(md, "", "q1.abc.host,S=171", MSG)
    stored, created = md.deliver("", "q1.abc.host,S=171", MSG)
    assert not created and files(md.root) == [old] and old.read_bytes() == MSG
    assert stored.key == "q1.abc.host,S=171" and stored.wire_size == len(MSG)
    # Flags, moves and deletes of an old file keep its name (not converted behind its back).
    md.set_info("", "q1.abc.host,S=171", in_cur=False, info="", new_info="S")
    assert [p.name for p in files(md.root)] == ["q1.abc.host,S=171:2,S"]
    assert md.read("", "q1.abc.host,S=171") == MSG


def test_conversion_rewrites_names_and_line_ends_and_keeps_flags(md: Maildir) -> None:
    md.create_folder(".Work", 2)
    legacy_deliver(md, "", "1.a.host,S=171", MSG)
    legacy_deliver(md, "", "2.b.host,S=171", MSG, info="FS")
    legacy_deliver(md, ".Work", "3.c.host,S=171,W=171", MSG, info="Ra")  # an import's name
    md.deliver("", "4.d.host,S=5", b"new\r\n")  # LF layout already
    (md.root / "new" / "5.e.host").write_bytes(b"Subject: procmail\n\nhi\n")  # foreign LF
    report = md.convert_folder("", dry_run=True)
    assert (report.converted, report.renamed, report.current) == (2, 1, 1)
    assert len(list((md.root / "new").iterdir())) == 3  # a dry run changes nothing
    for path in ("", ".Work"):
        md.convert_folder(path)
    names = sorted(p.name for p in files(md.root) + files(md.root / ".Work"))
    lf = len(MSG.replace(b"\r\n", b"\n"))
    assert names == sorted(
        [
            f"1.a.host,S={lf},W={len(MSG)}",
            f"2.b.host,S={lf},W={len(MSG)}:2,FS",
            f"3.c.host,S={lf},W={len(MSG)}:2,Ra",
            "4.d.host,S=4,W=5",
            "5.e.host,S=22,W=25",
        ]
    )
    for key, path in (
        ("1.a.host,S=171", ""),
        ("2.b.host,S=171", ""),
        ("3.c.host,S=171,W=171", ".Work"),
    ):
        assert md.read(path, key) == MSG
    assert md.read("", "5.e.host") == b"Subject: procmail\r\n\r\nhi\r\n"
    assert not any(b"\r\n" in p.read_bytes() for p in files(md.root))
    again = md.convert_folder("")
    assert (again.converted, again.renamed, again.current, again.kept) == (0, 0, 4, [])
    assert list((md.root / "tmp").iterdir()) == []


def test_conversion_keeps_a_file_whose_crlf_form_would_change(md: Maildir) -> None:
    old = legacy_deliver(md, "", "k1,S=6", b"a\r\r\nb\r\n")
    report = md.convert_folder("")
    assert report.converted == 0 and report.kept == ["new/k1,S=6: a CR before a line end"]
    assert old.read_bytes() == b"a\r\r\nb\r\n" and md.read("", "k1,S=6") == b"a\r\r\nb\r\n"


def test_conversion_keeps_mtime_and_mode(md: Maildir) -> None:
    old = legacy_deliver(md, "", "k1,S=9", b"x\r\ny\r\nz\r\n")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    old.chmod(0o640)
    md.convert_folder("")
    (new,) = files(md.root)
    assert new.stat().st_mtime == 1_600_000_000 and new.stat().st_mode & 0o777 == 0o640


CONVERT = """
import sys
from pathlib import Path
from mailcore.store.maildir import Maildir
Maildir(Path(sys.argv[1])).convert_folder("")
"""


def test_an_interrupted_conversion_leaves_valid_files_and_a_rerun_finishes(md: Maildir) -> None:
    """Killed between the content swap and the rename of a file (the worst moment): every
    message is there once, reads the same, and the next run completes the job."""
    bodies = {f"{n}.q.host,S={len(MSG) + n}": MSG + b"x" * n for n in range(6)}
    for n, (key, data) in enumerate(bodies.items()):
        legacy_deliver(md, "", key, data, info="S" if n % 2 else "")
    env = dict(os.environ, MAILROOM_FAULT="maildir.convert.after_content")
    run = subprocess.run([sys.executable, "-c", CONVERT, str(md.root)], env=env, check=False)
    assert run.returncode == 137
    half = files(md.root)
    assert len(half) == 6  # one file per message at every instant
    assert sum(1 for p in half if b"\r\n" not in p.read_bytes()) == 1  # one swapped, not renamed
    for key, data in bodies.items():
        assert md.read("", key) == data
    rerun = subprocess.run([sys.executable, "-c", CONVERT, str(md.root)], check=False)
    assert rerun.returncode == 0
    done = files(md.root)
    assert len(done) == 6 and all(b"\r\n" not in p.read_bytes() for p in done)
    assert {key_stem(split_filename(p.name)[0]) for p in done} == {key_stem(k) for k in bodies}
    for key, data in bodies.items():
        assert md.read("", key) == data and md.crlf_size("", key) == len(data)
    assert md.convert_folder("").current == 6


def test_conversion_and_flag_changes_never_duplicate_or_lose_a_file(md: Maildir) -> None:
    """Real concurrency, bounded: a thread flips flags on every message while the folder is
    converted; the rename lock keeps one file per message with the last flags written."""
    keys = [f"{n}.k.host,S=171" for n in range(40)]
    for key in keys:
        legacy_deliver(md, "", key, MSG)
    last: dict[str, str] = {}
    stop = threading.Event()
    errors: list[BaseException] = []

    def flip() -> None:
        state = dict.fromkeys(keys, "")
        try:
            for round_ in range(6):
                for key in keys:
                    new = "S" if round_ % 2 == 0 else "FS"
                    md.set_info("", key, in_cur=bool(state[key]), info=state[key], new_info=new)
                    state[key] = last[key] = new
                if stop.is_set():
                    break
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=flip)
    t.start()
    for _ in range(3):
        md.convert_folder("")
    t.join(60)
    stop.set()
    md.convert_folder("")
    assert not errors
    got = {key_stem(split_filename(p.name)[0]): split_filename(p.name)[1] for p in files(md.root)}
    assert len(files(md.root)) == len(keys) == len(got)
    assert got == {key_stem(k): last[k] for k in keys}
    for key in keys:
        assert md.read("", key) == MSG


def test_unlink_under_conversion_does_not_resurrect(md: Maildir) -> None:
    legacy_deliver(md, "", "k1,S=171", MSG)
    fd = os.open(md.root / RENAME_LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a conversion step holds the folder
    done = threading.Event()
    t = threading.Thread(target=lambda: (md.unlink("", "k1,S=171"), done.set()))
    t.start()
    assert not done.wait(0.2)  # the expunge waits for the step to finish
    os.close(fd)
    t.join(10)
    assert done.is_set() and files(md.root) == []


def test_a_missing_file_is_a_clear_error(md: Maildir) -> None:
    with pytest.raises(StorageError, match="missing"):
        md.read_crlf_range("", "nope", 0, 10)
    with pytest.raises(StorageError, match="missing"):
        list(md.iter_crlf("", "nope"))


def test_fast_line_end_paths_agree_with_the_regex_definitions(tmp_path: Path) -> None:
    """bytes.replace fast paths and chunked readers against the plain definitions, on many
    random strings of 'a', CR and LF (seeded: the same strings every run)."""
    import random
    import re

    from mailcore.store.maildir import CrlfReader, to_crlf_form, to_disk_form

    rng = random.Random(16)
    for n in range(400):
        data = bytes(rng.choice(b"a\r\n") for _ in range(rng.randrange(0, 40)))
        crlf = re.sub(rb"(?<!\r)\n", b"\r\n", data)
        assert to_crlf_form(data) == crlf
        assert to_disk_form(data) == re.sub(rb"\r*\n", b"\n", data)
        path = tmp_path / f"m{n}"
        path.write_bytes(data)
        for chunk_size in (1, 2, 3, 64):
            with CrlfReader(open(path, "rb"), path.name, chunk_size) as reader:
                assert reader.size == len(crlf)
                assert reader.read_all() == crlf
                start, length = rng.randrange(0, 45), rng.randrange(0, 45)
                assert reader.read_range(start, length) == crlf[start : start + length]


def test_two_files_of_one_stem_are_told_apart_by_their_flags(md: Maildir) -> None:
    """A repeated delivery wrote a second copy beside one the user flagged meanwhile; rolling
    the repeat back removes the repeat, not the user's copy."""
    md.deliver("", "k1,S=171", MSG, info="F")
    stored, created = md.deliver("", "k1,S=171", MSG, info="S")
    assert created and len(files(md.root)) == 2
    md.read("", "k1,S=171", in_cur=True, info="F")  # index the directory with both in it
    md.unlink("", "k1,S=171", in_cur=stored.in_cur, info=stored.info)
    assert [split_filename(p.name)[1] for p in files(md.root)] == ["F"]
