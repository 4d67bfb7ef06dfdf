"""UIDL values stable for ever (issue 11 §3): Dovecot's %08Xu%08Xv for a message as it was
first offered, the same value after flag changes, moves out of INBOX and back, renames of the
folder it went through and `reindex` (with or without the index rows); "offer only mail not
downloaded before" keyed the same way; rows of messages gone are pruned."""

from __future__ import annotations

import poplib
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.pop3.actions import do_set_pop3_settings
from mailcore.pop3.models import Uidl
from mailcore.pop3.protocol import uidl_of
from mailcore.store.actions import (
    do_create_folder,
    do_expunge,
    do_move,
    do_rename_folder,
    do_set_flags,
)
from mailcore.store.models import Folder, Message
from mailcore.store.reindex import reindex_account
from tests.pop3.conftest import add, inbox, msg

Connect = Callable[..., poplib.POP3_SSL]


def listing(c: poplib.POP3_SSL) -> dict[str, str]:
    """UIDL → the message's Subject, for one session's maildrop."""
    out = {}
    for line in c.uidl()[1]:
        n, uidl = line.decode().split()
        header = b"\n".join(c.top(int(n), 0)[1]).decode()
        subject = next(h for h in header.splitlines() if h.startswith("Subject: "))
        out[uidl] = subject.removeprefix("Subject: ")
    return out


def session_listing(connect: Connect) -> dict[str, str]:
    c = connect()
    try:
        return listing(c)
    finally:
        c.quit()


def back_to_inbox(alice: Account, m: Message) -> Message:
    fresh = Message.objects.select_related("folder").get(pk=m.pk)
    do_move(acting_account=alice, messages=[fresh], destination=inbox(alice))
    return Message.objects.get(pk=m.pk)


def test_dovecot_form_for_a_message_that_never_moved(alice: Account, connect: Connect) -> None:
    a, b = add(alice, msg("a")), add(alice, msg("b"))
    validity = inbox(alice).uidvalidity
    assert session_listing(connect) == {
        uidl_of(validity, a.uid): "a",
        uidl_of(validity, b.uid): "b",
    }


def test_move_out_and_back_rename_and_flags_keep_the_uidl(alice: Account, connect: Connect) -> None:
    a = add(alice, msg("a"))
    add(alice, msg("b"))
    before = session_listing(connect)
    work = do_create_folder(acting_account=alice, name="Work")
    do_move(acting_account=alice, messages=[a], destination=work)
    assert sorted(session_listing(connect).values()) == ["b"]
    do_rename_folder(acting_account=alice, folder=Folder.objects.get(pk=work.pk), name="Jobs")
    moved = Message.objects.select_related("folder").get(pk=a.pk)
    do_set_flags(acting_account=alice, messages=[moved], add=["seen", "flagged"])
    a = back_to_inbox(alice, a)
    assert a.uid > 2  # a new UID in INBOX: the UID form would have changed
    assert session_listing(connect) == before
    # And again, through another folder.
    trash = Folder.objects.get(account=alice, special_use="trash")
    do_move(acting_account=alice, messages=[Message.objects.get(pk=a.pk)], destination=trash)
    back_to_inbox(alice, a)
    assert session_listing(connect) == before


def test_reindex_keeps_the_uidl_even_without_the_index_rows(
    alice: Account, connect: Connect
) -> None:
    a = add(alice, msg("a"))
    add(alice, msg("b"))
    before = session_listing(connect)
    do_move(
        acting_account=alice,
        messages=[a],
        destination=do_create_folder(acting_account=alice, name="X"),
    )
    back_to_inbox(alice, a)
    reindex_account(alice)
    assert session_listing(connect) == before
    Message.objects.filter(account=alice).delete()  # the index lost: rebuilt from Maildir
    reindex_account(alice)
    assert Message.objects.filter(folder=inbox(alice)).count() == 2
    assert session_listing(connect) == before


def test_only_new_survives_a_move_out_and_back(alice: Account, connect: Connect) -> None:
    do_set_pop3_settings(alice, on_delete="keep", only_new=True)
    a = add(alice, msg("a"))
    add(alice, msg("b"))
    c = connect()
    c.retr(1)
    c.quit()
    do_move(
        acting_account=alice,
        messages=[a],
        destination=do_create_folder(acting_account=alice, name="X"),
    )
    back_to_inbox(alice, a)
    assert sorted(session_listing(connect).values()) == ["b"]


def test_rows_of_expunged_messages_are_pruned(alice: Account, connect: Connect) -> None:
    a = add(alice, msg("a"))
    add(alice, msg("b"))
    session_listing(connect)
    assert Uidl.objects.filter(account=alice).count() == 2
    do_expunge(
        acting_account=alice, messages=[Message.objects.select_related("folder").get(pk=a.pk)]
    )
    add(alice, msg("c"))  # new mail: the next login writes its row and prunes
    assert sorted(session_listing(connect).values()) == ["b", "c"]
    keys = set(Message.objects.filter(account=alice).values_list("maildir_key", flat=True))
    assert set(Uidl.objects.filter(account=alice).values_list("maildir_key", flat=True)) == keys
