"""RFC 1939 commands against the real server with poplib: STAT, LIST, RETR, TOP, UIDL,
DELE, RSET, NOOP, QUIT, with exact octet counts and dot-stuffing of LF-stored files."""

from __future__ import annotations

import poplib
import socket
from collections.abc import Callable

import pytest

from mailcore.directory.models import Account
from mailcore.pop3.server import Pop3Server
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.queries import maildir_for
from tests.conftest import wait_for
from tests.pop3.conftest import PASSWORD, add, inbox, msg, tls_context

Connect = Callable[..., poplib.POP3_SSL]

DOTTY = (
    b"From: bob@example.com\nSubject: dots\n\n"
    b".starts with a dot\n..two dots\n.\nmiddle . dot\n.\n.last"
)  # LF line ends, no final newline, a line of one '.'


def wire_body(data: bytes) -> bytes:
    """What RETR must put between +OK and the terminator: CRLF form, dot-stuffed."""
    crlf = data.replace(b"\n", b"\r\n")
    lines = crlf.split(b"\r\n")
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)


def test_stat_list_retr_exact_octets(alice: Account, connect: Connect) -> None:
    a = add(alice, msg("one"))
    b = add(alice, DOTTY)
    # The file on disk has LF line ends; the counts are of the CRLF form sent.
    stored = maildir_for(alice).locate("", b.maildir_key, in_cur=b.in_cur, info=b.info)
    assert b"\r" not in stored.read_bytes()
    c = connect()
    count, octets = c.stat()
    assert (count, octets) == (2, a.size + b.size)
    resp, listing, _ = c.list()
    assert listing == [f"1 {a.size}".encode(), f"2 {b.size}".encode()]
    assert c.list(2).split() == [b"+OK", b"2", str(b.size).encode()]
    assert c.list("002").split() == [b"+OK", b"2", str(b.size).encode()]
    resp, lines, _ = c.retr(2)
    assert resp.startswith(f"+OK {b.size} octets".encode())
    # poplib undoes the stuffing: the lines are the message's lines exactly.
    assert lines == DOTTY.split(b"\n")
    assert b"\r\n".join(lines) + b"\r\n" == DOTTY.replace(b"\n", b"\r\n") + b"\r\n"
    assert b.size == len(DOTTY.replace(b"\n", b"\r\n"))
    c.quit()


def test_retr_bytes_on_the_wire(alice: Account, pop3s_addr: tuple[str, int]) -> None:
    m = add(alice, DOTTY)
    raw = socket.create_connection(pop3s_addr, timeout=15)
    with tls_context().wrap_socket(raw) as s, s.makefile("rb") as f:
        assert f.readline().startswith(b"+OK")
        s.sendall(f"USER alice@example.com\r\nPASS {PASSWORD}\r\nRETR 1\r\n".encode())
        assert f.readline().startswith(b"+OK")
        assert f.readline().startswith(b"+OK")
        assert f.readline() == f"+OK {m.size} octets\r\n".encode()
        body = b""
        while True:
            line = f.readline()
            if line == b".\r\n":
                break
            body += line
        expected = wire_body(DOTTY) + b"\r\n"
        assert body == expected
        # Unstuffed, the body is exactly the announced octets (the final CRLF added for the
        # terminator counts only when the message ends in one).
        assert len(DOTTY.replace(b"\n", b"\r\n")) == m.size
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"+OK")


def test_top_and_uidl(alice: Account, connect: Connect) -> None:
    add(alice, msg("one", "l1\nl2\n.l3\nl4\n"))
    add(alice, msg("two"))
    c = connect()
    _, lines, _ = c.top(1, 2)
    assert lines == [
        b"From: bob@example.com",
        b"To: alice@example.com",
        b"Subject: one",
        b"",
        b"l1",
        b"l2",
    ]
    _, lines, _ = c.top(1, 0)
    assert lines[-1] == b"" and len(lines) == 4
    _, lines, _ = c.top(1, 100)
    assert lines[-2:] == [b".l3", b"l4"]
    folder = inbox(alice)
    uids = list(Message.objects.filter(folder=folder).order_by("uid").values_list("uid", flat=True))
    _, listing, _ = c.uidl()
    expected = [f"{n} {uid:08X}{folder.uidvalidity:08X}".encode() for n, uid in enumerate(uids, 1)]
    assert listing == expected
    assert c.uidl(2).split()[1:] == expected[1].split()
    c.quit()
    # Stable across sessions.
    c = connect()
    assert c.uidl()[1] == expected
    c.quit()


def test_dele_applied_only_at_quit(alice: Account, connect: Connect) -> None:
    for i in range(3):
        add(alice, msg(f"m{i}"))
    c = connect()
    assert c.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="already deleted"):
        c.dele(1)
    with pytest.raises(poplib.error_proto, match="No such message"):
        c.retr(1)
    assert c.stat()[0] == 2
    assert [x.split()[0] for x in c.list()[1]] == [b"2", b"3"]
    assert Message.objects.filter(folder=inbox(alice)).count() == 3  # nothing yet
    c.rset()
    assert c.stat()[0] == 3
    c.dele(2)
    c.noop()
    c.quit()
    # Default policy: into Trash, through the store's actions.
    assert Message.objects.filter(folder=inbox(alice)).count() == 2
    trash = Folder.objects.get(account=alice, special_use=SpecialUse.TRASH)
    assert list(Message.objects.filter(folder=trash).values_list("subject", flat=True)) == ["m1"]
    assert inbox(alice).message_count == 2


def test_dropped_connection_deletes_nothing(
    alice: Account, connect: Connect, pop3_server: Pop3Server
) -> None:
    add(alice, msg("keep me"))
    c = connect()
    c.dele(1)
    c.close()  # no QUIT
    wait_for(lambda: pop3_server.connections == 0)
    assert Message.objects.filter(folder=inbox(alice)).count() == 1
    c = connect()  # and the lock was released
    assert c.stat()[0] == 1
    c.quit()


def test_in_use(alice: Account, connect: Connect) -> None:
    add(alice, msg("x"))
    first = connect()
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        connect()
    first.quit()
    second = connect()
    assert second.stat()[0] == 1
    second.quit()


def test_list_errors(alice: Account, connect: Connect) -> None:
    add(alice, msg("x"))
    c = connect()
    for bad in ("LIST 999999", "RETR 0", "TOP 1 -1", "LIST x", "RETR", "DELE 2", "TOP 1"):
        with pytest.raises(poplib.error_proto, match=r"^b'-ERR"):
            c._shortcmd(bad)
    assert c.stat()[0] == 1  # the session is alive
    c.quit()


def test_message_expunged_by_imap_meanwhile(alice: Account, connect: Connect) -> None:
    from mailcore.store.actions import do_expunge

    a = add(alice, msg("a"))
    add(alice, msg("b"))
    c = connect()
    do_expunge(
        acting_account=alice, messages=[Message.objects.select_related("folder").get(pk=a.pk)]
    )
    with pytest.raises(poplib.error_proto, match="removed by another client"):
        c.retr(1)
    assert c.retr(2)[0].startswith(b"+OK")  # the session goes on
    c.dele(1)
    c.dele(2)
    c.quit()  # the gone one is skipped, the other goes to Trash
    assert Message.objects.filter(folder=inbox(alice)).count() == 0
    trash = Folder.objects.get(account=alice, special_use=SpecialUse.TRASH)
    assert list(Message.objects.filter(folder=trash).values_list("subject", flat=True)) == ["b"]


def test_update_failure_answers_sys_temp_and_loses_nothing(
    alice: Account, connect: Connect
) -> None:
    add(alice, msg("a"))
    # An account without a Trash folder: the store refuses the delete.
    Folder.objects.filter(account=alice, special_use=SpecialUse.TRASH).update(special_use="")
    c = connect()
    c.dele(1)
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        c.quit()
    assert Message.objects.filter(folder=inbox(alice)).count() == 1


def test_read_ahead_serves_each_message_whatever_the_order(
    alice: Account, connect: Connect
) -> None:
    """RETR n reads n+1 ahead: in order, out of order, after a DELE and between TOPs, each
    RETR still answers its own message, exactly."""
    for i in range(6):
        add(alice, msg(f"s{i}", f"body {i}\n" + ("x" * 70 + "\n") * (i * 10) + ".dot line\n"))
    c = connect()
    c.dele(3)
    for n in (1, 2, 4, 6, 5, 1):
        lines = c.retr(n)[1]
        assert f"Subject: s{n - 1}".encode() in lines
        assert len(lines) == 6 + (n - 1) * 10 and lines[-1] == b".dot line"
    assert c.top(2, 0)[1][2] == b"Subject: s1"
    assert f"Subject: s{3}".encode() in c.retr(4)[1]
    c.quit()
