"""Store actions keep Maildir and the index in step; reindex rebuilds the index from Maildir
alone (messages, flags, keywords, UIDs, UIDVALIDITY, user folders)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from mailcore.store.actions import (
    do_append,
    do_create_folder,
    do_delete_messages,
    do_move,
    do_rename_folder,
    do_set_flags,
)
from mailcore.store.maildir import key_stem, split_filename
from mailcore.store.models import Folder, Message
from tests.api.helpers import message_path

pytestmark = pytest.mark.django_db(transaction=True)


def raw(n: int) -> bytes:
    return (
        f"From: s{n}@remote.example\r\nTo: alice@example.com\r\nSubject: message {n}\r\n"
        f"Message-ID: <{n}@remote.example>\r\n\r\nbody {n}\r\n"
    ).encode()


def folder(account, special: str) -> Folder:  # type: ignore[no-untyped-def]
    return Folder.objects.get(account=account, special_use=special)


def root(settings, account) -> Path:  # type: ignore[no-untyped-def]
    return Path(settings.MAIL_ROOT) / account.storage_path / "Maildir"


def stem_names(directory: Path) -> list[str]:
    """The files of a new/ or cur/ directory as '<key stem>[:2,<info>]' (no S=/W= sizes)."""
    out = []
    for p in directory.iterdir():
        base, info = split_filename(p.name)
        out.append(f"{key_stem(base)}:2,{info}" if ":2," in p.name else key_stem(base))
    return sorted(out)


def snapshot(account) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    return {
        m.maildir_key: (
            m.folder.name,
            m.folder.uidvalidity,
            m.uid,
            m.seen,
            m.answered,
            m.flagged,
            m.deleted,
            m.draft,
            tuple(m.keywords),
            m.subject,
            m.size,
        )
        for m in Message.objects.filter(account=account).select_related("folder")
    }


def assert_counters_match(account) -> None:  # type: ignore[no-untyped-def]
    for f in Folder.objects.filter(account=account):
        rows = Message.objects.filter(folder=f)
        assert (f.message_count, f.unseen_count) == (
            rows.count(),
            rows.filter(seen=False).count(),
        ), f.name


def test_default_folders_exist_on_disk(alice, settings) -> None:
    names = sorted(Folder.objects.filter(account=alice).values_list("name", flat=True))
    assert names == ["Drafts", "INBOX", "Junk", "Sent", "To Me", "Trash"]
    r = root(settings, alice)
    for sub in ("", ".Sent", ".Drafts", ".Junk", ".Trash", ".To Me"):
        assert (r / sub / "cur").is_dir() and (r / sub / "mailroom-uidlist").exists()
    assert r == Path(settings.MAIL_ROOT) / "example.com" / "alice" / "Maildir"


def test_flags_move_delete_keep_disk_and_index_in_step(alice, settings) -> None:
    inbox = folder(alice, "inbox")
    m1 = do_append(acting_account=alice, folder=inbox, data=raw(1))
    m2 = do_append(acting_account=alice, folder=inbox, data=raw(2))
    assert (m1.uid, m2.uid) == (1, 2)
    do_set_flags(
        acting_account=alice, messages=[m1], add=["seen", "flagged"], add_keywords=["$Work"]
    )
    m1.refresh_from_db()
    assert (m1.seen, m1.flagged, m1.info, m1.in_cur) == (True, True, "FSa", True)
    assert f"{key_stem(m1.maildir_key)}:2,FSa" in stem_names(root(settings, alice) / "cur")
    work = do_create_folder(acting_account=alice, name="Work")
    do_move(acting_account=alice, messages=[m1], destination=work)
    m1.refresh_from_db()
    assert m1.folder_id == work.pk and m1.uid == 1
    assert stem_names(root(settings, alice) / ".Work" / "cur") == [
        f"{key_stem(m1.maildir_key)}:2,FSa"
    ]
    assert m1.keywords == ["$Work"]
    do_delete_messages(acting_account=alice, messages=[m2])
    m2.refresh_from_db()
    assert m2.folder.special_use == "trash"
    assert do_delete_messages(acting_account=alice, messages=[m2]) == {"trashed": 0, "expunged": 1}
    assert not Message.objects.filter(pk=m2.pk).exists()
    assert not list((root(settings, alice) / ".Trash" / "cur").iterdir())
    assert_counters_match(alice)


def test_flag_changes_from_stale_rows_lose_nothing(alice, settings) -> None:
    """Opening a message marks it seen while a star on it is being saved: two requests, each
    with the row as it was before the other. Both flags stay, on disk and in the index, and
    the unseen counter moves once."""
    inbox = folder(alice, "inbox")
    do_append(acting_account=alice, folder=inbox, data=raw(1))
    opened, starred = Message.objects.get(), Message.objects.get()  # two views of one row
    do_set_flags(acting_account=alice, messages=[opened], add=["seen"])
    do_set_flags(acting_account=alice, messages=[starred], add=["flagged"])
    assert (starred.seen, starred.flagged, starred.info) == (True, True, "FS")  # caller's copy
    m = Message.objects.get()
    assert (m.seen, m.flagged, m.info, m.in_cur) == (True, True, "FS", True)
    assert stem_names(root(settings, alice) / "cur") == [f"{key_stem(m.maildir_key)}:2,FS"]
    assert_counters_match(alice)
    # A stale "unread" after it was read and unstarred elsewhere: the counter stays exact.
    unread = Message.objects.get()
    do_set_flags(acting_account=alice, messages=[Message.objects.get()], remove=["flagged"])
    do_set_flags(acting_account=alice, messages=[unread], remove=["seen"])
    m = Message.objects.get()
    assert (m.seen, m.flagged, m.info) == (False, False, "")
    assert_counters_match(alice)
    # Expunged meanwhile: nothing to write, no error.
    gone = Message.objects.get()
    do_delete_messages(acting_account=alice, messages=[Message.objects.get()])
    do_delete_messages(acting_account=alice, messages=[Message.objects.get()])
    do_set_flags(acting_account=alice, messages=[gone], add=["seen"])
    assert not gone.seen and not Message.objects.exists()
    assert_counters_match(alice)


def test_a_bulk_action_goes_ahead_when_one_file_is_gone(alice, settings) -> None:
    """A message expunged in another tab (or its file removed by another Maildir client)
    since the list was read: the rest of a bulk mark-read or move is done, that one is left."""
    inbox = folder(alice, "inbox")
    m1, m2, m3 = (do_append(acting_account=alice, folder=inbox, data=raw(n)) for n in (1, 2, 3))
    message_path(alice, m2).unlink()
    do_set_flags(acting_account=alice, messages=[m1, m2, m3], add=["seen"])
    assert [m.seen for m in Message.objects.order_by("uid")] == [True, False, True]
    assert_counters_match(alice)
    work = do_create_folder(acting_account=alice, name="Work")
    do_move(acting_account=alice, messages=[m1, m2, m3], destination=work)
    assert [m.folder_id for m in Message.objects.order_by("pk")] == [work.pk, inbox.pk, work.pk]
    assert len(list((root(settings, alice) / ".Work" / "cur").iterdir())) == 2
    assert_counters_match(alice)
    # reindex then drops the row whose file is gone, as Maildir is the truth.
    call_command("reindex", alice.address, stdout=io.StringIO())
    assert Message.objects.filter(folder=inbox).count() == 0


def test_a_move_from_a_stale_row_keeps_the_flags_and_the_counters(alice, settings) -> None:
    """Read (marked seen) in one request, moved with the row as it was before in another."""
    inbox = folder(alice, "inbox")
    do_append(acting_account=alice, folder=inbox, data=raw(1))
    stale = Message.objects.get()
    do_set_flags(acting_account=alice, messages=[Message.objects.get()], add=["seen"])
    work = do_create_folder(acting_account=alice, name="Work")
    do_move(acting_account=alice, messages=[stale], destination=work)
    m = Message.objects.get()
    assert (m.folder_id, m.seen, m.info, stale.seen) == (work.pk, True, "S", True)
    assert stem_names(root(settings, alice) / ".Work" / "cur") == [f"{key_stem(m.maildir_key)}:2,S"]
    assert_counters_match(alice)


def test_rename_folder_moves_children(alice, settings) -> None:
    parent = do_create_folder(acting_account=alice, name="Projects")
    child = do_create_folder(acting_account=alice, name="Projects/2026")
    do_append(acting_account=alice, folder=child, data=raw(1))
    do_rename_folder(acting_account=alice, folder=parent, name="Archive")
    child.refresh_from_db()
    assert (child.name, child.path) == ("Archive/2026", ".Archive.2026")
    assert len(list((root(settings, alice) / ".Archive.2026" / "new").iterdir())) == 1


def test_reindex_after_the_index_is_wiped(alice, settings) -> None:
    inbox, sent = folder(alice, "inbox"), folder(alice, "sent")
    msgs = [do_append(acting_account=alice, folder=inbox, data=raw(n)) for n in range(6)]
    do_append(acting_account=alice, folder=sent, data=raw(99), flags=["seen"])
    work = do_create_folder(acting_account=alice, name="일/Work")
    do_set_flags(acting_account=alice, messages=msgs[:2], add=["seen"])
    do_set_flags(
        acting_account=alice,
        messages=[msgs[2]],
        add=["answered", "flagged", "draft"],
        add_keywords=["Later"],
    )
    do_move(acting_account=alice, messages=[msgs[3]], destination=work)
    do_delete_messages(acting_account=alice, messages=[msgs[4]])
    before = snapshot(alice)
    uidnext_before = {f.name: f.uidnext for f in Folder.objects.filter(account=alice)}

    Message.objects.all().delete()
    Folder.objects.all().delete()
    out = io.StringIO()
    call_command("reindex", "alice@example.com", "--no-progress", stdout=out)
    assert "7 messages (7 added" in out.getvalue()
    assert snapshot(alice) == before
    assert_counters_match(alice)
    after = {f.name: f for f in Folder.objects.filter(account=alice)}
    assert after["Sent"].special_use == "sent" and after["INBOX"].special_use == "inbox"
    for name, uidnext in uidnext_before.items():
        assert after[name].uidnext >= uidnext
    # New mail after a reindex gets a fresh UID above every old one.
    new = do_append(acting_account=alice, folder=after["INBOX"], data=raw(7))
    assert new.uid == 7
    assert_counters_match(alice)

    # Safe to re-run: nothing changes the second time.
    call_command("reindex", "--all", "--no-progress", stdout=io.StringIO())
    assert len(snapshot(alice)) == 8


def test_reindex_picks_up_changes_made_by_another_maildir_client(alice, settings) -> None:
    inbox = folder(alice, "inbox")
    kept = do_append(acting_account=alice, folder=inbox, data=raw(1))
    gone = do_append(acting_account=alice, folder=inbox, data=raw(2))
    r = root(settings, alice)
    kept_file = message_path(alice, kept)
    kept_file.rename(r / "cur" / f"{kept_file.name}:2,RS")  # mutt read it
    message_path(alice, gone).unlink()  # and deleted one
    (r / "new" / "1700000000.M1P1.mutt").write_bytes(raw(3))  # and dropped one in
    call_command("reindex", "alice@example.com", "--no-progress", stdout=io.StringIO())
    kept.refresh_from_db()
    assert (kept.seen, kept.answered, kept.uid) == (True, True, 1)
    assert not Message.objects.filter(pk=gone.pk).exists()
    newcomer = Message.objects.get(maildir_key="1700000000.M1P1.mutt")
    assert newcomer.uid == 3 and newcomer.subject == "message 3" and newcomer.source == "reindex"


def test_deliver_rolls_back_its_file_when_the_row_fails(alice, settings) -> None:
    inbox = folder(alice, "inbox")
    first = do_append(acting_account=alice, folder=inbox, data=raw(1))
    from mailcore.store.actions import do_deliver

    # Same key in another account-visible folder row conflicts → the new file must not stay.
    Folder.objects.filter(pk=inbox.pk).update(uidnext=first.uid)  # force a UID clash
    with pytest.raises(Exception):  # noqa: B017 - the DB's IntegrityError
        do_deliver(alice, inbox, raw(2), key="clash.key", source="api")
    assert not (root(settings, alice) / "new" / "clash.key").exists()
    assert Message.objects.count() == 1


def test_tmp_debris_is_cleaned_for_every_account(alice, bob, settings) -> None:
    import os

    from mailcore.store.actions import do_clean_maildir_tmp

    old = root(settings, bob) / ".Sent" / "tmp" / "crashed.1"
    old.write_bytes(b"partial")
    os.utime(old, (1, 1))
    fresh = root(settings, alice) / "tmp" / "in-flight.2"
    fresh.write_bytes(b"being written")
    assert do_clean_maildir_tmp(36 * 3600) == 1
    assert fresh.exists() and not old.exists()
