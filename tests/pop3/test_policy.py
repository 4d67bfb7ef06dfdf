"""The per-account policy for a POP3 client's deletions (delete / keep / keep and mark read),
the admin's delete meaning (Trash or for good), and "offer only mail not downloaded before"."""

from __future__ import annotations

import poplib
from collections.abc import Callable

import pytest

from mailcore.directory.models import Account
from mailcore.errors import UserError
from mailcore.pop3.actions import DeleteAction, do_set_pop3_settings, get_pop3_settings
from mailcore.pop3.server import Pop3Server
from mailcore.store.actions import do_set_flags
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.queries import maildir_for
from tests.conftest import wait_for
from tests.pop3.conftest import PASSWORD, add, inbox, msg, start_server, tls_context

Connect = Callable[..., poplib.POP3_SSL]


def subjects(account: Account, special_use: str) -> list[str]:
    folder = Folder.objects.get(account=account, special_use=special_use)
    return list(
        Message.objects.filter(folder=folder).order_by("uid").values_list("subject", flat=True)
    )


def test_defaults_and_validation(alice: Account) -> None:
    s = get_pop3_settings(alice)
    assert (s.on_delete, s.only_new) == ("delete", False)
    with pytest.raises(UserError, match="unknown POP3 delete policy"):
        do_set_pop3_settings(alice, on_delete="shred")
    do_set_pop3_settings(alice, on_delete="keep", only_new=True)
    s = get_pop3_settings(alice)
    assert (s.on_delete, s.only_new) == ("keep", True)


def test_keep_policy(alice: Account, connect: Connect) -> None:
    do_set_pop3_settings(alice, on_delete="keep")
    add(alice, msg("a"))
    add(alice, msg("b"))
    c = connect()
    c.dele(1)
    c.dele(2)
    c.quit()
    assert subjects(alice, SpecialUse.INBOX) == ["a", "b"]
    assert not Message.objects.filter(folder=inbox(alice), seen=True).exists()


def test_read_policy(alice: Account, connect: Connect) -> None:
    do_set_pop3_settings(alice, on_delete="read")
    add(alice, msg("a"))
    add(alice, msg("b"))
    c = connect()
    c.dele(2)
    c.quit()
    rows = dict(Message.objects.filter(folder=inbox(alice)).values_list("subject", "seen"))
    assert rows == {"a": False, "b": True}
    assert inbox(alice).unseen_count == 1


def test_delete_for_good_when_the_admin_says_so(alice: Account, transactional_db: None) -> None:
    add(alice, msg("a"))
    add(alice, msg("b"))
    server = start_server(delete_action=DeleteAction.EXPUNGE)
    try:
        c = poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=tls_context(), timeout=15)
        c.user("alice@example.com")
        c.pass_(PASSWORD)
        c.dele(1)
        c.quit()
    finally:
        server.stop()
    assert subjects(alice, SpecialUse.INBOX) == ["b"]
    assert subjects(alice, SpecialUse.TRASH) == []
    assert len(list(maildir_for(alice).scan(""))) == 1  # the file went too


def test_only_new_offers_mail_once(
    alice: Account, connect: Connect, pop3_server: Pop3Server
) -> None:
    do_set_pop3_settings(alice, on_delete="keep", only_new=True)
    for s in ("a", "b", "c"):
        add(alice, msg(s))
    c = connect()
    _, uidls, _ = c.uidl()
    c.retr(1)
    c.top(2, 0)  # TOP is not a download
    c.quit()
    c = connect()
    assert c.stat()[0] == 2
    assert c.uidl()[1] == [b"1 " + uidls[1].split()[1], b"2 " + uidls[2].split()[1]]
    c.retr(1)
    c.close()  # dropped: nothing recorded
    wait_for(lambda: pop3_server.connections == 0)
    c = connect()
    assert c.stat()[0] == 2
    c.quit()
    do_set_pop3_settings(alice, only_new=False)
    c = connect()
    assert c.stat()[0] == 3
    c.quit()


def test_uidl_survives_flag_changes_and_reconnects(alice: Account, connect: Connect) -> None:
    m = add(alice, msg("a"))
    add(alice, msg("b"))
    c = connect()
    before = c.uidl()[1]
    c.quit()
    do_set_flags(acting_account=alice, messages=[m], add=["seen", "flagged"])
    c = connect()
    assert c.uidl()[1] == before
    c.quit()
