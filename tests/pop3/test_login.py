"""Login rules: no USER/PASS or AUTH before TLS, STLS (pipelined plaintext dropped), implicit
TLS, AUTH PLAIN with and without an initial response, app passwords, the shared limiter,
the loopback plaintext switch, LOGIN-DELAY."""

from __future__ import annotations

import base64
import poplib
import socket
from collections.abc import Callable

import pytest

from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account
from tests.pop3.conftest import PASSWORD, add, msg, start_server, tls_context

Connect = Callable[..., poplib.POP3_SSL]


def plain(user: str, password: str, authz: str = "") -> str:
    return base64.b64encode(f"{authz}\0{user}\0{password}".encode()).decode()


def test_no_login_before_stls(alice: Account, pop3_addr: tuple[str, int]) -> None:
    c = poplib.POP3(*pop3_addr, timeout=15)
    caps = c.capa()
    assert "STLS" in caps and "USER" not in caps and "SASL" not in caps
    assert {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8"} <= set(caps)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext"):
        c.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Plaintext"):
        c._shortcmd("AUTH PLAIN " + plain("alice@example.com", PASSWORD))
    c.stls(tls_context())
    caps = c.capa()
    assert "STLS" not in caps and "USER" in caps and caps["SASL"] == ["PLAIN"]
    c.user("alice@example.com")
    assert c.pass_(PASSWORD).startswith(b"+OK")
    assert c.stat() == (0, 0)
    c.quit()


def test_pipelined_plaintext_dropped_at_stls(alice: Account, pop3_addr: tuple[str, int]) -> None:
    with socket.create_connection(pop3_addr, timeout=15) as raw:
        f = raw.makefile("rb")
        assert f.readline().startswith(b"+OK")
        raw.sendall(b"STLS\r\nPASS injected\r\n")
        assert f.readline().startswith(b"+OK Begin TLS")
        f.close()
        with tls_context().wrap_socket(raw) as s, s.makefile("rb") as tf:
            s.sendall(b"CAPA\r\n")
            # Had "PASS injected" survived, its -ERR would come first.
            assert tf.readline() == b"+OK Capability list follows\r\n"


def test_implicit_tls_auth_plain(alice: Account, pop3s_addr: tuple[str, int]) -> None:
    add(alice, msg("x"))
    c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
    assert c._shortcmd("AUTH PLAIN " + plain("alice@example.com", PASSWORD)).startswith(b"+OK")
    assert c.stat()[0] == 1
    c.quit()
    # Without the initial response: "+ " then the response on its own line.
    c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
    c._putcmd("AUTH PLAIN")
    assert c._getline()[0] == b"+ "
    assert c._shortcmd(plain("alice@example.com", PASSWORD)).startswith(b"+OK")
    c.quit()
    c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        c._shortcmd("AUTH PLAIN " + plain("alice@example.com", PASSWORD, authz="bob@example.com"))
    with pytest.raises(poplib.error_proto, match="Invalid SASL"):
        c._shortcmd("AUTH PLAIN !!!")
    with pytest.raises(poplib.error_proto, match="Unsupported"):
        c._shortcmd("AUTH CRAM-MD5")
    c.quit()


def test_app_password_and_wrong_password(alice: Account, connect: Connect) -> None:
    _, secret = do_create_app_password(alice, "Outlook")
    c = connect(password=secret)
    assert c.stat() == (0, 0)
    c.quit()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
        connect(password="wrong")


def test_limiter_blocks_then_closes(settings, alice: Account, pop3s_addr: tuple[str, int]) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_MAX_FAILURES_PER_IP = 2
    c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
    for wrong in ("wrong 1", "wrong 2"):
        c.user("alice@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            c.pass_(wrong)
    # Blocked now: even the right password is not checked.
    c.user("alice@example.com")
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        c.pass_(PASSWORD)
    # Three failures in one connection: closed.
    with pytest.raises((poplib.error_proto, OSError)):
        c.noop()
    c.close()


def test_pass_needs_user_and_commands_need_login(
    alice: Account, pop3s_addr: tuple[str, int]
) -> None:
    c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
    with pytest.raises(poplib.error_proto, match="USER first"):
        c.pass_(PASSWORD)
    with pytest.raises(poplib.error_proto, match="not allowed now"):
        c.stat()
    assert c.utf8().startswith(b"+OK")
    c.quit()


def test_plaintext_on_loopback_when_allowed(alice: Account, transactional_db: None) -> None:
    server = start_server(allow_plaintext_loopback=True)
    try:
        c = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=15)
        assert "USER" in c.capa()
        c.user("alice@example.com")
        c.pass_(PASSWORD)
        assert c.stat() == (0, 0)
        c.quit()
    finally:
        server.stop()


def test_login_delay_and_expire_advertised(alice: Account, transactional_db: None) -> None:
    server = start_server(login_delay=3600, expire="NEVER")
    try:
        port = server.ports["pop3s"]
        c = poplib.POP3_SSL("127.0.0.1", port, context=tls_context(), timeout=15)
        caps = c.capa()
        assert caps["LOGIN-DELAY"] == ["3600"] and caps["EXPIRE"] == ["NEVER"]
        c.user("alice@example.com")
        c.pass_(PASSWORD)
        c.quit()
        c = poplib.POP3_SSL("127.0.0.1", port, context=tls_context(), timeout=15)
        c.user("alice@example.com")
        with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
            c.pass_(PASSWORD)
        c.quit()
    finally:
        server.stop()
