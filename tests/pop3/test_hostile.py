"""Hostile input: over-long lines, bad commands, command floods, idle clients, connection
caps, a big message streamed in CRLF form."""

from __future__ import annotations

import poplib
import socket
from collections.abc import Callable

from mailcore.directory.models import Account
from tests.pop3.conftest import PASSWORD, add, msg, start_server, tls_context

Connect = Callable[..., poplib.POP3_SSL]


def test_long_line_and_bad_commands_keep_the_session(alice: Account, connect: Connect) -> None:
    add(alice, msg("x"))
    c = connect()
    for line in ("NOOP " + "x" * 300, "X" * 5000, "FROB", "RETR abc", "LIST 0"):
        c._putcmd(line)
        assert c._getline()[0].startswith(b"-ERR")
    assert c.stat()[0] == 1
    c.quit()


def test_twenty_bad_commands_close(alice: Account, pop3s_addr: tuple[str, int]) -> None:
    with (
        tls_context().wrap_socket(socket.create_connection(pop3s_addr, timeout=15)) as s,
        s.makefile("rb") as f,
    ):
        assert f.readline().startswith(b"+OK")
        s.sendall(b"FROB\r\n" * 25)
        answers = []
        while line := f.readline():
            answers.append(line)
        assert len(answers) == 21 and all(a.startswith(b"-ERR") for a in answers)
        assert b"Too many invalid commands" in answers[-1]


def test_idle_timeout(alice: Account, transactional_db: None) -> None:
    server = start_server(preauth_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", server.ports["pop3"]), timeout=15) as s:
            f = s.makefile("rb")
            assert f.readline().startswith(b"+OK")
            assert f.readline() == b"-ERR Autologout: idle for too long\r\n"
            assert f.readline() == b""
            f.close()
    finally:
        server.stop()


def test_per_ip_cap(alice: Account, transactional_db: None) -> None:
    server = start_server(max_connections_per_ip=1)
    try:
        port = server.ports["pop3"]
        with socket.create_connection(("127.0.0.1", port), timeout=15) as first:
            first.recv(100)
            with socket.create_connection(("127.0.0.1", port), timeout=15) as second:
                assert second.recv(100).startswith(b"-ERR [SYS/TEMP] Too many connections")
    finally:
        server.stop()


def test_big_message_streamed(alice: Account, connect: Connect) -> None:
    line = b"0123456789" * 7 + b"\n"
    body = line * (12 * 1024 * 1024 // len(line))  # 12 MB stored with LF line ends
    m = add(alice, b"Subject: big\n\n." + body)
    c = connect()
    assert c.list(1).split()[2] == str(m.size).encode()
    resp, lines, octets = c.retr(1)
    assert resp == f"+OK {m.size} octets".encode()
    # poplib counts each unstuffed line + CRLF: exactly the announced size.
    assert octets == m.size
    assert lines[2] == b"." + line[:-1]
    c.quit()


def test_password_with_spaces_and_user_reset_at_stls(
    alice: Account, pop3_addr: tuple[str, int]
) -> None:
    c = poplib.POP3(*pop3_addr, timeout=15)
    c.stls(tls_context())
    c.user("alice@example.com")
    assert c.pass_(PASSWORD).startswith(b"+OK")  # "correct horse 1": spaces kept
    c.quit()
