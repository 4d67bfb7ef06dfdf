"""SMTP listeners: aiosmtpd wiring, TLS, connection limits and RFC 2034 status codes.
No business logic: the handler decides, this module only runs sessions."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP

from mailcore.config import Listen
from mailcore.smtp.handler import IngressHandler, IngressPolicy
from mailcore.smtp.submission import SubmissionHandler, SubmissionPolicy

log = logging.getLogger("mailroom")


class _NoLoginDataNoise(logging.Filter):
    """aiosmtpd logs a deprecation warning on every successful AUTH (it sets the legacy
    session.login_data itself); we never read that field."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_NoLoginDataNoise())

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


class MailroomSMTP(SMTP):
    """aiosmtpd's SMTP with connection caps and enhanced status codes on every reply."""

    # RFC 5321 §4.5.3.1.6 says 1000, but real mailers write longer lines (Postfix accepts
    # and folds at 2048); we accept up to 64 KiB per line and store the bytes unchanged.
    line_length_limit = 65536

    def __init__(self, handler: Any, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._limits = limits
        self._admitted_ip: str | None = None
        self._raw_replies = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self.transport is None:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "?"
            if not self._limits.admit(ip):
                log.warning("connection from %s refused: too many connections", ip)
                transport.write(b"421 4.7.0 Too many connections, try again later\r\n")  # type: ignore[attr-defined]
                transport.close()
                return
            self._admitted_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._admitted_ip is not None:
            self._limits.release(self._admitted_ip)
            self._admitted_ip = None
        if self.session is None:  # refused in connection_made: aiosmtpd never started
            return
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self.session is None:
            return False
        return super().eof_received()

    async def smtp_EHLO(self, hostname: str) -> None:
        self._raw_replies = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._raw_replies = False

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
        await super().push(status)


def _with_enhanced_code(status: str) -> str:
    code = status[:3]
    if len(status) < 4 or _HAS_ENHANCED.match(status) or code not in _ENHANCED_DEFAULT:
        return status
    text = status[4:]
    for prefix in ("Error: ", "Error "):
        text = text.removeprefix(prefix)
    return f"{code}{status[3]}{_ENHANCED_DEFAULT[code]} {text}"


_OFF = Listen("", 0)
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
    submission: Listen = _OFF
    smtps: Listen = _OFF
    submission_policy: SubmissionPolicy = _SUBMISSION_DEFAULTS


class SmtpServer:
    """Runs the listeners on an asyncio loop, either in this thread (serve_forever) or in a
    background thread (start/stop, for tests). `ports` holds the bound ports."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.loop = _new_loop()
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._thread: threading.Thread | None = None
        self._limits = ConnectionLimits(config.max_connections, config.max_connections_per_ip)

    def _factory(self) -> MailroomSMTP:
        cfg = self.config
        return MailroomSMTP(
            IngressHandler(cfg.policy),
            limits=self._limits,
            data_size_limit=cfg.max_message_bytes,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=cfg.hostname,
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
            factory, listen.host, listen.port, reuse_address=True, ssl=tls
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

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self._bind())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
                await server.wait_closed()

        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None
            self.loop.close()
        from mailcore import asyncdb

        asyncdb.shutdown()

    def serve_forever(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._bind())
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    # uvloop roughly halves the event loop's share of the CPU per SMTP session.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def config_from_settings() -> SmtpConfig:
    from django.conf import settings

    from mailcore.tls import ensure_self_signed, server_context

    if settings.TLS_SELF_SIGNED:
        ensure_self_signed(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME)
    tls = server_context(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE)
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
        ),
        max_message_bytes=settings.SMTP_MAX_MESSAGE_BYTES,
        timeout=settings.SMTP_TIMEOUT,
        command_call_limit=settings.SMTP_COMMAND_CALL_LIMIT,
        max_connections=settings.SMTP_MAX_CONNECTIONS,
        max_connections_per_ip=settings.SMTP_MAX_CONNECTIONS_PER_IP,
        tls_context=tls,
    )
