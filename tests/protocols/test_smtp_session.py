"""MailroomSMTP's own session constructor (_init_session_object) against aiosmtpd's: the same
state for the MX and the submission sessions, and real sessions through both work alike."""

from __future__ import annotations

import asyncio
import smtplib
import types
from typing import Any

import pytest

from mailcore.listeners import new_loop
from mailcore.smtp import server as smtp_server_module
from mailcore.smtp.server import SmtpServer, config_from_settings

pytestmark = pytest.mark.django_db(transaction=True)


def _state(session: Any) -> dict[str, Any]:
    """The session's attributes, bound methods by (owner, function), the rest by value or type."""

    def norm(value: Any) -> Any:
        if isinstance(value, types.MethodType):
            return (type(value.__self__).__name__, value.__func__)
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if hasattr(value, "method") and hasattr(value, "is_builtin"):  # _AuthMechAttr
            return (norm(value.method), value.is_builtin)
        if isinstance(value, (str, int, float, bool, type(None), tuple, list)):
            return value
        return type(value).__name__

    out = {k: norm(v) for k, v in vars(session).items()}
    out["_smtp_methods"] = {k: norm(session._smtp_methods[k]) for k in session._smtp_methods}
    out["_stream_reader"] = type(session._stream_reader).__name__
    for name in ("_closed", "command_size_limits"):  # a future / a defaultdict of each session
        out.pop(name, None)
    return out


@pytest.mark.parametrize("factory", ["_factory", "_submission_factory"])
def test_own_constructor_matches_aiosmtpd(factory: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = SmtpServer(config_from_settings())
    make = getattr(server, factory)
    if factory == "_submission_factory":
        make = lambda: server._submission_factory(implicit_tls=False)  # noqa: E731
    try:
        fast = _state(make())
        monkeypatch.setattr(smtp_server_module.MailroomSMTP, "_fast_init", False)
        slow = _state(make())
    finally:
        server.loop.close()
    assert set(fast) == set(slow)
    for key in slow:
        assert fast[key] == slow[key], key
    assert fast["_auth_methods"] == slow["_auth_methods"]
    assert "DATA" in fast["_smtp_methods"]


@pytest.mark.parametrize("fast", [True, False])
def test_sessions_through_either_constructor(alice, smtp_factory, monkeypatch, fast: bool) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(smtp_server_module.MailroomSMTP, "_fast_init", fast)
    host, port = smtp_factory()
    for _ in range(2):  # the second session uses the tables the first one made
        with smtplib.SMTP(host, port, timeout=10) as c:
            code, text = c.ehlo("client.example")
            assert code == 250 and b"PIPELINING" in text and b"AUTH" not in text
            assert b"Syntax: RCPT TO:" in c.docmd("HELP", "RCPT")[1]
            c.sendmail("a@r.example", ["alice@example.com"], b"Subject: s\r\n\r\nbody\r\n")
            assert c.docmd("FOO")[0] == 500


def test_new_loop_is_usable() -> None:
    loop = new_loop()
    try:
        assert loop.run_until_complete(asyncio.sleep(0, result=1)) == 1
    finally:
        loop.close()
