"""Login rules: LOGINDISABLED and no plaintext AUTH before STARTTLS, STARTTLS (pipelined
input dropped), implicit TLS, AUTHENTICATE PLAIN with SASL-IR, app passwords, the shared login
limiter, the per-account connection cap, ID, the loopback plaintext setting."""

from __future__ import annotations

import base64
import imaplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable

import pytest
from imapclient import IMAPClient

from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account
from tests.imap.conftest import PASSWORD, start_server, tls_context

pytestmark = pytest.mark.django_db(transaction=True)


def test_plaintext_port_offers_starttls_and_disables_login(
    alice: Account, imap_addr: tuple[str, int]
) -> None:
    c = imaplib.IMAP4(*imap_addr, timeout=10)
    caps = c.capabilities
    assert "STARTTLS" in caps and "LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps
    typ, data = c._simple_command("LOGIN", "alice@example.com", '"' + PASSWORD + '"')
    assert typ == "NO" and b"PRIVACYREQUIRED" in data[0]
    typ, data = c._simple_command("AUTHENTICATE", "PLAIN", "AGFsaWNlAHB3")
    assert typ == "NO"
    c.starttls(ssl_context=tls_context())
    assert "AUTH=PLAIN" in c.capabilities and "LOGINDISABLED" not in c.capabilities
    assert "STARTTLS" not in c.capabilities
    assert c.login("alice@example.com", PASSWORD)[0] == "OK"
    caps = c.capability()[1][0].split()
    assert b"MOVE" in caps and b"CONDSTORE" in caps and b"COMPRESS=DEFLATE" in caps
    c.logout()


def test_input_pipelined_before_starttls_is_discarded(
    alice: Account, imap_addr: tuple[str, int]
) -> None:
    raw = socket.create_connection(imap_addr, timeout=10)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"* OK")
    # CVE-2011-0411 family: the LOGIN rides in the same packet as STARTTLS.
    raw.sendall(f'a STARTTLS\r\nb LOGIN alice@example.com "{PASSWORD}"\r\n'.encode())
    assert f.readline().startswith(b"a OK")
    tls = tls_context().wrap_socket(raw, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"c SELECT INBOX\r\n")
    line = tf.readline()
    assert line.startswith(b"c BAD"), line  # not logged in: b was never run
    tls.sendall(b"d LOGOUT\r\n")
    assert tf.readline().startswith(b"* BYE")
    tf.close()
    f.close()
    tls.close()


# A client in a process of its own (in this process the GIL hides the race: the server's
# thread runs on to the next step before the client thread can send its ClientHello).
_STARTTLS_CLIENT = r"""
import socket, ssl, sys
host, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def line(sock):
    out = b""
    while not out.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise SystemExit("closed")
        out += byte
    return out
lost = 0
for i in range(rounds):
    raw = socket.create_connection((host, port), timeout=5)
    assert line(raw).startswith(b"* OK")
    raw.sendall(b"a STARTTLS\r\n")
    assert line(raw).startswith(b"a OK")
    try:
        tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    except (TimeoutError, OSError):
        lost += 1
        raw.close()
        continue
    tls.sendall(b"b NOOP\r\n")
    assert line(tls).startswith(b"b OK")
    tls.close()
print("lost", lost)
"""


def test_starttls_handshake_sent_right_after_the_ok_always_completes(
    alice: Account, imap_addr: tuple[str, int]
) -> None:
    """imap-bugs item 2: the ClientHello sent the moment the OK arrives must reach the TLS
    layer (it was read as plaintext and dropped in the loop turn before reading paused: the
    handshake then hung, about 2 connections in 12)."""
    done = subprocess.run(
        [sys.executable, "-c", _STARTTLS_CLIENT, imap_addr[0], str(imap_addr[1]), "20"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip() == "lost 0", (done.stdout, done.stderr)


def test_implicit_tls_login_and_id(alice: Account, imaps_addr: tuple[str, int]) -> None:
    c = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=10)
    assert "AUTH=PLAIN" in c.capabilities and "STARTTLS" not in c.capabilities
    c.login("alice@example.com", PASSWORD)
    typ, _data = c.xatom("ID", '("name" "test")')
    assert typ == "OK"
    assert b'"name" "Mailroom"' in c.untagged_responses["ID"][0]
    c.logout()


def test_authenticate_plain_with_sasl_ir(alice: Account, imaps_addr: tuple[str, int]) -> None:
    client = IMAPClient(imaps_addr[0], port=imaps_addr[1], ssl=True, ssl_context=tls_context())
    client.plain_login("alice@example.com", PASSWORD)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()
    # Without SASL-IR: the response comes after the server's '+'.
    c = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=10)
    c.authenticate("PLAIN", lambda _: f"\0alice@example.com\0{PASSWORD}".encode())
    assert c.state == "AUTH"
    c.logout()


def test_authenticate_as_someone_else_refused(
    alice: Account, bob: Account, imaps_addr: tuple[str, int]
) -> None:
    c = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=10)
    ir = base64.b64encode(f"bob@example.com\0alice@example.com\0{PASSWORD}".encode()).decode()
    typ, data = c._simple_command("AUTHENTICATE", "PLAIN", ir)
    assert typ == "NO" and b"AUTHORIZATIONFAILED" in data[0]
    c.logout()


def test_app_password_accepted(alice: Account, connect: Callable[..., imaplib.IMAP4_SSL]) -> None:
    _, secret = do_create_app_password(alice, "Thunderbird")
    c = connect("alice@example.com", secret)
    assert c.select("INBOX")[0] == "OK"


def test_wrong_password_counted_by_the_shared_limiter(
    settings,
    alice: Account,
    imaps_addr: tuple[str, int],  # type: ignore[no-untyped-def]
) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 2
    c = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=10)
    for wrong in ("wrong 1", "wrong 2"):
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            c.login("alice@example.com", wrong)
    # The IP is blocked now: even the right password is not checked.
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        c.login("alice@example.com", PASSWORD)
    # Too many failures in one connection: BYE.
    with pytest.raises(imaplib.IMAP4.abort):
        c.noop()
    c.shutdown()


def test_per_account_connection_cap(alice: Account, imaps_addr: tuple[str, int]) -> None:
    server = start_server(max_per_account=2)
    try:
        addr = ("127.0.0.1", server.ports["imaps"])
        clients = []
        for _ in range(2):
            c = imaplib.IMAP4_SSL(*addr, ssl_context=tls_context(), timeout=10)
            c.login("alice@example.com", PASSWORD)
            clients.append(c)
        c = imaplib.IMAP4_SSL(*addr, ssl_context=tls_context(), timeout=10)
        with pytest.raises(imaplib.IMAP4.error, match="LIMIT"):
            c.login("alice@example.com", PASSWORD)
        clients[0].logout()
        assert c.login("alice@example.com", PASSWORD)[0] == "OK"
        for other in (clients[1], c):
            other.logout()
    finally:
        server.stop()


def test_per_ip_connection_cap(alice: Account, imaps_addr: tuple[str, int]) -> None:
    server = start_server(max_connections_per_ip=1)
    try:
        addr = ("127.0.0.1", server.ports["imap"])
        first = imaplib.IMAP4(*addr, timeout=10)
        with socket.create_connection(addr, timeout=10) as second, second.makefile("rb") as f:
            assert f.readline().startswith(b"* BYE [UNAVAILABLE]")
        first.logout()
    finally:
        server.stop()


def test_plaintext_login_on_loopback_when_allowed(
    alice: Account, imap_addr: tuple[str, int]
) -> None:
    server = start_server(allow_plaintext_loopback=True)
    try:
        c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10)
        assert "AUTH=PLAIN" in c.capabilities and "LOGINDISABLED" not in c.capabilities
        assert c.login("alice@example.com", PASSWORD)[0] == "OK"
        c.logout()
    finally:
        server.stop()


def test_commands_need_the_right_state(alice: Account, imap_addr: tuple[str, int]) -> None:
    c = imaplib.IMAP4(*imap_addr, timeout=10)
    for command in ("SELECT", "LIST", "STATUS", "APPEND", "FETCH", "ENABLE"):
        # imaplib checks states itself: let the server answer instead
        c.state = "AUTH" if command == "ENABLE" else "SELECTED"
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            c._simple_command(command, "INBOX")
    c.state = "NONAUTH"
    assert c.noop()[0] == "OK"
    c.logout()


def test_implicit_tls_refuses_plaintext_client(imaps_addr: tuple[str, int], alice: Account) -> None:
    raw = socket.create_connection(imaps_addr, timeout=10)
    raw.sendall(b"a LOGIN alice@example.com x\r\n")
    raw.settimeout(10)
    try:
        data = raw.recv(100)
    except (ConnectionError, ssl.SSLError):
        data = b""
    assert b"OK" not in data
    raw.close()
