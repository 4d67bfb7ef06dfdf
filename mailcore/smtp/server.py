"""SMTP listeners: aiosmtpd wiring, TLS, connection limits and RFC 2034 status codes.
No business logic: the handler decides, this module only runs sessions."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import re
import socket
import ssl
import types
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, AnyStr

import aiosmtpd
import aiosmtpd.smtp
from aiosmtpd.smtp import MISSING, SMTP, _AuthMechAttr, login_always_fail, sanitized_log, syntax

from mailcore import metrics
from mailcore.config import Listen
from mailcore.delivery.cleanup import CleanupClient
from mailcore.delivery.cleanup import client_settings as cleanup_settings
from mailcore.delivery.dsnparams import (
    DsnParamError,
    MailDsn,
    RcptDsn,
    parse_mail_params,
    parse_rcpt_params,
    split_params,
)
from mailcore.delivery.groupcommit import queue_committer
from mailcore.listeners import OFF, LoopThread
from mailcore.smtp.data import DataScanner
from mailcore.smtp.handler import IngressHandler, IngressPolicy
from mailcore.smtp.submission import SubmissionHandler, SubmissionPolicy

log = logging.getLogger("mailroom")
_mail_log = aiosmtpd.smtp.log  # aiosmtpd's own ("mail.log"): the session's wire log


class _NoLoginDataNoise(logging.Filter):
    """aiosmtpd logs a deprecation warning on every successful AUTH (it sets the legacy
    session.login_data itself); we never read that field."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_NoLoginDataNoise())

# <local@domain> and what follows the ">" after blanks (MAIL/RCPT parameters): ASCII atext
# dot-atoms only (RFC 5322 §3.2.3); quoted local parts, literals, source routes, comments and
# non-ASCII are left to aiosmtpd's parser. Groups: address, local part, the rest.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_PATH = re.compile(
    rf"<(({_ATEXT}(?:\.{_ATEXT})*)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+([^ \t(].*))?\Z"
)
_HAS_ENHANCED = re.compile(r"^\d{3}[ -]\d\.\d{1,3}\.\d{1,3}( |$)")
# RFC 2034: every reply but the greeting and the EHLO/HELO answer carries an enhanced code.
_ENHANCED_DEFAULT = {
    "221": "2.0.0",
    "250": "2.0.0",
    "235": "2.7.0",
    "252": "2.5.0",
    "421": "4.7.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}


@dataclass(slots=True)
class ConnectionLimits:
    total: int
    per_ip: int
    active: Counter[str] = field(default_factory=Counter)

    def admit(self, ip: str) -> bool:
        if sum(self.active.values()) >= self.total or self.active[ip] >= self.per_ip:
            return False
        self.active[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.active[ip] -= 1
        if self.active[ip] <= 0:
            del self.active[ip]


class BareLineFeedError(Exception):
    """A command line ended by LF alone (SMTP smuggling, security.md)."""


class _CrlfReader(asyncio.StreamReader):
    """aiosmtpd's stream reader, made to refuse command lines not ended by CRLF (Postfix
    smtpd_forbid_bare_newline); message content is read in blocks through read_data."""

    _cr_before = False  # the last read() (an overlong line's head) ended with CR

    async def read(self, n: int = -1) -> bytes:
        data = await super().read(n)
        self._cr_before = data.endswith(b"\r")
        return data

    async def readuntil(self, separator: Any = b"\n") -> bytes:  # typeshed: _ReaduntilBuffer
        line = await super().readuntil(separator)
        cr_before, self._cr_before = self._cr_before, False
        crlf = line.endswith(b"\r\n") or (line == b"\n" and cr_before)
        if separator == b"\n" and not crlf:
            raise BareLineFeedError
        return line

    async def read_data(self, scanner: DataScanner) -> None:
        """Hand the buffered bytes to `scanner` until it has the whole DATA content, waiting
        for more as needed; what follows the terminator (pipelined commands) stays buffered.
        The connection's end before the terminator raises (nothing is kept)."""
        me: Any = self  # asyncio.StreamReader's internals, as its own readuntil uses them
        while True:
            if me._exception is not None:
                raise me._exception
            buffer: bytearray = me._buffer
            if buffer:
                taken = scanner.feed(buffer)
                if taken:
                    del buffer[:taken]
                    me._maybe_resume_transport()
                if scanner.done:
                    return
            if me._eof:
                raise asyncio.IncompleteReadError(bytes(buffer), None)
            await me._wait_for_data("read_data")


# Commands whose budget belongs to one transaction: it starts afresh after each message
# (end of DATA), so a client may send any number of messages over one connection, each
# bounded, as Postfix serves it. The others (STARTTLS, AUTH, VRFY, HELP …) count per session.
_TRANSACTION_COMMANDS = frozenset({"MAIL", "RCPT", "DATA", "RSET", "NOOP", "EHLO", "HELO"})


class MailroomSMTP(SMTP):
    """aiosmtpd's SMTP with connection caps and enhanced status codes on every reply, command
    budgets per transaction, CRLF-only command lines, line limits that count lines whatever
    their ending, and the DSN parameters (RFC 3461)."""

    # RFC 5321 §4.5.3.1.6 says 1000, but real mailers write longer lines (Postfix accepts
    # and folds at 2048); we accept up to 64 KiB per line and store the bytes unchanged.
    line_length_limit = 65536

    def __init__(
        self,
        handler: Any,
        *,
        limits: ConnectionLimits,
        command_call_limit: int,
        recipient_limit: int,
        **kwargs: Any,
    ) -> None:
        # aiosmtpd counts each command per session (the 101st RCPT or MAIL of a connection
        # would get 421); our budgets are per transaction, see _budgeted.
        if _FAST_INIT and self._fast_init:
            self._init_session_object(handler, **kwargs)
        else:
            super().__init__(handler, command_call_limit=None, **kwargs)
            reader = getattr(self, "_stream_reader", None)  # asyncio.StreamReaderProtocol's
            if reader is not None:
                reader.__class__ = _CrlfReader
        self._limits = limits
        self._admitted_ip: str | None = None
        self._raw_replies = False
        self._held: list[str] | None = None  # reply lines held to be written as one (EHLO)
        self._hang_up = False
        self._call_limit = command_call_limit
        # RFC 5321 §4.5.3.1.8: past the recipient limit each RCPT gets 452 and the session
        # goes on; only that many more (Postfix smtpd_recipient_overshoot_limit) end it.
        self._rcpt_budget = recipient_limit + command_call_limit
        self._calls: Counter[str] = Counter()
        # aiosmtpd keeps these in a class-level dict that every EHLO of every session adds to;
        # ours are per session and set at EHLO (see smtp_EHLO).
        self.command_size_limits = defaultdict(lambda: SMTP.command_size_limit)
        self._smtp_methods = _BoundMethods(self, _budgeted_methods(type(self)))  # type: ignore[assignment]

    # aiosmtpd's constructor runs inspect.getmembers() over the session, dir() over the
    # handler and inspect.signature() over handle_EHLO for every connection: about 3 % of the
    # SMTP process's samples at one session per message. _init_session_object sets what it
    # sets (aiosmtpd 1.4.6; tests/protocols/test_smtp_session.py compares the two), with those
    # lookups made once per (session class, handler class). False: aiosmtpd's own constructor.
    _fast_init = True

    def _init_session_object(
        self,
        handler: Any,
        *,
        data_size_limit: int | None = aiosmtpd.smtp.DATA_SIZE_DEFAULT,
        enable_SMTPUTF8: bool = False,
        decode_data: bool = False,
        hostname: str | None = None,
        ident: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        timeout: float = 300,
        auth_required: bool = False,
        auth_require_tls: bool = True,
        auth_exclude_mechanism: list[str] | None = None,
        auth_callback: Any = None,
        authenticator: Any = None,
        proxy_protocol_timeout: float | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.__ident__ = ident or aiosmtpd.smtp.__ident__
        self.loop = loop if loop else aiosmtpd.smtp.make_loop()
        asyncio.StreamReaderProtocol.__init__(
            self,
            _CrlfReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=self.loop,
        )
        self.event_handler = handler
        self.data_size_limit = data_size_limit
        self.enable_SMTPUTF8 = enable_SMTPUTF8
        self._decode_data = decode_data
        self.hostname = hostname or socket.getfqdn()
        self.tls_context = tls_context
        if tls_context and tls_context not in _CHECKED_CONTEXTS:  # once per context
            if tls_context.verify_mode not in {ssl.CERT_NONE, ssl.CERT_OPTIONAL}:
                log.warning("tls_context.verify_mode not in {CERT_NONE, CERT_OPTIONAL}")
            _CHECKED_CONTEXTS.add(tls_context)
        self.require_starttls = tls_context and require_starttls
        self._timeout_duration = timeout
        self._timeout_handle = None
        self._tls_handshake_okay = True
        self._tls_protocol = None
        self._original_transport = None
        self.session = None
        self.envelope = None
        self.transport = None
        self._handler_coroutine = None
        self._auth_require_tls = auth_require_tls
        if proxy_protocol_timeout is not None and proxy_protocol_timeout <= 0:
            raise ValueError("proxy_protocol_timeout must be > 0")
        self._proxy_timeout = proxy_protocol_timeout
        if authenticator is not None:
            self._authenticator = authenticator
            self._auth_callback = None
        else:
            self._auth_callback = auth_callback or login_always_fail
            self._authenticator = None
        self._auth_required = auth_required
        tables = _session_tables(self, handler, tuple(auth_exclude_mechanism or ()))
        self._auth_methods = {
            mechanism: _AuthMechAttr(getattr(self if builtin else handler, name), builtin)
            for mechanism, name, builtin in tables.auth
        }
        self._handle_hooks = {hook: getattr(handler, name) for hook, name in tables.hooks}
        self._ehlo_hook_ver = tables.ehlo_hook_ver
        self._enforce_call_limit = False

    def _transaction_done(self) -> None:
        for name in _TRANSACTION_COMMANDS:
            self._calls.pop(name, None)

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, BareLineFeedError):
            # Postfix (smtpd_forbid_bare_newline): reply and hang up; nothing after the bare
            # LF is read as a command.
            log.warning("%r sent a bare LF in a command line", self.session and self.session.peer)
            self._hang_up = True
            return "521 5.5.2 Error: bare <LF> received"
        status: str = await super().handle_exception(error)
        return status

    async def _handle_client(self) -> None:
        """aiosmtpd's command loop (1.4.6), the same replies in the same cases, with less
        per command: its wire log's arguments built only when that log is on, the command
        looked up in the class's table and its budget checked here (no bound method and no
        wrapper coroutine per command). A PROXY handshake or aiosmtpd's own call limits (not
        used here) take aiosmtpd's loop."""
        if self._proxy_timeout is not None or self._enforce_call_limit or not _FAST_INIT:
            await super()._handle_client()
            return
        session = self.session
        assert session is not None
        reader = self._reader
        assert isinstance(reader, _CrlfReader)
        commands = _budgeted_methods(type(self), wrapped=False)
        mail_log = _mail_log
        if mail_log.isEnabledFor(logging.INFO):
            mail_log.info("%r handling connection", session.peer)
        await self.push(f"220 {self.hostname} {self.__ident__}")
        bogus_budget = aiosmtpd.smtp.BOGUS_LIMIT
        while self.transport is not None:
            try:
                try:
                    line = await reader.readuntil()
                except asyncio.LimitOverrunError as error:
                    # Line too long. Read until end of line before sending 500.
                    await reader.read(error.consumed)
                    while True:
                        try:
                            await reader.readuntil()
                            break
                        except asyncio.LimitOverrunError as e:
                            await reader.read(e.consumed)
                    await self.push("500 Command line too long")
                    continue
                if mail_log.isEnabledFor(logging.DEBUG):
                    sanitized_log(mail_log.debug, "_handle_client readline: %r", line)
                line = line.rstrip(b"\r\n")
                if mail_log.isEnabledFor(logging.INFO):
                    sanitized_log(mail_log.info, "%r >> %r", session.peer, line)
                if not line:
                    await self.push("500 Error: bad syntax")
                    continue
                command_bytes, _, arg_bytes = line.partition(b" ")
                try:
                    command = command_bytes.upper().decode("ascii")
                except UnicodeDecodeError:
                    await self.push("500 Error: bad syntax")
                    continue
                arg: str | None = None
                if arg_bytes:
                    arg_bytes = arg_bytes.strip()
                    if self.enable_SMTPUTF8:
                        arg = str(arg_bytes, encoding="utf-8", errors="surrogateescape")
                    else:
                        try:
                            arg = str(arg_bytes, encoding="ascii", errors="strict")
                        except UnicodeDecodeError:
                            await self.push("500 Error: strict ASCII mode")
                            continue
                max_sz = (
                    self.command_size_limits[command]
                    if session.extended_smtp
                    else self.command_size_limit
                )
                if len(line) > max_sz:
                    await self.push("500 Command line too long")
                    continue
                if not self._tls_handshake_okay and command != "QUIT":
                    await self.push("554 Command refused due to lack of security")
                    continue
                if (
                    self.require_starttls
                    and not self._tls_protocol
                    and command not in aiosmtpd.smtp.ALLOWED_BEFORE_STARTTLS
                ):
                    await self.push("530 Must issue a STARTTLS command first")  # RFC 3207 §4
                    continue
                method = commands.get(command)
                if method is None:
                    log.warning("%r unrecognised: %s", session.peer, command)
                    bogus_budget -= 1
                    if bogus_budget < 1:
                        log.warning("%r too many bogus commands", session.peer)
                        await self.push("502 5.5.1 Too many unrecognized commands, goodbye.")
                        self.transport.close()
                        continue
                    await self.push(f'500 Error: command "{command}" not recognized')
                    continue
                self._reset_timeout()  # a valid command
                if not self._spend(command):
                    await self.push(f"421 4.7.0 {command} sent too many times")
                    continue
                await method(self, arg)
            except (asyncio.CancelledError, ConnectionResetError):
                # The connection got reset or closed (QUIT, EOF, the timeout).
                if mail_log.isEnabledFor(logging.INFO):
                    mail_log.info("%r Connection lost during _handle_client()", session.peer)
                self._writer.close()
                raise
            except Exception as error:
                status = None
                try:
                    status = await self.handle_exception(error)
                except Exception as inner_error:
                    try:
                        log.exception("%r Exception in handle_exception()", session.peer)
                        status = f"500 Error: ({inner_error.__class__.__name__}) {inner_error}"
                    except Exception:
                        status = "500 Error: Cannot describe error"
                finally:
                    if isinstance(error, aiosmtpd.smtp.TLSSetupException):
                        self.transport.close()
                        self.connection_lost(error)
                    else:
                        await self.push(status)  # type: ignore[type-var]

    def _spend(self, name: str) -> bool:
        """Count one `name` against its budget; False when it is spent (the caller answers
        421 and the session ends)."""
        budget = self._rcpt_budget if name == "RCPT" else self._call_limit
        calls = self._calls
        spent = calls.get(name, 0)  # not calls[name]: Counter's __missing__ is a Python call
        if spent >= budget:
            log.warning("%r over limit for %s", self.session and self.session.peer, name)
            self._hang_up = True
            return False
        calls[name] = spent + 1
        return True

    # aiosmtpd re-arms the session's timeout on every command: a timer cancelled and a new one
    # made (with uvloop a libuv handle each), five times a message. Here one timer runs per
    # session: a command only moves the deadline, and a timer that fires before the deadline
    # sets itself again for what is left. A shorter deadline than the timer's (the PROXY
    # handshake's) still gets a timer of its own.
    _deadline = 0.0  # loop time at which the session times out
    _timer_at = 0.0  # loop time at which the armed timer fires

    def _reset_timeout(self, duration: float | None = None) -> None:
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._deadline = deadline
        handle = self._timeout_handle
        if handle is not None and self._timer_at <= deadline and not handle.cancelled():
            return
        if handle is not None:
            handle.cancel()
        self._timer_at = deadline
        self._timeout_handle = self.loop.call_at(deadline, self._timeout_cb)

    def _timeout_cb(self) -> None:
        if self._deadline > self._timer_at:  # a command came since the timer was set
            self._timer_at = self._deadline
            self._timeout_handle = self.loop.call_at(self._deadline, self._timeout_cb)
            return
        self._timer_at = math.inf  # spent: a later _reset_timeout sets a new one
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self.transport is None:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "?"
            if not self._limits.admit(ip):
                log.warning("connection from %s refused: too many connections", ip)
                transport.write(b"421 4.7.0 Too many connections, try again later\r\n")  # type: ignore[attr-defined]
                transport.close()
                metrics.smtp_reply("421 4.7.0")
                return
            self._admitted_ip = ip
            sock = transport.get_extra_info("sockname")
            _sessions_counter(sock[1] if sock else "?").inc()
            super().connection_made(transport)
            if self._handler_coroutine is not None:
                self._handler_coroutine.add_done_callback(self._session_done)
            return
        super().connection_made(transport)

    def _session_done(self, task: asyncio.Task[None]) -> None:
        """The command loop has ended after the connection did: drop the references that
        make the session a reference cycle (the loop's task, whose CancelledError holds the
        loop's frame; the stream writer; the bound command table; asyncio's connected
        callback), so that reference counting frees it at once. Otherwise each session left
        some 40 objects for the cyclic collector, which then ran every few messages."""
        if self.transport is not None:  # the loop ended on its own: the session goes on
            return
        self._handler_coroutine = None
        self._writer = None  # type: ignore[assignment]
        self._smtp_methods = {}
        self._client_connected_cb = None

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted_ip is not None:
            self._limits.release(self._admitted_ip)
            self._admitted_ip = None
        if self.session is None:  # refused in connection_made: aiosmtpd never started
            return
        if self._handler_coroutine is None:  # a second call after _session_done: all done
            return
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self.session is None or self._handler_coroutine is None:
            return False
        return super().eof_received()

    async def smtp_EHLO(self, hostname: str) -> None:
        # aiosmtpd pushes each line of the EHLO reply on its own (a write system call and a
        # drain each, 8 for our extensions); they are held and written as one.
        self._raw_replies = True
        self._held = []
        try:
            await super().smtp_EHLO(hostname)
        finally:
            held, self._held = self._held, None
            self._raw_replies = False
        if held:
            await self._send("\r\n".join(held))  # counted by push() line by line
        # RFC 5321 §4.5.3.1.4 (512) plus what each offered extension may add: SIZE (RFC 1870,
        # 26), SMTPUTF8 (10), DSN (RFC 3461 §5: 110 on MAIL for RET and ENVID, 500 on RCPT for
        # NOTIFY and ORCPT).
        base = SMTP.command_size_limit
        self.command_size_limits.clear()
        self.command_size_limits.update({"MAIL": base + 26 + 10 + 110, "RCPT": base + 500})

    async def smtp_HELO(self, hostname: str) -> None:
        self._raw_replies = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._raw_replies = False

    async def push(self, status: AnyStr) -> None:
        if (
            isinstance(status, str)
            and not self._raw_replies
            and (self.session is None or self.session.extended_smtp)
        ):
            status = _with_enhanced_code(status)
        if isinstance(status, str):
            metrics.smtp_reply(status)
            if self._held is not None:
                self._held.append(status)
                return
        await self._send(status)

    async def _send(self, status: AnyStr) -> None:
        """aiosmtpd's push: the reply written to the transport; waits (StreamWriter.drain)
        only while the transport is over its high-water mark (a client that does not read),
        which is the one case where drain() would not return at once."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if isinstance(status, str):
            response = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        else:
            response = status
        transport.write(response + b"\r\n")  # type: ignore[attr-defined]
        if _mail_log.isEnabledFor(logging.DEBUG):
            _mail_log.debug("%r << %r", self.session and self.session.peer, response)
        if self._paused:  # type: ignore[attr-defined]  # asyncio's FlowControlMixin
            await self._drain_helper()  # type: ignore[attr-defined]
        if self._hang_up:
            transport.close()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parsing (the email package's RFC 5322 parser, some 100 µs a
        call, two or three calls per MAIL and per RCPT), with the common form — an ASCII
        dot-atom in angle brackets — matched by one regular expression first; anything else
        goes to aiosmtpd's parser (tests/protocols/test_smtp_session.py compares the two)."""
        match = _SIMPLE_PATH.match(arg)
        if match is None or (self.local_part_limit and len(match[2]) > self.local_part_limit):
            return super()._getaddr(arg)
        return match[1], match[3] or ""

    # --- DSN parameters (RFC 3461 §4) ----------------------------------------------------------

    def _dsn_split(self, arg: str, keyword: str) -> tuple[str, list[tuple[str, str, bool]]] | None:
        """("FROM:<path>", parameters as sent) of a MAIL/RCPT argument; None if it does not
        parse (aiosmtpd then answers the syntax error)."""
        stripped = self._strip_command_keyword(keyword, arg)
        if stripped is None:
            return None
        address, params = self._getaddr(stripped)
        if address is None or params is None:
            return None
        return keyword + stripped[: len(stripped) - len(params)].rstrip(), split_params(params)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        dsn = MailDsn()
        envelope = self.envelope
        open_before = envelope is not None and envelope.mail_from is not None
        if arg is not None and self.session is not None and self.session.extended_smtp:
            split = None if open_before else self._dsn_split(arg, "FROM:")
            if split is not None:
                head, params = split
                try:
                    dsn, rest = parse_mail_params(params)
                except DsnParamError as exc:
                    await self.push(f"501 5.5.4 Malformed DSN parameter: {exc}")
                    return
                arg = " ".join([head, *rest])
        await super().smtp_MAIL(arg)
        envelope = self.envelope
        if not open_before and envelope is not None and envelope.mail_from is not None:
            envelope.mailroom_dsn = dsn  # type: ignore[attr-defined]

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        dsn = RcptDsn()
        envelope = self.envelope
        before = len(envelope.rcpt_tos) if envelope is not None else 0
        in_transaction = envelope is not None and envelope.mail_from is not None
        if arg is not None and in_transaction and self.session and self.session.extended_smtp:
            split = self._dsn_split(arg, "TO:")
            if split is not None:
                head, params = split
                try:
                    dsn, rest = parse_rcpt_params(params)
                except DsnParamError as exc:
                    await self.push(f"501 5.5.4 Malformed DSN parameter: {exc}")
                    return
                arg = " ".join([head, *rest])
        await super().smtp_RCPT(arg)
        envelope = self.envelope
        if envelope is not None and len(envelope.rcpt_tos) > before and dsn != RcptDsn():
            asked = getattr(envelope, "mailroom_rcpt_dsn", None)
            if asked is None:
                asked = envelope.mailroom_rcpt_dsn = {}  # type: ignore[attr-defined]
            asked[envelope.rcpt_tos[-1]] = dsn

    # --- DATA ------------------------------------------------------------------------------------

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        """aiosmtpd's DATA, read in blocks (mailcore.smtp.data): a line's length is counted
        whatever its ending (a message with LF-only lines is not one long line), dots are
        unstuffed at every line start, and only CRLF "." CRLF ends the data (RFC 5321
        §4.1.1.4; Postfix smtpd_forbid_bare_newline=normalize)."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        reader = self._reader
        assert isinstance(reader, _CrlfReader)
        scanner = DataScanner(self.line_length_limit, self.data_size_limit)
        # eof_received cancels this coroutine; a reset raises: no partial message goes on.
        await reader.read_data(scanner)
        too_long, too_much = scanner.too_long, scanner.too_much
        if too_long or too_much:
            await self.push(
                "500 Line too long (see RFC5321 4.5.3.1.6)"
                if too_long
                else "552 Error: Too much mail data"
            )
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            self._transaction_done()
            return
        content = scanner.content()
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        self._transaction_done()
        await self.push("250 OK" if status is MISSING else status)


_FAST_INIT = aiosmtpd.__version__ == "1.4.6"  # another version: its own constructor
# TLS contexts whose verify mode was checked (aiosmtpd checks it for every session; reading
# it builds an enum member each time). A context reloaded by mailcore.tls is a new object.
_CHECKED_CONTEXTS: weakref.WeakSet[ssl.SSLContext] = weakref.WeakSet()


@functools.cache
def _sessions_counter(port: int | str) -> Any:
    """The sessions counter of one local port (prometheus_client's labels() takes a lock and
    builds the label tuple on every call)."""
    return metrics.SMTP_SESSIONS.labels(str(port))


@dataclass(frozen=True, slots=True)
class _SessionTables:
    auth: tuple[tuple[str, str, bool], ...]  # (mechanism, attribute, on the session itself)
    hooks: tuple[tuple[str, str], ...]  # (hook, the handler's attribute)
    ehlo_hook_ver: str | None


_TABLES: dict[tuple[type, type, tuple[str, ...]], _SessionTables] = {}


def _session_tables(server: SMTP, handler: Any, exclude: tuple[str, ...]) -> _SessionTables:
    """What aiosmtpd's constructor finds by introspection, found once per pair of classes."""
    key = (type(server), type(handler), exclude)
    tables = _TABLES.get(key)
    if tables is not None:
        return tables
    auth: dict[str, tuple[str, bool]] = {}
    for obj in (server, handler):
        for name in sorted(dir(type(obj))):
            if name.startswith("auth_"):
                default = name.replace("auth_", "").replace("__", "-")
                mechanism = getattr(getattr(obj, name), "__auth_mechanism_name__", default)
                auth[mechanism] = (name, obj is server)
    for mechanism in exclude:
        auth.pop(mechanism, None)
    hooks = tuple(
        (name.replace("handle_", ""), name)
        for name in sorted(dir(type(handler)))
        if name.startswith("handle_")
    )
    ehlo = getattr(handler, "handle_EHLO", None)
    version = None
    if ehlo is not None:
        count = len(inspect.signature(ehlo).parameters)
        if count not in (4, 5):
            raise RuntimeError("Unsupported EHLO Hook")
        version = "new" if count == 5 else "old"
    tables = _SessionTables(
        tuple((m, name, builtin) for m, (name, builtin) in auth.items()), hooks, version
    )
    _TABLES[key] = tables
    return tables


_BUDGETED: dict[tuple[type, bool], dict[str, Callable[..., Any]]] = {}


def _budgeted_methods(cls: type, *, wrapped: bool = True) -> dict[str, Callable[..., Any]]:
    """The session class's smtp_* commands as plain functions (bound per session when looked
    up), each wrapped in the per-transaction budget, or (wrapped=False) as they are, for the
    command loop that checks the budget itself."""
    table = _BUDGETED.get((cls, wrapped))
    if table is None:
        table = {
            name.replace("smtp_", ""): getattr(cls, name)
            for name in dir(cls)
            if name.startswith("smtp_")
        }
        if wrapped:
            table = {command: _budgeted(command, method) for command, method in table.items()}
        _BUDGETED[cls, wrapped] = table
    return table


def _budgeted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(self: MailroomSMTP, arg: str | None) -> None:
        if self._spend(name):
            await method(self, arg)
        else:
            await self.push(f"421 4.7.0 {name} sent too many times")

    return call


class _BoundMethods(Mapping[str, Any]):
    """aiosmtpd's command table (`_smtp_methods`, command → bound method), bound on lookup."""

    __slots__ = ("_server", "_table")

    def __init__(self, server: SMTP, table: dict[str, Callable[..., Any]]) -> None:
        self._server = server
        self._table = table

    def __getitem__(self, command: str) -> Any:
        return types.MethodType(self._table[command], self._server)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def _with_enhanced_code(status: str) -> str:
    code = status[:3]
    if len(status) < 4 or _HAS_ENHANCED.match(status) or code not in _ENHANCED_DEFAULT:
        return status
    text = status[4:]
    for prefix in ("Error: ", "Error "):
        text = text.removeprefix(prefix)
    return f"{code}{status[3]}{_ENHANCED_DEFAULT[code]} {text}"


_SUBMISSION_DEFAULTS = SubmissionPolicy(max_recipients=100, max_auth_failures=3)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Everything one SMTP process needs; passed in, never read from globals."""

    hostname: str
    mx: Listen
    policy: IngressPolicy
    max_message_bytes: int
    timeout: float
    command_call_limit: int
    max_connections: int
    max_connections_per_ip: int
    tls_context: ssl.SSLContext | None = None
    # Submission (RFC 6409): 587 with STARTTLS, 465 with implicit TLS (RFC 8314); both need
    # tls_context and are not started without it (no AUTH over plaintext).
    submission: Listen = OFF
    smtps: Listen = OFF
    submission_policy: SubmissionPolicy = _SUBMISSION_DEFAULTS
    # SO_REUSEPORT on every listener: several SMTP processes (SMTP_PROCESSES under runall)
    # bind the same ports and the kernel spreads connections over them, as Postfix's master
    # hands each client to one of its smtpd processes.
    reuse_port: bool = False
    # The durable step of accepting MX mail in a cleanup process of this process's own
    # (mailcore.delivery.cleanup, SMTP_CLEANUP_PROCESS), as Postfix's smtpd hands mail to
    # cleanup(8); off: on this process's group-commit thread.
    cleanup_process: bool = False


class SmtpServer(LoopThread):
    """Runs the listeners on an asyncio loop, either in this thread (serve_forever) or in a
    background thread (start/stop, for tests). `ports` holds the bound ports."""

    thread_name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        super().__init__()
        self.config = config
        self._limits = ConnectionLimits(config.max_connections, config.max_connections_per_ip)
        self._cleanup: CleanupClient | None = None
        if config.cleanup_process and config.policy.group_commit:
            self._cleanup = CleanupClient(cleanup_settings())

    def _started(self) -> None:
        if self._cleanup is not None:  # started now, not at the first message
            task = self.loop.create_task(self._cleanup.start())
            task.add_done_callback(_log_start_failure)

    def stop(self) -> None:
        super().stop()
        queue_committer().shutdown()  # its database connection goes with the pool's

    def _factory(self) -> MailroomSMTP:
        cfg = self.config
        return MailroomSMTP(
            IngressHandler(cfg.policy, self._cleanup),
            limits=self._limits,
            data_size_limit=cfg.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=cfg.hostname,
            recipient_limit=cfg.policy.max_recipients,
            ident="Mailroom ESMTP",
            tls_context=cfg.tls_context,
            require_starttls=False,
            timeout=cfg.timeout,
            command_call_limit=cfg.command_call_limit,
            loop=self.loop,
            # The MX takes no AUTH at all, before or after STARTTLS (submission is for that).
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )

    def _submission_factory(self, *, implicit_tls: bool) -> MailroomSMTP:
        cfg = self.config
        return MailroomSMTP(
            SubmissionHandler(cfg.policy, cfg.submission_policy),
            limits=self._limits,
            data_size_limit=cfg.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=cfg.hostname,
            recipient_limit=cfg.submission_policy.max_recipients or cfg.policy.max_recipients,
            ident="Mailroom ESMTP Submission",
            timeout=cfg.timeout,
            command_call_limit=cfg.command_call_limit,
            loop=self.loop,
            # 587: nothing but EHLO/NOOP/QUIT before STARTTLS (530), AUTH offered only after.
            # 465: the socket is TLS from the first byte, which aiosmtpd's auth_require_tls
            # cannot see (libraries.md §3), so it is off there and no STARTTLS is offered.
            tls_context=None if implicit_tls else cfg.tls_context,
            require_starttls=not implicit_tls,
            auth_require_tls=not implicit_tls,
        )

    async def _listen(
        self, name: str, listen: Listen, factory: Any, tls: ssl.SSLContext | None = None
    ) -> None:
        server = await self.loop.create_server(
            factory,
            listen.host,
            listen.port,
            reuse_address=True,
            reuse_port=self.config.reuse_port or None,
            ssl=tls,
        )
        self._servers.append(server)
        self.ports[name] = server.sockets[0].getsockname()[1]

    async def _bind(self) -> None:
        cfg = self.config
        if cfg.mx.enabled:
            await self._listen("mx", cfg.mx, self._factory)
        for name, listen, implicit in (
            ("submission", cfg.submission, False),
            ("smtps", cfg.smtps, True),
        ):
            if not listen.enabled:
                continue
            if cfg.tls_context is None:
                log.error("%s listener not started: no TLS certificate configured", name)
                continue
            factory = functools.partial(self._submission_factory, implicit_tls=implicit)
            await self._listen(name, listen, factory, cfg.tls_context if implicit else None)

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()
        if self._cleanup is not None:
            await self._cleanup.close()


def _log_start_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("cleanup process: %s (the next message tries again)", task.exception())


def config_from_settings() -> SmtpConfig:
    from django.conf import settings

    from mailcore.tls import context_from_settings

    tls = context_from_settings()  # SNI, reloaded when the files change
    processes = max(1, settings.SMTP_PROCESSES)
    return SmtpConfig(
        hostname=settings.MAIL_HOSTNAME,
        mx=settings.SMTP_LISTEN,
        submission=settings.SUBMISSION_LISTEN,
        smtps=settings.SMTPS_LISTEN,
        submission_policy=SubmissionPolicy(
            max_recipients=settings.SUBMISSION_MAX_RECIPIENTS,
            max_auth_failures=settings.SMTP_AUTH_MAX_FAILURES_PER_SESSION,
        ),
        policy=IngressPolicy(
            hostname=settings.MAIL_HOSTNAME,
            max_recipients=settings.SMTP_MAX_RECIPIENTS,
            max_received_headers=settings.SMTP_MAX_RECEIVED_HEADERS,
            bare_lf=settings.SMTP_BARE_LF,
            group_commit=settings.SMTP_GROUP_COMMIT,
            block_at_rcpt=settings.RULES_BLOCK_AT_RCPT,
        ),
        max_message_bytes=settings.SMTP_MAX_MESSAGE_BYTES,
        timeout=settings.SMTP_TIMEOUT,
        command_call_limit=settings.SMTP_COMMAND_CALL_LIMIT,
        # Each of the processes counts its own connections: the caps are shared out among
        # them, so all together never hold more than configured.
        max_connections=per_process(settings.SMTP_MAX_CONNECTIONS, processes),
        max_connections_per_ip=per_process(settings.SMTP_MAX_CONNECTIONS_PER_IP, processes),
        tls_context=tls,
        reuse_port=processes > 1,
        cleanup_process=settings.SMTP_CLEANUP_PROCESS,
    )


def per_process(limit: int, processes: int) -> int:
    """One process's share of a connection cap (at least 1)."""
    return max(1, limit // processes)
