"""IMAP listeners: asyncio wiring, STARTTLS (143-style) and implicit TLS (993-style), timeouts,
per-IP / per-account connection caps, input and output backpressure, COMPRESS=DEFLATE.
No business logic: mailcore.imap.session decides, this module only moves bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from mailcore.config import Listen
from mailcore.imap.notify import ChangeHub, Waiter
from mailcore.imap.protocol import (
    LINE_TOO_LONG,
    CommandReader,
    NeedContinuation,
    RawCommand,
    ReaderError,
)
from mailcore.imap.session import Logout, Session, SessionConfig

log = logging.getLogger("mailroom.imap")

READ_PAUSE_BYTES = 1024 * 1024  # stop reading while this much input waits to be parsed
INFLATE_CHUNK = 256 * 1024  # COMPRESS: inflate at most this much per step (zip bombs)
FLUSH_BYTES = 64 * 1024  # output queued before it is sent without waiting for the next pause
_OFF = Listen("", 0)


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """Everything one IMAP process needs; passed in, never read from globals."""

    session: SessionConfig
    imap: Listen = _OFF  # STARTTLS
    imaps: Listen = _OFF  # implicit TLS
    tls_context: ssl.SSLContext | None = None
    max_connections: int = 10000
    max_connections_per_ip: int = 50
    # A client that does not read: the server waits this long for room in its buffer, then
    # drops the connection (it never buffers more than the transport's high-water mark).
    write_timeout: float = 120.0
    write_buffer_bytes: int = 256 * 1024


@dataclass(slots=True)
class _Caps:
    total: int = 0
    per_ip: Counter[str] = field(default_factory=Counter)
    per_account: Counter[int] = field(default_factory=Counter)


class Connection(asyncio.Protocol):
    """One client connection: the Wire a Session talks through."""

    def __init__(self, server: ImapServer, *, implicit_tls: bool) -> None:
        self.server = server
        self.config = server.config
        self.reader = CommandReader(self.config.session.limits)
        self.data_event = asyncio.Event()
        self.closed = False
        self.tls = implicit_tls
        self.peer_ip = "?"
        self.loopback = False
        self.transport: asyncio.Transport | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._deflate: Any = None
        self._inflate: Any = None
        self._inflate_tail = b""
        self._paused = False
        self._out: list[bytes] = []  # written by the session, not yet given to the transport
        self._out_size = 0
        self._flush_soon = False
        self._admitted = False
        self._task: asyncio.Task[None] | None = None
        self.session: Session | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transports are not asyncio.Transport subclasses, but behave as one.
        tr = cast(asyncio.Transport, transport)
        self.transport = tr
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else "?"
        try:
            self.loopback = ipaddress.ip_address(self.peer_ip).is_loopback
        except ValueError:
            self.loopback = False
        if not self.server.admit_ip(self.peer_ip):
            log.warning("IMAP connection from %s refused: too many connections", self.peer_ip)
            tr.write(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
            tr.close()
            self.closed = True
            return
        self._admitted = True
        self.server.open_connections.add(self)
        tr.set_write_buffer_limits(high=self.config.write_buffer_bytes)
        self.session = Session(self.config.session, self, self.server)
        self._task = asyncio.ensure_future(self._run())
        self.server.tasks.add(self._task)
        self._task.add_done_callback(self.server.tasks.discard)

    def data_received(self, data: bytes) -> None:
        if self._inflate is not None:
            data = self._inflate_tail + data
            self._inflate_tail = b""
            data = self._decompress(data)
        self.reader.feed(data)
        if self.reader.buffered() > READ_PAUSE_BYTES or self._inflate_tail:
            self._pause()
        self.data_event.set()

    def _decompress(self, data: bytes) -> bytes:
        out = self._inflate.decompress(data, INFLATE_CHUNK)
        self._inflate_tail = self._inflate.unconsumed_tail
        return bytes(out)

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

    def _resume(self) -> bool:
        """Read on once the parser caught up; True when it fed more input to the parser."""
        fed = False
        if self._inflate_tail and self.reader.buffered() < READ_PAUSE_BYTES:
            self.reader.feed(self._decompress(self._inflate_tail))
            fed = True
        if (
            self._paused
            and not self._inflate_tail
            and self.reader.buffered() < READ_PAUSE_BYTES
            and self.transport is not None
            and not self.closed
        ):
            self._paused = False
            self.transport.resume_reading()
        return fed

    # --- Wire -------------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Queue `data`; it goes out as one TLS record (and one DEFLATE flush) with whatever
        else the session writes before it next waits (a response of ten lines is one send,
        not ten), or at once when FLUSH_BYTES are queued: then this waits for the client to
        read (output backpressure)."""
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
        """Hand the queued output to the transport (before TLS or COMPRESS starts, and before
        the connection closes)."""
        self._flush_soon = False
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        if self.transport is None or self.transport.is_closing():
            return
        if self._deflate is not None:
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self.transport.write(data)

    async def _drain(self) -> None:
        if self.transport is None:
            raise ConnectionResetError("connection closed")
        if not self._can_write.is_set():
            try:
                await asyncio.wait_for(self._can_write.wait(), self.config.write_timeout)
            except TimeoutError:
                log.info("IMAP client %s does not read its output: closed", self.peer_ip)
                self.transport.abort()
                raise ConnectionResetError("client does not read") from None
            if self.closed:
                raise ConnectionResetError("connection closed")

    async def start_tls(self) -> None:
        ctx = self.config.tls_context
        assert ctx is not None and self.transport is not None
        loop = asyncio.get_running_loop()
        # Stop reading before the OK leaves: a ClientHello sent the moment the OK arrives
        # must stay in the socket for the TLS layer, not reach the plaintext reader in a loop
        # turn before start_tls pauses reading (imap-bugs item 2). start_tls is awaited
        # directly (asyncio.wait_for would run it in a task of its own, one turn later).
        self.transport.pause_reading()
        self.flush()  # the tagged OK goes out in plaintext
        self._inflate_tail = b""
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
        # What arrives from here on came through TLS; plaintext sent before the handshake
        # was dropped above (any later plaintext would break the handshake itself).

    def start_compress(self) -> None:
        # RFC 4978: raw DEFLATE both ways from the next byte on (the tagged OK is not).
        self.flush()
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        pending = self.reader.take_buffer()  # received after the COMPRESS command: compressed
        if pending:
            self.reader.feed(self._decompress(pending))

    # --- the command loop -------------------------------------------------------------------

    async def _run(self) -> None:
        session = self.session
        assert session is not None
        cfg = self.config.session
        try:
            await session.greet()
            while not self.closed:
                event = self.reader.next_event()
                if event is None:
                    if self._resume():
                        continue
                    self.data_event.clear()
                    timeout = cfg.preauth_timeout if session.account is None else cfg.idle_timeout
                    try:
                        await asyncio.wait_for(self.data_event.wait(), timeout)
                    except TimeoutError:
                        await self.write(b"* BYE Autologout: idle for too long\r\n")
                        break
                    continue
                if isinstance(event, NeedContinuation):
                    await self.write(b"+ Ready for literal data\r\n")
                elif isinstance(event, ReaderError):
                    code = f"[{event.code}] " if event.code else ""
                    # NO [TOOBIG] for a literal over APPENDLIMIT (RFC 7889); a line too
                    # long is a malformed command: BAD [TOOBIG], as Dovecot answers.
                    too_big = event.code == "TOOBIG" and event.message != LINE_TOO_LONG
                    kind = "NO" if too_big and session.account else "BAD"
                    await self.write(f"{event.tag} {kind} {code}{event.message}\r\n".encode())
                    if event.fatal:
                        await self.write(b"* BYE Too much input\r\n")
                        break
                elif isinstance(event, RawCommand):
                    await session.handle_raw(event)
        except Logout:
            pass
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
        except Exception:
            log.exception("IMAP connection from %s failed", self.peer_ip)
        finally:
            session.close()
            self.flush()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()
            self.closed = True


class ImapServer:
    """Runs the listeners on an asyncio loop, in this thread (serve_forever) or in a
    background thread (start/stop, for tests). `ports` holds the bound ports."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.loop = _new_loop()
        self.ports: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.open_connections: set[Connection] = set()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread: threading.Thread | None = None
        self._caps = _Caps()
        self.hub = ChangeHub(self.loop)

    # --- AccountRegistry for sessions -------------------------------------------------------

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

    def admit_account(self, account_id: int) -> bool:
        if self._caps.per_account[account_id] >= self.config.session.max_per_account:
            return False
        self._caps.per_account[account_id] += 1
        return True

    def release_account(self, account_id: int) -> None:
        self._caps.per_account[account_id] -= 1
        if self._caps.per_account[account_id] <= 0:
            del self._caps.per_account[account_id]

    def register(self, account_id: int) -> Waiter:
        return self.hub.register(account_id)

    def unregister(self, waiter: Waiter) -> None:
        self.hub.unregister(waiter)

    @property
    def connections(self) -> int:
        return self._caps.total

    # --- listeners --------------------------------------------------------------------------

    async def _bind(self) -> None:
        cfg = self.config
        if cfg.tls_context is None:
            log.error("IMAP listeners not started: no TLS certificate configured")
            return
        for name, listen, implicit in (("imap", cfg.imap, False), ("imaps", cfg.imaps, True)):
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
        self.hub.start()

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

        self._thread = threading.Thread(target=run, name="imap", daemon=True)
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
        self.hub.stop()
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
            self.hub.stop()
            self.loop.close()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def config_from_settings() -> ImapConfig:
    from django.conf import settings

    from mailcore.imap.protocol import Limits
    from mailcore.tls import ensure_self_signed, server_context

    if settings.TLS_SELF_SIGNED:
        ensure_self_signed(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME)
    tls = server_context(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE)
    appendlimit = settings.IMAP_APPENDLIMIT
    limits = Limits(
        max_line=settings.IMAP_MAX_LINE_BYTES,
        max_literal=appendlimit,
        max_command=appendlimit + settings.IMAP_MAX_LINE_BYTES,
    )
    return ImapConfig(
        session=SessionConfig(
            hostname=settings.MAIL_HOSTNAME,
            limits=limits,
            appendlimit=appendlimit,
            allow_plaintext_loopback=settings.IMAP_ALLOW_PLAINTEXT_LOOPBACK,
            preauth_timeout=float(settings.IMAP_PREAUTH_TIMEOUT),
            idle_timeout=float(settings.IMAP_IDLE_TIMEOUT),
            max_per_account=settings.IMAP_MAX_CONNECTIONS_PER_ACCOUNT,
        ),
        imap=settings.IMAP_LISTEN,
        imaps=settings.IMAPS_LISTEN,
        tls_context=tls,
        max_connections=settings.IMAP_MAX_CONNECTIONS,
        max_connections_per_ip=settings.IMAP_MAX_CONNECTIONS_PER_IP,
    )
