"""POP3 listeners: asyncio wiring, STLS (110-style) and implicit TLS (995-style), timeouts,
per-IP connection caps, input and output backpressure, output batching.
No business logic: mailcore.pop3.session decides, this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import cast

from mailcore.config import Listen
from mailcore.imap.server import FLUSH_BYTES, _new_loop
from mailcore.pop3.actions import DeleteAction
from mailcore.pop3.protocol import MAX_AUTH_LINE, LineReader, TooLong
from mailcore.pop3.session import Quit, Session, SessionConfig

log = logging.getLogger("mailroom.pop3")

READ_PAUSE_BYTES = 64 * 1024  # stop reading while this much input waits to be parsed
_OFF = Listen("", 0)


@dataclass(frozen=True, slots=True)
class Pop3Config:
    """Everything one POP3 process needs; passed in, never read from globals."""

    session: SessionConfig
    pop3: Listen = _OFF  # STLS
    pop3s: Listen = _OFF  # implicit TLS
    tls_context: ssl.SSLContext | None = None
    max_connections: int = 10000
    max_connections_per_ip: int = 50
    write_timeout: float = 120.0
    write_buffer_bytes: int = 256 * 1024


@dataclass(slots=True)
class _Caps:
    total: int = 0
    per_ip: Counter[str] = field(default_factory=Counter)


class Connection(asyncio.Protocol):
    """One client connection: the Wire a Session talks through."""

    def __init__(self, server: Pop3Server, *, implicit_tls: bool) -> None:
        self.server = server
        self.config = server.config
        self.reader = LineReader(MAX_AUTH_LINE)
        self.data_event = asyncio.Event()
        self.closed = False
        self.tls = implicit_tls
        self.peer_ip = "?"
        self.loopback = False
        self.transport: asyncio.Transport | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_soon = False
        self._admitted = False
        self.session: Session | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tr = cast(asyncio.Transport, transport)
        self.transport = tr
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else "?"
        try:
            self.loopback = ipaddress.ip_address(self.peer_ip).is_loopback
        except ValueError:
            self.loopback = False
        if not self.server.admit_ip(self.peer_ip):
            log.warning("POP3 connection from %s refused: too many connections", self.peer_ip)
            tr.write(b"-ERR [SYS/TEMP] Too many connections, try again later\r\n")
            tr.close()
            self.closed = True
            return
        self._admitted = True
        self.server.open_connections.add(self)
        tr.set_write_buffer_limits(high=self.config.write_buffer_bytes)
        self.session = Session(self.config.session, self, self.server)
        task = asyncio.ensure_future(self._run())
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        if self.reader.buffered() > READ_PAUSE_BYTES:
            self._pause()
        self.data_event.set()

    def eof_received(self) -> bool | None:
        self.closed = True
        self.data_event.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.data_event.set()
        self._can_write.set()
        self.server.open_connections.discard(self)
        if self._admitted:
            self._admitted = False
            self.server.release_ip(self.peer_ip)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def _pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if (
            self._paused
            and self.reader.buffered() < READ_PAUSE_BYTES
            and self.transport is not None
            and not self.closed
        ):
            self._paused = False
            self.transport.resume_reading()

    # --- Wire -------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Queue `data`; everything written before the session next waits leaves in one send
        (a pipelined run of answers is one TLS record), or at once at FLUSH_BYTES, then
        waiting for the client to read (output backpressure)."""
        if self.closed or self.transport is None:
            raise ConnectionResetError("connection closed")
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= FLUSH_BYTES:
            self.flush()
            await self._drain()
        elif not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_soon = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)

    async def _drain(self) -> None:
        if self.transport is None:
            raise ConnectionResetError("connection closed")
        if not self._can_write.is_set():
            try:
                await asyncio.wait_for(self._can_write.wait(), self.config.write_timeout)
            except TimeoutError:
                log.info("POP3 client %s does not read its output: closed", self.peer_ip)
                self.transport.abort()
                raise ConnectionResetError("client does not read") from None
            if self.closed:
                raise ConnectionResetError("connection closed")

    async def start_tls(self) -> None:
        ctx = self.config.tls_context
        assert ctx is not None and self.transport is not None
        loop = asyncio.get_running_loop()
        # As the IMAP server: stop reading before the +OK leaves, so a ClientHello sent the
        # moment it arrives stays in the socket for the TLS layer.
        self.transport.pause_reading()
        self.flush()
        self.reader.discard_buffer()
        transport = await loop.start_tls(
            self.transport,
            self,
            ctx,
            server_side=True,
            ssl_handshake_timeout=self.config.session.preauth_timeout,
        )
        if transport is None:
            raise ConnectionResetError("TLS handshake failed")
        self.transport = transport
        self.tls = True

    # --- the command loop -------------------------------------------------------------------

    async def _run(self) -> None:
        session = self.session
        assert session is not None
        try:
            await session.greet()
            while not self.closed:
                line = self.reader.next_line()
                if line is None:
                    self._resume()
                    self.data_event.clear()
                    try:
                        await asyncio.wait_for(self.data_event.wait(), session.timeout)
                    except TimeoutError:
                        await self.write(b"-ERR Autologout: idle for too long\r\n")
                        break
                    continue
                if isinstance(line, TooLong):
                    await session.bad("Command line too long")
                    continue
                await session.handle_line(line)
        except Quit:
            pass
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
        except Exception:
            log.exception("POP3 connection from %s failed", self.peer_ip)
        finally:
            session.close()
            self.flush()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()
            self.closed = True


class Pop3Server:
    """Runs the listeners on an asyncio loop, in this thread (serve_forever) or in a
    background thread (start/stop, for tests). `ports` holds the bound ports."""

    def __init__(self, config: Pop3Config) -> None:
        self.config = config
        self.loop = _new_loop()
        self.ports: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.open_connections: set[Connection] = set()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread: threading.Thread | None = None
        self._caps = _Caps()
        self._locked: set[int] = set()
        self._last_login: dict[int, float] = {}

    # --- caps and the per-account Registry ------------------------------------------------------

    def admit_ip(self, ip: str) -> bool:
        caps = self._caps
        if caps.total >= self.config.max_connections:
            return False
        if caps.per_ip[ip] >= self.config.max_connections_per_ip:
            return False
        caps.total += 1
        caps.per_ip[ip] += 1
        return True

    def release_ip(self, ip: str) -> None:
        caps = self._caps
        caps.total -= 1
        caps.per_ip[ip] -= 1
        if caps.per_ip[ip] <= 0:
            del caps.per_ip[ip]

    def lock(self, account_id: int) -> bool:
        """One POP3 session per maildrop (RFC 1939 §8, Dovecot's POP3 lock); IMAP and the
        webmail are not locked out."""
        if account_id in self._locked:
            return False
        self._locked.add(account_id)
        return True

    def unlock(self, account_id: int) -> None:
        self._locked.discard(account_id)

    def login_delay_left(self, account_id: int, delay: int) -> float:
        last = self._last_login.get(account_id)
        if last is None:
            return 0.0
        return max(0.0, last + delay - time.monotonic())

    def note_login(self, account_id: int) -> None:
        now = time.monotonic()
        self._last_login[account_id] = now
        if len(self._last_login) > 100_000:  # bounded: forget logins older than the delay
            horizon = now - max(self.config.session.login_delay, 1)
            self._last_login = {k: v for k, v in self._last_login.items() if v > horizon}

    @property
    def connections(self) -> int:
        return self._caps.total

    # --- listeners --------------------------------------------------------------------------

    async def _bind(self) -> None:
        cfg = self.config
        if cfg.tls_context is None:
            log.error("POP3 listeners not started: no TLS certificate configured")
            return
        for name, listen, implicit in (("pop3", cfg.pop3, False), ("pop3s", cfg.pop3s, True)):
            if not listen.enabled:
                continue
            server = await self.loop.create_server(
                lambda implicit=implicit: Connection(self, implicit_tls=implicit),
                listen.host,
                listen.port,
                reuse_address=True,
                ssl=cfg.tls_context if implicit else None,
                ssl_handshake_timeout=cfg.session.preauth_timeout if implicit else None,
                backlog=1024,
            )
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]

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

        self._thread = threading.Thread(target=run, name="pop3", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self.tasks):
            task.cancel()
        for conn in list(self.open_connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)

    def stop(self) -> None:
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
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


def config_from_settings() -> Pop3Config:
    from django.conf import settings

    from mailcore.tls import ensure_self_signed, server_context

    if settings.TLS_SELF_SIGNED:
        ensure_self_signed(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME)
    tls = server_context(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE)
    return Pop3Config(
        session=SessionConfig(
            hostname=settings.MAIL_HOSTNAME,
            allow_plaintext_loopback=settings.POP3_ALLOW_PLAINTEXT_LOOPBACK,
            preauth_timeout=float(settings.POP3_PREAUTH_TIMEOUT),
            idle_timeout=float(settings.POP3_IDLE_TIMEOUT),
            delete_action=DeleteAction(settings.POP3_DELETE_ACTION),
            expire=settings.POP3_EXPIRE,
            login_delay=settings.POP3_LOGIN_DELAY,
        ),
        pop3=settings.POP3_LISTEN,
        pop3s=settings.POP3S_LISTEN,
        tls_context=tls,
        max_connections=settings.POP3_MAX_CONNECTIONS,
        max_connections_per_ip=settings.POP3_MAX_CONNECTIONS_PER_IP,
    )
