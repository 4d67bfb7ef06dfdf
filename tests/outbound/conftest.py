"""Fixtures for outbound delivery: an in-process DNS server (dnslib) answering for test
domains, and "remote" SMTP servers (aiosmtpd) on 127.0.0.2, 127.0.0.3 … that accept, defer,
reject, drop the connection after DATA or offer STARTTLS."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer

from mailcore.tls import ensure_self_signed, server_context


class Zone(BaseResolver):
    """Records added at run time; unknown names answer NXDOMAIN, known names without the
    asked type answer NODATA (what an MX-less domain looks like)."""

    def __init__(self) -> None:
        self.rrs: list[RR] = []
        self.lock = threading.Lock()

    def add(self, name: str, rtype: str, value: str) -> None:
        with self.lock:
            if rtype == "TXT":
                raw = value.encode()
                self.rrs.append(
                    RR(
                        name,
                        QTYPE.TXT,
                        ttl=60,
                        rdata=TXT([raw[i : i + 255] for i in range(0, len(raw), 255)]),
                    )
                )
            else:
                self.rrs.extend(RR.fromZone(f"{name}. 60 {rtype} {value}"))

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        q = request.q
        with self.lock:
            known = [rr for rr in self.rrs if rr.rname == q.qname]
        for rr in known:
            if q.qtype in (rr.rtype, QTYPE.ANY):
                reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_everywhere(hosts: tuple[str, ...]) -> int:
    """A TCP and UDP port free on every one of `hosts` (other test runs share this machine)."""
    for _ in range(50):
        port = free_port(hosts[0])
        socks: list[socket.socket] = []
        try:
            for host in hosts:
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port")


@pytest.fixture
def zone(settings) -> Iterator[Zone]:  # type: ignore[no-untyped-def]
    resolver = Zone()
    for attempt in range(5):
        port = free_port_everywhere(("127.0.0.1",))
        servers: list[DNSServer] = []
        try:  # DNSServer binds in its constructor
            for tcp in (False, True):
                servers.append(
                    DNSServer(
                        resolver, port=port, address="127.0.0.1", tcp=tcp, logger=_QuietLogger()
                    )
                )
        except OSError:
            for s in servers:
                s.server.server_close()
            if attempt == 4:
                raise
            continue
        for s in servers:
            s.start_thread()
        break
    settings.RELAY_NAMESERVERS = f"127.0.0.1:{port}"
    settings.RELAY_DNS_TIMEOUT = 3.0
    yield resolver
    for s in servers:
        s.stop()
        s.server.server_close()


class _QuietLogger:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    mail_options: list[str]


@dataclass
class Behaviour:
    """What a remote server does; counters let a test say "defer twice, then accept"."""

    rcpt_reply: str = ""  # e.g. "550 5.1.1 no such user" for every RCPT
    rcpt_defer_times: int = 0  # answer 451 to the first N RCPTs
    data_reply: str = ""  # reply at end of DATA instead of 250
    drop_after_data: bool = False
    pipelining: bool = False  # advertise PIPELINING (RFC 2920); aiosmtpd answers in order
    dsn: bool = False  # advertise DSN (RFC 3461) and take its parameters (see DsnSinkSMTP)
    commands: list[str] = field(default_factory=list)  # MAIL/RCPT arguments as sent (dsn only)
    received: list[Received] = field(default_factory=list)
    rcpt_calls: int = 0


class SinkHandler:
    def __init__(self, behaviour: Behaviour) -> None:
        self.b = behaviour

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.b.pipelining:
            responses.insert(-1, "250-PIPELINING")
        if self.b.dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.b.rcpt_calls += 1
        if self.b.rcpt_calls <= self.b.rcpt_defer_times:
            return "451 4.7.1 greylisted, try again later"
        if self.b.rcpt_reply:
            return self.b.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.b.drop_after_data:
            server.transport.abort()
            return "250 2.0.0 never seen"
        if self.b.data_reply:
            return self.b.data_reply
        self.b.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.content),
                session.ssl is not None,
                list(envelope.mail_options),
            )
        )
        return "250 2.0.0 queued as SINK"


class DsnSinkSMTP(SMTP):
    """aiosmtpd knows no RFC 3461: this one records MAIL/RCPT as sent and drops the DSN
    parameters before aiosmtpd parses the rest."""

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(self._record(arg, ("RET", "ENVID")))

    async def smtp_RCPT(self, arg: str | None) -> None:
        await super().smtp_RCPT(self._record(arg, ("NOTIFY", "ORCPT")))

    def _record(self, arg: str | None, names: tuple[str, ...]) -> str | None:
        if arg is None:
            return None
        self.event_handler.b.commands.append(arg)
        return " ".join(w for w in arg.split(" ") if w.partition("=")[0].upper() not in names)


class SinkController(Controller):
    def factory(self) -> SMTP:
        if self.handler.b.dsn:
            return DsnSinkSMTP(self.handler, **self.SMTP_kwargs)
        return super().factory()


@pytest.fixture
def remote_port(settings) -> int:  # type: ignore[no-untyped-def]
    port = free_port_everywhere(tuple(f"127.0.0.{n}" for n in range(2, 10)))
    settings.RELAY_SMTP_PORT = port
    settings.RELAY_ALLOW_PRIVATE_TARGETS = True
    settings.RELAY_CONNECT_TIMEOUT = 3.0
    return port


@pytest.fixture
def remote(remote_port: int, tmp_path: Path):  # type: ignore[no-untyped-def]
    """remote("127.0.0.2", starttls=False, smtputf8=False) → Behaviour of a new server."""
    controllers: list[Controller] = []

    def start(
        ip: str,
        *,
        starttls: bool = False,
        smtputf8: bool = False,
        behaviour: Behaviour | None = None,
    ) -> Behaviour:
        b = behaviour or Behaviour()
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if starttls:
            cert, key = tmp_path / f"{ip}.crt", tmp_path / f"{ip}.key"
            ensure_self_signed(cert, key, "mx.remote.test")
            kwargs["tls_context"] = server_context(cert, key)
        ctl = SinkController(SinkHandler(b), hostname=ip, port=remote_port, **kwargs)
        ctl.start()
        controllers.append(ctl)
        return b

    yield start
    for ctl in controllers:
        ctl.stop()
