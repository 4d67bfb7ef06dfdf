"""do_deliver_many: a batch of arrivals is filed like do_deliver files each one (files first,
then one index transaction), and keeps do_deliver's idempotency and no-loss guarantees."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import IntegrityError

from mailcore.mime import parse_message
from mailcore.store.actions import Arrival, Delivered, do_append, do_deliver_many, do_move
from mailcore.store.history import history_state
from mailcore.store.maildir import Maildir, key_stem
from mailcore.store.models import Folder, Message

pytestmark = pytest.mark.django_db(transaction=True)
WHEN = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def raw(n: int) -> bytes:
    return (
        f"From: s{n}@remote.example\r\nTo: alice@example.com\r\nSubject: message {n}\r\n"
        f"Message-ID: <{n}@remote.example>\r\n\r\nbody {n}\r\n"
    ).encode()


def arrival(account, folder: Folder, n: int, key: str | None = None) -> Arrival:  # type: ignore[no-untyped-def]
    data = raw(n)
    return Arrival(account, folder, data, key or f"q{n}.k", parse_message(data), WHEN)


def inbox(account) -> Folder:  # type: ignore[no-untyped-def]
    return Folder.objects.get(account=account, special_use="inbox")


def maildir(settings, account) -> Maildir:  # type: ignore[no-untyped-def]
    return Maildir(Path(settings.MAIL_ROOT) / account.storage_path / "Maildir")


def new_files(settings, account, folder: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """Stems of the files in new/ (their names carry S=/W= sizes besides)."""
    directory = maildir(settings, account).folder_dir(folder) / "new"
    return sorted(key_stem(p.name) for p in directory.iterdir())


def test_a_batch_is_filed_per_folder_in_one_go(alice, bob, settings) -> None:
    a_inbox, b_inbox = inbox(alice), inbox(bob)
    sent = Folder.objects.get(account=alice, special_use="sent")
    before = {f.pk: f.highestmodseq for f in (a_inbox, b_inbox, sent)}
    batch = [
        arrival(alice, a_inbox, 1),
        arrival(bob, b_inbox, 2),
        arrival(alice, a_inbox, 3),
        arrival(alice, sent, 4),
    ]
    results = do_deliver_many(batch)
    assert all(isinstance(r, Delivered) and r.created for r in results)
    got = [(r.message.folder_id, r.message.uid, r.message.subject) for r in results]  # type: ignore[union-attr]
    assert got == [
        (a_inbox.pk, 1, "message 1"),
        (b_inbox.pk, 1, "message 2"),
        (a_inbox.pk, 2, "message 3"),
        (sent.pk, 1, "message 4"),
    ]
    for f in (a_inbox, b_inbox, sent):
        f.refresh_from_db()
        # One change per account: every row of the batch of an account gets the account's
        # next modseq, and so does each folder it touched (ARCHITECTURE rule 8).
        assert f.highestmodseq == history_state(f.account_id).highestmodseq > before[f.pk]
        assert f.message_count == f.unseen_count == f.messages.count()
        assert set(f.messages.values_list("modseq", flat=True)) == {f.highestmodseq}
    assert a_inbox.highestmodseq == sent.highestmodseq
    assert new_files(settings, alice) == ["q1.k", "q3.k"]
    assert new_files(settings, alice, sent.path) == ["q4.k"]
    assert maildir(settings, alice).read_uidlist("")[1] == {"q1.k": 1, "q3.k": 2}
    assert maildir(settings, bob).read_uidlist("")[1] == {"q2.k": 1}
    row = Message.objects.get(maildir_key="q1.k")
    assert (row.source, row.internal_date, row.size, row.in_cur) == (
        "smtp",
        WHEN,
        len(raw(1)),
        False,
    )
    assert row.from_addr == "s1@remote.example" and not row.seen


def test_repeats_store_nothing_twice(alice, settings) -> None:
    box = inbox(alice)
    first = do_deliver_many([arrival(alice, box, 1)])[0]
    assert isinstance(first, Delivered)
    # A whole repeat, and the same key twice in one call: one file, one row, same message.
    again = do_deliver_many(
        [
            arrival(alice, box, 1),
            arrival(alice, box, 2, key="q9.k"),
            arrival(alice, box, 2, key="q9.k"),
        ]
    )
    assert [(r.created, r.message.maildir_key) for r in again] == [  # type: ignore[union-attr]
        (False, "q1.k"),
        (True, "q9.k"),
        (False, "q9.k"),
    ]
    assert again[0].message.pk == first.message.pk  # type: ignore[union-attr]
    assert again[1].message.pk == again[2].message.pk  # type: ignore[union-attr]
    assert new_files(settings, alice) == ["q1.k", "q9.k"] and Message.objects.count() == 2
    box.refresh_from_db()
    assert (box.message_count, box.uidnext) == (2, 3)


def test_a_file_left_by_a_crash_is_indexed_not_copied(alice, settings) -> None:
    box = inbox(alice)
    maildir(settings, alice).deliver(box.path, "q1.k", raw(1))  # killed before the commit
    result = do_deliver_many([arrival(alice, box, 1)])[0]
    assert isinstance(result, Delivered) and result.created and result.message.uid == 1
    assert new_files(settings, alice) == ["q1.k"]


def test_a_key_moved_elsewhere_is_not_delivered_again(alice, settings) -> None:
    box = inbox(alice)
    trash = Folder.objects.get(account=alice, special_use="trash")
    first = do_deliver_many([arrival(alice, box, 1)])[0]
    assert isinstance(first, Delivered)
    do_move(acting_account=alice, messages=[first.message], destination=trash)
    again = do_deliver_many([arrival(alice, box, 1)])[0]
    assert isinstance(again, Delivered) and not again.created
    assert again.message.folder_id == trash.pk
    assert new_files(settings, alice) == []  # the copy this call wrote went again


def test_a_storage_failure_stops_only_its_own_copy(alice, bob, settings) -> None:
    b_new = maildir(settings, bob).folder_dir("") / "new"
    b_new.rename(b_new.with_name("new.away"))  # root ignores permissions: break the directory
    try:
        results = do_deliver_many([arrival(bob, inbox(bob), 1), arrival(alice, inbox(alice), 2)])
    finally:
        b_new.with_name("new.away").rename(b_new)
    assert not isinstance(results[0], Delivered) and "cannot write" in str(results[0])
    assert isinstance(results[1], Delivered) and results[1].created
    assert list(Message.objects.values_list("maildir_key", flat=True)) == ["q2.k"]


def test_a_failing_batch_falls_back_to_one_transaction_each(alice, bob, settings) -> None:
    a_inbox, b_inbox = inbox(alice), inbox(bob)
    taken = do_append(acting_account=alice, folder=a_inbox, data=raw(0))
    Folder.objects.filter(pk=a_inbox.pk).update(uidnext=taken.uid)  # alice's next UID clashes
    with pytest.raises(IntegrityError):
        do_deliver_many([arrival(bob, b_inbox, 1), arrival(alice, a_inbox, 2)])
    # The batch transaction failed as a whole; one by one, bob's copy is filed and alice's,
    # whose row cannot be committed, leaves no file behind (do_deliver's promise).
    assert Message.objects.get(maildir_key="q1.k").folder_id == b_inbox.pk
    assert new_files(settings, bob) == ["q1.k"]
    assert "q2.k" not in new_files(settings, alice)
    assert not Message.objects.filter(maildir_key="q2.k").exists()


def test_a_foreign_folder_is_refused(alice, bob) -> None:
    result = do_deliver_many([arrival(alice, inbox(bob), 1)])[0]
    assert not isinstance(result, Delivered) and "folder not found" in str(result)
    assert Message.objects.count() == 0
