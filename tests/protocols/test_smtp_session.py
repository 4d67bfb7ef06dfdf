"""MailroomSMTP's own session constructor (_init_session_object) against aiosmtpd's: the same
state for the MX and the submission sessions, and real sessions through both work alike."""

from __future__ import annotations

import asyncio
import collections
import functools
import gc
import smtplib
import time
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


def test_address_fast_path_agrees_with_aiosmtpd() -> None:
    """MailroomSMTP._getaddr's regular expression against aiosmtpd's parser, on generated
    arguments: wherever it answers, the answer is the parser's; the forms it must leave to
    the parser do reach it."""
    import random

    from aiosmtpd.smtp import SMTP

    session = object.__new__(smtp_server_module.MailroomSMTP)

    def outcome(parse: Any, arg: str) -> object:
        try:
            return parse(arg)
        except Exception as exc:  # aiosmtpd's parser raises on some inputs (IndexError)
            return type(exc)

    def same(arg: str) -> bool:
        return outcome(session._getaddr, arg) == outcome(
            functools.partial(SMTP._getaddr, session), arg
        )

    rnd = random.Random(5)
    pieces = ["a", "B", "0", ".", "..", "@", "@@", "<", ">", " ", "\t", "(c)", '"q"', "[1.2.3.4]",
              "x-y", "+", "é", "SIZE=10", "=", ":", ",", "\\\\", "_", "'"]  # fmt: skip
    matched = 0
    for _ in range(20_000):
        arg = "<" + "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))
        if rnd.random() < 0.5:
            arg = "<" + rnd.choice(["a", "a.b", "x+y"]) + "@" + rnd.choice(["d.example", "d"])
            arg += ">" + "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4)))
        arg = arg.strip()
        fast = smtp_server_module._SIMPLE_PATH.match(arg)
        matched += fast is not None
        assert same(arg), arg
    assert matched > 2000
    for arg in ("<>", '<"a b"@d.example>', "<a@[1.2.3.4]>", "<@r.example:a@d.example>",
                "<é@d.example>", "<a@d.example>(comment) SIZE=1", "<a..b@d.example>"):  # fmt: skip
        assert smtp_server_module._SIMPLE_PATH.match(arg) is None, arg
        assert same(arg), arg


def test_a_finished_session_leaves_no_reference_cycle(alice, smtp_server) -> None:
    """Sessions are freed by reference counting when they end (MailroomSMTP._session_done):
    none of their objects waits for the cyclic collector, which would otherwise run every
    few messages over some 40 objects per session."""

    def one_message() -> None:
        with smtplib.SMTP(*smtp_server, timeout=20) as client:
            client.sendmail("x@y.example", ["alice@example.com"], b"Subject: t\r\n\r\nhi\r\n")

    one_message()  # what the first message imports and caches is not the session's
    time.sleep(0.3)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            one_message()
        time.sleep(0.5)  # the server's side of the last session ends
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        kinds = collections.Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert "MailroomSMTP" not in kinds, kinds.most_common(20)
