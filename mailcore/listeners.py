"""What the IMAP, POP3 and SMTP listeners share: an asyncio loop run in this thread
(serve_forever) or in a background thread (start/stop, for tests), and for the line protocols
written here (IMAP, POP3) the TCP listeners with STARTTLS or implicit TLS, per-IP and total
connection caps, and a connection whose output is batched and drained with a write timeout.
No protocol here: each server's session decides, these classes only move bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast

from mailcore.config import Listen

OFF = Listen("", 0)  # a listener that is not started
FLUSH_BYTES = 64 * 1024  # output queued before it is sent without waiting for the next pause


def new_loop() -> asyncio.AbstractEventLoop:
    # uvloop roughly halves the event loop's share of the CPU per session.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """Runs `_bind` on an asyncio loop, then the loop, in this thread (serve_forever) or in a
    background thread (start/stop, for tests). `ports` holds the bound ports."""

    thread_name: ClassVar[str] = "listeners"

    def __init__(self) -> None:
        self.loop = new_loop()
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._thread: threading.Thread | None = None

    async def _bind(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        """Stop listening and end the connections (on the loop, before it stops)."""
        for server in self._servers:
            server.close()

    def _stopping(self) -> None:
        """Called from the caller's thread as the loop is about to stop."""

    def _started(self) -> None:
        """Called on the loop once it serves (after privileges are dropped)."""

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
            self.loop.call_soon(self._started)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        self._stopping()
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None
            self.loop.close()
        from mailcore import asyncdb

        asyncdb.shutdown()

    def serve_forever(self) -> None:
        """Bind, then give up root (production mode) before the first connection is served."""
        from mailcore import privileges, runtime

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._bind())
        try:
            privileges.drop(what=self.thread_name)
        except privileges.PrivilegeError as exc:
            runtime.refuse(exc)
        self.loop.call_soon(self._started)
        try:
            self.loop.run_forever()
        finally:
            self._stopping()
            self.loop.close()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerConfig:
    """What the listeners of an ImapConfig / Pop3Config read."""

    tls_context: ssl.SSLContext | None = None
    max_connections: int = 10000
    max_connections_per_ip: int = 50
    # A client that does not read: the server waits this long for room in its buffer, then
    # drops the connection (it never buffers more than the transport's high-water mark).
    write_timeout: float = 120.0
    write_buffer_bytes: int = 256 * 1024


class WireSession(Protocol):
    """What a connection asks of its protocol's session: a greeting, and a close at the end."""

    async def greet(self) -> None: ...
    def close(self) -> None: ...


ConfigT = TypeVar("ConfigT", bound=ListenerConfig)
ServerT = TypeVar("ServerT", bound="ListenerServer[Any]")


class ListenerServer(LoopThread, Generic[ConfigT]):
    """TCP listeners, each either plaintext with a STARTTLS upgrade or TLS from the first
    byte, with caps on the connections in all and per client IP."""

    label: ClassVar[str]  # "IMAP": for the log
    log: ClassVar[logging.Logger]

    def __init__(self, config: ConfigT, *, handshake_timeout: float) -> None:
        super().__init__()
        self.config = config
        self.handshake_timeout = handshake_timeout
        self.tasks: set[asyncio.Task[None]] = set()
        self.open_connections: set[StreamConnection[Any]] = set()
        self._total = 0
        self._per_ip: Counter[str] = Counter()
        # Listening sockets bound by a parent process and inherited over fork, by listener
        # name (a pre-forked server's workers accept on the same sockets).
        self.inherited: dict[str, socket.socket] = {}

    def admit_ip(self, ip: str) -> bool:
        cfg = self.config
        if self._total >= cfg.max_connections:
            return False
        if self._per_ip[ip] >= cfg.max_connections_per_ip:
            return False
        self._total += 1
        self._per_ip[ip] += 1
        return True

    def release_ip(self, ip: str) -> None:
        self._total -= 1
        self._per_ip[ip] -= 1
        if self._per_ip[ip] <= 0:
            del self._per_ip[ip]

    @property
    def connections(self) -> int:
        return self._total

    async def _listen(
        self,
        listeners: Iterable[tuple[str, Listen, bool]],
        factory: Callable[[bool], asyncio.Protocol],
    ) -> bool:
        """Bind each enabled (name, listen, implicit TLS) listener; False when there is no
        TLS certificate (then nothing listens: no plaintext-only service)."""
        tls = self.config.tls_context
        if tls is None:
            self.log.error("%s listeners not started: no TLS certificate configured", self.label)
            return False
        for name, listen, implicit in listeners:
            if not listen.enabled:
                continue
            sock = self.inherited.get(name)
            where: dict[str, Any] = (
                {"sock": sock}
                if sock is not None
                else {"host": listen.host, "port": listen.port, "reuse_address": True}
            )
            server = await self.loop.create_server(
                lambda implicit=implicit: factory(implicit),
                **where,
                ssl=tls if implicit else None,
                ssl_handshake_timeout=self.handshake_timeout if implicit else None,
                backlog=1024,
            )
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
        return True

    async def _close(self) -> None:
        await super()._close()
        for task in list(self.tasks):
            task.cancel()
        for conn in list(self.open_connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)


class StreamConnection(asyncio.Protocol, Generic[ServerT]):
    """One client connection of a ListenerServer: caps, batched output with backpressure,
    the STARTTLS upgrade. A subclass reads (data_received), opens its session and runs it."""

    refusal: ClassVar[bytes]  # the line sent when a cap refuses the connection
    session_end: ClassVar[type[Exception]]  # raised by the session when the client leaves

    def __init__(self, server: ServerT, *, implicit_tls: bool) -> None:
        self.server = server
        self.data_event = asyncio.Event()
        self.closed = False
        self.tls = implicit_tls
        self.peer_ip = "?"
        self.loopback = False
        self.transport: asyncio.Transport | None = None
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._paused = False
        self._out: list[bytes] = []  # written by the session, not yet given to the transport
        self._out_size = 0
        self._flush_soon = False
        self._admitted = False
        self._task: asyncio.Task[None] | None = None
        self.session: WireSession | None = None
        # wait_input's timeout: one timer per connection, moved on lazily (see there).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._waiting = False
        self._timed_out = False

    def _open(self) -> None:
        """Create the session (the connection was admitted)."""
        raise NotImplementedError

    async def _serve(self) -> None:
        """Read and answer commands until the session ends (after the greeting)."""
        raise NotImplementedError

    def _encode(self, data: bytes) -> bytes:
        """Output as it goes to the transport (COMPRESS)."""
        return data

    def _discard_input(self) -> None:
        """Drop the plaintext read but not parsed yet (STARTTLS)."""
        raise NotImplementedError

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transports are not asyncio.Transport subclasses, but behave as one.
        tr = cast(asyncio.Transport, transport)
        self.transport = tr
        # Kept: asyncio.get_running_loop() costs a getpid() system call each time (3.11).
        self._loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if peer else "?"
        try:
            self.loopback = ipaddress.ip_address(self.peer_ip).is_loopback
        except ValueError:
            self.loopback = False
        server = self.server
        if not server.admit_ip(self.peer_ip):
            server.log.warning(
                "%s connection from %s refused: too many connections", server.label, self.peer_ip
            )
            tr.write(self.refusal)
            tr.close()
            self.closed = True
            return
        self._admitted = True
        server.open_connections.add(self)
        tr.set_write_buffer_limits(high=server.config.write_buffer_bytes)
        self._open()
        self._task = asyncio.ensure_future(self._run())
        server.tasks.add(self._task)
        self._task.add_done_callback(server.tasks.discard)

    def eof_received(self) -> bool | None:
        self.closed = True
        self.data_event.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
            assert self._loop is not None  # set with the transport
            self._loop.call_soon(self.flush)

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
        self.transport.write(self._encode(data))

    async def wait_input(self, timeout: float) -> bool:  # noqa: ASYNC109 - see docstring
        """Wait until data_event is set (input, end of input or close); False when `timeout`
        seconds pass first. Cheap per command: no task (asyncio.wait_for makes one) and no
        new timer; the connection's one timer only moves its deadline on when it fires."""
        loop = self._loop
        assert loop is not None  # set with the transport
        self._deadline = loop.time() + timeout
        if self._timer is None or self._timer_at > self._deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = self._deadline
            self._timer = loop.call_at(self._deadline, self._on_timer)
        self._waiting, self._timed_out = True, False
        try:
            await self.data_event.wait()
        finally:
            self._waiting = False
        return not self._timed_out

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed or self._loop is None:
            return
        if not self._waiting:
            return  # busy with a command: the next wait_input sets a timer again
        if self._loop.time() >= self._deadline:
            self._timed_out = True
            self.data_event.set()
            return
        # Input came meanwhile and moved the deadline on: look again then.
        self._timer_at = self._deadline
        self._timer = self._loop.call_at(self._deadline, self._on_timer)

    async def _drain(self) -> None:
        if self.transport is None:
            raise ConnectionResetError("connection closed")
        if not self._can_write.is_set():
            try:
                await asyncio.wait_for(self._can_write.wait(), self.server.config.write_timeout)
            except TimeoutError:
                self.server.log.info(
                    "%s client %s does not read its output: closed",
                    self.server.label,
                    self.peer_ip,
                )
                self.transport.abort()
                raise ConnectionResetError("client does not read") from None
            if self.closed:
                raise ConnectionResetError("connection closed")

    async def start_tls(self) -> None:
        ctx = self.server.config.tls_context
        assert ctx is not None and self.transport is not None
        loop = asyncio.get_running_loop()
        # Stop reading before the OK leaves: a ClientHello sent the moment the OK arrives
        # must stay in the socket for the TLS layer, not reach the plaintext reader in a loop
        # turn before start_tls pauses reading (imap-bugs item 2). start_tls is awaited
        # directly (asyncio.wait_for would run it in a task of its own, one turn later).
        self.transport.pause_reading()
        self.flush()  # the tagged OK goes out in plaintext
        self._discard_input()
        transport = await loop.start_tls(
            self.transport,
            self,
            ctx,
            server_side=True,
            ssl_handshake_timeout=self.server.handshake_timeout,
        )
        if transport is None:
            raise ConnectionResetError("TLS handshake failed")
        self.transport = transport
        self.tls = True
        # What arrives from here on came through TLS; plaintext sent before the handshake
        # was dropped above (any later plaintext would break the handshake itself).

    async def _run(self) -> None:
        session = self.session
        assert session is not None
        try:
            await session.greet()
            await self._serve()
        except self.session_end:
            pass
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass
        except Exception:
            self.server.log.exception(
                "%s connection from %s failed", self.server.label, self.peer_ip
            )
        finally:
            session.close()
            # What is queued goes out, then the connection closes.
            self.flush()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.close()
            self.closed = True
