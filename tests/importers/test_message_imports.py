"""import_mbox and import_maildir over the fixture files: folders, flags, keywords, kept
UIDs and UIDVALIDITY, dry runs, re-runs that store nothing twice, and reindex afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message, Source, SpecialUse
from mailcore.store.queries import maildir_for, read_message_bytes
from mailcore.store.reindex import reindex_account
from tests.conftest import database_url
from tests.importers.conftest import FIXTURES, run

pytestmark = pytest.mark.django_db(transaction=True)


def summary(text: str) -> str:
    return text.strip().splitlines()[-1]


def folder(account: Account, name: str) -> Folder:
    return Folder.objects.get(account=account, name=name)


def state(f: Folder) -> list[tuple[int, str, bool, bool, bool, bool, list[str]]]:
    return [
        (m.uid, m.subject, m.seen, m.answered, m.flagged, m.deleted, m.keywords)
        for m in Message.objects.filter(folder=f).order_by("uid")
    ]


# --- mbox --------------------------------------------------------------------------------------


def test_import_mbox_keeps_flags_uids_and_dates(alice: Account) -> None:
    path = str(FIXTURES / "mbox" / "alice")
    dry = run("import_mbox", path, "--account", "alice@example.com", "--dry-run")
    assert summary(dry.out) == (
        "dry run, nothing written: would have created 5, updated 0, already present 0, "
        "skipped 0, errors 0"
    )
    assert Message.objects.count() == 0

    res = run("import_mbox", path, "--account", "Alice@Example.com")
    assert res.failed == ""
    assert summary(res.out) == ("created 5, updated 0, already present 0, skipped 0, errors 0")
    assert "1 message(s) were marked deleted (X-Status: D) and keep \\Deleted" in res.out
    assert "alice → INBOX" in res.err and "100%" in res.err  # the progress bar
    inbox = folder(alice, "INBOX")
    assert inbox.uidvalidity == 1700000000  # X-IMAPbase: IMAP clients need not resync
    assert state(inbox) == [
        (100, "first", True, True, False, False, []),
        (105, "second, unread", False, False, False, False, ["$Label1", "Work", "Junk"]),
        (110, "third — flagged and deleted", False, False, True, True, []),
        (120, "same text twice", False, False, False, False, []),  # X-IMAPbase UIDNEXT
        (121, "same text twice", False, False, False, False, []),  # an identical copy
    ]
    assert (inbox.message_count, inbox.unseen_count) == (5, 4)
    assert inbox.uidnext == 122
    first = Message.objects.get(folder=inbox, uid=100)
    assert first.source == Source.IMPORT
    assert first.internal_date == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    raw = read_message_bytes(first)
    assert b"\r\n>From here, quoted twice" in raw and b"X-UID" not in raw
    assert first.size == len(raw)
    uidlist = (maildir_for(alice).root / "mailroom-uidlist").read_text()
    assert uidlist.startswith("mailroom-uidlist 1 V1700000000\n")

    again = run("import_mbox", path, "--account", "alice@example.com", "--no-progress")
    assert summary(again.out) == "created 0, updated 0, already present 5, skipped 0, errors 0"
    assert Message.objects.count() == 5
    # The CRLF copy of the same mailbox is the same messages.
    crlf = run("import_mbox", str(FIXTURES / "mbox-crlf"), "--account", "alice@example.com")
    assert "created 0, updated 0, already present 5" in summary(crlf.out)

    # Maildir is the truth: a reindex finds the same UIDs and UIDVALIDITY.
    reindex_account(alice)
    inbox.refresh_from_db()
    assert inbox.uidvalidity == 1700000000
    assert [u for u, *_ in state(inbox)] == [100, 105, 110, 120, 121]


def test_import_mbox_into_other_folders_and_a_directory(alice: Account) -> None:
    path = str(FIXTURES / "mbox" / "alice")
    res = run("import_mbox", path, "--account", "alice@example.com", "--folder", "Old/2024")
    assert "created  folder Old/2024" in res.out
    assert "created 6" in summary(res.out)  # the folder and five messages
    # A folder that already holds mail keeps its UIDVALIDITY; messages get new UIDs.
    inbox = folder(alice, "INBOX")
    do_append(acting_account=alice, folder=inbox, data=b"Subject: before\r\n\r\nhi\r\n")
    res = run("import_mbox", path, "--account", "alice@example.com", "--skip-deleted")
    assert "already held messages: imported ones get new UIDs" in res.out
    assert "skipped  line 32: message at line 32 — marked deleted (--skip-deleted)" in res.out
    inbox.refresh_from_db()
    assert inbox.uidvalidity != 1700000000
    assert [u for u, *_ in state(inbox)] == [1, 2, 3, 4, 5]
    # A directory of mbox files (Dovecot's ~/mail): each file is a folder.
    res = run("import_mbox", str(FIXTURES / "mbox"), "--account", "alice@example.com")
    assert "created  folder alice" in res.out
    assert folder(alice, "alice").message_count == 5


def test_import_mbox_uw_pseudo_message_and_errors(alice: Account) -> None:
    res = run(
        "import_mbox",
        str(FIXTURES / "mbox-uw"),
        "--account",
        "alice@example.com",
        "--folder",
        "Pine",
        "--format",
        "mboxo",
    )
    assert "skipped  line 1: message at line 1 — folder internal data" in res.out
    pine = folder(alice, "Pine")
    assert pine.uidvalidity == 1709719200 and pine.uidnext == 7
    assert [(u, s, seen) for u, s, seen, *_ in state(pine)] == [
        (3, "after the pseudo message", True)
    ]
    raw = read_message_bytes(Message.objects.get(folder=pine))
    assert b">>From stays quoted in mboxo." in raw

    bad = run("import_mbox", str(FIXTURES / "not-an-mbox"), "--account", "alice@example.com")
    assert bad.failed == "1 error(s); see above"
    assert "not an mbox file" in bad.out
    assert run("import_mbox", "/nonexistent", "--account", "alice@example.com").failed
    assert run("import_mbox", str(FIXTURES / "mbox-uw"), "--account", "nobody@example.com").failed
    bad_folder = run(
        "import_mbox",
        str(FIXTURES / "mbox-uw"),
        "--account",
        "alice@example.com",
        "--folder",
        "a/../b",
    )
    assert "cannot contain '.'" in bad_folder.out and bad_folder.failed


def test_import_over_quota_is_imported_and_said(make_account, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small = make_account("small@example.com", quota_bytes=500)
    res = run("import_mbox", str(FIXTURES / "mbox" / "alice"), "--account", small.address)
    assert "created 5" in summary(res.out)
    assert "note: small@example.com now uses" in res.out and "over its quota of 500" in res.out


def test_import_mbox_size_limit(alice: Account, tmp_path: Path) -> None:
    mbox = tmp_path / "mbox"
    mbox.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + b"x" * 3000 + b"\n\n"
        b"From a@b Mon Jan  1 00:00:01 2024\nSubject: small\n\nok\n"
    )
    res = run("import_mbox", str(mbox), "--account", "alice@example.com", "--max-size", "1000")
    assert "skipped  line 1: message at line 1 — message of 3020 bytes is larger" in res.out
    assert [s for _, s, *_ in state(folder(alice, "INBOX"))] == ["small"]


# --- Maildir -----------------------------------------------------------------------------------


def test_import_maildirpp_tree(alice: Account) -> None:
    path = str(FIXTURES / "maildir")  # the home directory: Maildir/ is found inside
    dry = run("import_maildir", path, "--account", "alice@example.com", "--dry-run")
    assert "would have created 11" in summary(dry.out)  # 2 new folders + 9 messages
    assert Message.objects.count() == 0 and not Folder.objects.filter(name="Work/Sub").exists()

    res = run("import_maildir", path, "--account", "alice@example.com")
    assert res.failed == "", res.out
    assert summary(res.out) == "created 11, updated 0, already present 0, skipped 0, errors 0"
    inbox = folder(alice, "INBOX")
    assert inbox.uidvalidity == 1234567890
    got = state(inbox)
    assert got[:2] == [
        (40, "inbox one", True, True, False, False, []),
        (41, "inbox two", False, False, True, False, ["$Label1", "Work"]),
    ]
    assert [u for u, *_ in got[2:]] == [45, 46]  # not in the uidlist: from its N45 on
    assert {s for _, s, *_ in got[2:]} == {"inbox new", "odd name"}
    inbox.refresh_from_db()
    assert inbox.uidnext == 47
    sent = Folder.objects.get(account=alice, special_use=SpecialUse.SENT)
    assert sent.uidvalidity == 1234567891
    assert [(u, kw) for u, _, _, _, _, _, kw in state(sent)] == [(1, []), (2, ["$Forwarded"])]
    junk = Folder.objects.get(account=alice, special_use=SpecialUse.JUNK)
    assert (junk.uidvalidity, [u for u, *_ in state(junk)], junk.uidnext) == (555, [7], 10)
    work = folder(alice, "Work/Sub")
    assert work.path == ".Work.Sub" and state(work)[0][5] is True  # T: \Deleted
    korean = folder(alice, "보관함")
    assert korean.path == ".&vPStANVo-" and state(korean)[0][1] == "korean folder"
    # Keys: the source's base name with the stored size, or one derived from an unsafe name.
    one = Message.objects.get(folder=inbox, uid=40)
    assert one.maildir_key == f"1600000001.M1P100.oldhost,S={one.size},W={one.size}"
    odd = Message.objects.get(folder=inbox, subject="odd name")
    assert odd.maildir_key.startswith("imp") and "\\" not in odd.maildir_key
    raw = read_message_bytes(one)
    assert raw.startswith(b"From: someone@example.org\r\n") and one.size == len(raw)
    keywords = (maildir_for(alice).root / "dovecot-keywords").read_text()
    assert "$Label1" in keywords and "Work" in keywords

    again = run("import_maildir", path, "--account", "alice@example.com", "--no-progress")
    assert summary(again.out) == "created 0, updated 0, already present 9, skipped 0, errors 0"
    reindex_account(alice)
    assert [u for u, *_ in state(folder(alice, "INBOX"))] == [40, 41, 45, 46]
    assert folder(alice, "INBOX").uidvalidity == 1234567890


def test_import_fs_layout_and_moved_messages(alice: Account, tmp_path: Path) -> None:
    tree = tmp_path / "src"
    shutil.copytree(FIXTURES / "maildir-fs", tree)
    (tree / "Empty" / "cur").mkdir(parents=True)  # an empty folder still comes over
    res = run("import_maildir", str(tree), "--account", "alice@example.com", "--layout", "fs")
    assert res.failed == ""
    assert "note: folder 'v1.2' is imported as 'v1_2'" in res.out
    names = set(Folder.objects.filter(account=alice).values_list("name", flat=True))
    assert {"Work/Projects", "v1_2", "Empty"} <= names
    sent = Folder.objects.get(account=alice, special_use=SpecialUse.SENT)
    assert [s for _, s, *_ in state(sent)] == ["fs sent"]
    # The user moves a message after the import; a re-run does not bring a second copy.
    from mailcore.store.actions import do_move

    moved = Message.objects.get(subject="fs project")
    do_move(acting_account=alice, messages=[moved], destination=folder(alice, "INBOX"))
    again = run("import_maildir", str(tree), "--account", "alice@example.com", "--layout", "fs")
    assert "created 0, updated 0, already present 4" in summary(again.out)
    assert Message.objects.filter(subject="fs project").count() == 1


def test_import_maildir_errors(alice: Account, tmp_path: Path) -> None:
    assert (
        "is not a Maildir"
        in run("import_maildir", str(tmp_path), "--account", "alice@example.com").failed
    )
    tree = tmp_path / "Maildir"
    shutil.copytree(FIXTURES / "maildir-fs", tree)
    big = tree / "cur" / "1600000999.M9P9.host:2,S"
    big.write_bytes(b"Subject: big\n\n" + b"x" * 5000)
    res = run("import_maildir", str(tree), "--account", "alice@example.com", "--max-size", "1000")
    assert res.failed == "1 error(s); see above"
    assert (
        "INBOX: cur/1600000999.M9P9.host:2,S: message — larger than the 1000-byte limit" in res.out
    )


def test_symlinks_in_a_users_tree_are_not_followed(alice: Account, tmp_path: Path) -> None:
    """A user who links ~/Maildir (or cur/) to someone else's mail gets nothing from it."""
    victim = tmp_path / "victim"
    shutil.copytree(FIXTURES / "maildir-fs", victim)
    home = tmp_path / "home"
    home.mkdir()
    (home / "Maildir").symlink_to(victim)
    res = run("import_maildir", str(home), "--account", "alice@example.com")
    assert "is not a Maildir" in res.failed
    tree = tmp_path / "own"
    (tree / "new").mkdir(parents=True)
    (tree / "new" / "1.M1P1.host").write_bytes(b"Subject: mine\n\nok\n")
    (tree / "Stolen").mkdir()
    (tree / "Stolen" / "cur").symlink_to(victim / "cur")
    (tree / "new" / "2.M2P2.host").symlink_to(victim / "cur" / "1600000100.M100P1.host:2,S")
    res = run("import_maildir", str(tree), "--account", "alice@example.com")
    assert "new/2.M2P2.host: not a regular file; skipped" in res.out
    assert [m.subject for m in Message.objects.filter(account=alice)] == ["mine"]


def test_a_storage_failure_stops_the_import_and_a_rerun_finishes_it(alice: Account) -> None:
    tmp = maildir_for(alice).root / "tmp"
    shutil.rmtree(tmp)
    tmp.write_bytes(b"")  # tmp/ is now a file: every write into this Maildir fails
    path = str(FIXTURES / "mbox" / "alice")
    res = run("import_mbox", path, "--account", "alice@example.com")
    assert res.failed == "1 error(s); see above"
    assert "import stopped, run it again once fixed" in res.out
    assert Message.objects.count() == 0
    tmp.unlink()
    tmp.mkdir()
    res = run("import_mbox", path, "--account", "alice@example.com")
    assert summary(res.out) == "created 5, updated 0, already present 0, skipped 0, errors 0"


def test_an_import_killed_mid_message_loses_and_doubles_nothing(alice: Account, settings) -> None:  # type: ignore[no-untyped-def]
    """The process dies after a message file is written and before its row commits (as if
    killed); the re-run indexes that file instead of storing it twice."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
        "MAILROOM_FAULT": "deliver.after_file",
    }
    cmd = [sys.executable, "manage.py", "import_mbox", str(FIXTURES / "mbox" / "alice")]
    cmd += ["--account", "alice@example.com", "--no-progress"]
    root = Path(__file__).resolve().parents[2]
    died = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=120, check=False)
    assert died.returncode == 137, died.stderr
    assert Message.objects.count() == 0
    assert len(list((maildir_for(alice).root / "cur").iterdir())) == 1  # the orphan file
    res = run("import_mbox", str(FIXTURES / "mbox" / "alice"), "--account", "alice@example.com")
    assert summary(res.out) == "created 5, updated 0, already present 0, skipped 0, errors 0"
    files = list((maildir_for(alice).root / "cur").iterdir()) + list(
        (maildir_for(alice).root / "new").iterdir()
    )
    assert len(files) == Message.objects.count() == 5
    assert [u for u, *_ in state(folder(alice, "INBOX"))] == [100, 105, 110, 120, 121]


def test_import_actions_check_the_owner(alice: Account, bob: Account) -> None:
    from mailcore.errors import NotFoundError
    from mailcore.store.actions import do_adopt_uidvalidity, do_import_message, do_reserve_uids

    theirs = folder(bob, "INBOX")
    with pytest.raises(NotFoundError):
        do_import_message(acting_account=alice, folder=theirs, data=b"x\r\n", key="k1", uid=5)
    with pytest.raises(NotFoundError):
        do_adopt_uidvalidity(acting_account=alice, folder=theirs, uidvalidity=42)
    with pytest.raises(NotFoundError):
        do_reserve_uids(acting_account=alice, folder=theirs, uidnext=99)
    theirs.refresh_from_db()
    assert theirs.uidnext == 1 and theirs.uidvalidity != 42
