"""Hostile input over a real connection: every malformed command answers BAD (or NO
[TOOBIG]) and the session stays usable; limits hold before and after login."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from mailcore.directory.models import Account
from tests.imap.conftest import PASSWORD, start_server, tls_context

pytestmark = pytest.mark.django_db(transaction=True)


class Raw:
    """A line-level IMAP client over implicit TLS."""

    def __init__(self, addr: tuple[str, int]) -> None:
        sock = socket.create_connection(addr, timeout=15)
        self.sock = tls_context().wrap_socket(sock, server_hostname="localhost")
        self.file = self.sock.makefile("rb")
        assert self.readline().startswith(b"* OK")

    def readline(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def until(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.readline()
            assert line, "connection closed"
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def raw(alice: Account, imaps_addr: tuple[str, int]) -> Iterator[Raw]:
    r = Raw(imaps_addr)
    yield r
    r.close()


def alive(r: Raw, tag: bytes = b"zz") -> None:
    r.send(tag + b" NOOP\r\n")
    assert r.until(tag)[-1].startswith(tag + b" OK")


@pytest.mark.parametrize(
    "line",
    [
        b"a1 LOGIN {999999999}\r\n",
        b"a2 LOGIN {18446744073709551615}\r\n",
        b"a3 LOGIN {99999999999999999999}\r\n",
        b"a4 LOGIN {-1}\r\n",
        b'a5 LOGIN "al\x00ice" pw\r\n',
        b"a6 " + b"(" * 5000 + b"\r\n",
        b"a7 NOOP " + b"x" * 70000 + b"\r\n",
        b"\x00\x01\x02\r\n",
        b"a8 LOGIN alice@example.com {5000+}\r\n" + b"x" * 5000 + b"\r\n",
    ],
)
def test_preauth_garbage_answers_and_session_lives(raw: Raw, line: bytes) -> None:
    raw.send(line)
    answer = raw.readline()
    assert b" BAD " in answer or answer.startswith(b"* BAD"), answer
    alive(raw)


def test_selected_state_garbage(raw: Raw) -> None:
    raw.send(f'l LOGIN alice@example.com "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
    raw.until(b"s")
    bad = [
        b"b1 FETCH 1:99999999999 FLAGS",
        b"b2 FETCH " + b",".join(b"%d" % i for i in range(1, 20000)) + b" FLAGS",
        b"b3 SEARCH " + b"(" * 200 + b"ALL" + b")" * 200,
        b"b4 SEARCH " + b"OR ALL " * 500 + b"ALL",
        b"b5 FETCH 0 FLAGS",
        b"b6 FETCH * (BODY[1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9."
        b"1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5.6.7.8.9.1.2.3.4.5])",
        b"b7 STORE 1 +FLAGS (\\Nope)",
        b"b8 SELECT ../../etc",
        b"b9 CREATE &Jjo!-",
        b"b10 UID FETCH 1:* (BODY[HEADER.FIELDS ()])",
        b"b11 FETCH 1 BODY[",  # item 1: once a ValueError that closed the connection
        b"b12 SEARCH (SEEN ",
    ]
    for line in bad:
        tag = line.split(b" ", 1)[0]
        raw.send(line + b"\r\n")
        answer = raw.until(tag)[-1]
        assert answer.startswith((tag + b" BAD", tag + b" NO")), answer
        alive(raw)
    # A line too long is a malformed command: BAD [TOOBIG] (imap-bugs item 4), session alive.
    raw.send(b"d1 NOOP " + b"x" * 70000 + b"\r\n")
    assert raw.readline().startswith(b"d1 BAD [TOOBIG]")
    alive(raw)
    # Over APPENDLIMIT: refused before any byte is sent, NO [TOOBIG] (RFC 7889).
    raw.send(b"c1 APPEND INBOX {999999999999}\r\n")
    assert raw.readline().startswith(b"c1 NO [TOOBIG]")
    alive(raw)


def test_preauth_timeout_says_bye(alice: Account) -> None:
    server = start_server(preauth_timeout=1.0)
    try:
        r = Raw(("127.0.0.1", server.ports["imaps"]))
        assert r.readline().startswith(b"* BYE")
        assert r.readline() == b""
        r.close()
    finally:
        server.stop()


def test_timeout_counts_from_the_last_command(alice: Account) -> None:
    """The connection's one timer moves its deadline on lazily (StreamConnection.wait_input):
    a client that keeps talking past the first deadline is not dropped, and is dropped one
    timeout after its last command."""
    import time

    server = start_server(preauth_timeout=1.0)
    try:
        r = Raw(("127.0.0.1", server.ports["imaps"]))
        for i in range(5):  # 2 s of NOOPs, 0.4 s apart: the first timer fires in between
            time.sleep(0.4)
            r.send(b"n%d NOOP\r\n" % i)
            assert r.until(b"n%d" % i)[-1].startswith(b"n%d OK" % i)
        quiet = time.monotonic()
        assert r.readline().startswith(b"* BYE")
        assert 0.8 <= time.monotonic() - quiet < 3.0
        assert r.readline() == b""
        r.close()
    finally:
        server.stop()


def test_client_that_does_not_read_is_dropped(alice: Account) -> None:
    """Output backpressure: the server keeps at most its buffer for a client that stops
    reading, then gives up on it; other clients are served meanwhile."""
    from mailcore.store.actions import do_append
    from mailcore.store.models import Folder

    inbox = Folder.objects.get(account=alice, path="")
    do_append(acting_account=alice, folder=inbox, data=b"Subject: big\r\n\r\n" + b"x" * 2_000_000)
    server = start_server(write_timeout=1.0, write_buffer_bytes=16 * 1024)
    try:
        addr = ("127.0.0.1", server.ports["imaps"])
        slow = socket.create_connection(addr, timeout=15)
        s = tls_context().wrap_socket(slow, server_hostname="localhost")
        s.recv(4096)
        s.sendall(f'l LOGIN alice@example.com "{PASSWORD}"\r\n'.encode())
        s.recv(4096)
        s.sendall(b"s SELECT INBOX\r\n" + b"f FETCH 1:* BODY[]\r\n" * 20)
        # Meanwhile another client works normally.
        other = Raw(addr)
        other.send(f'l LOGIN alice@example.com "{PASSWORD}"\r\n'.encode())
        assert other.until(b"l")[-1].startswith(b"l OK")
        other.close()
        # The stalled connection (it has read nothing of the 40 MB asked) is dropped.
        import time

        deadline = time.monotonic() + 60
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.connections == 0
        s.close()
    finally:
        server.stop()


def test_a_parser_bug_costs_one_bad_not_the_session(
    raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fuzz table keeps the parser from raising anything but syntax errors; should a bug
    # slip through all the same, the client gets a tagged BAD and keeps its session.
    from mailcore.imap import session as imap_session

    real = imap_session.parse_command

    def flaky(raw_cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        if raw_cmd.text.startswith(b"boom "):
            raise IndexError("parser bug")
        return real(raw_cmd, *args, **kwargs)

    monkeypatch.setattr(imap_session, "parse_command", flaky)
    raw.send(b"boom NOOP\r\n")
    assert raw.until(b"boom")[-1].startswith(b"boom BAD")
    alive(raw)
