"""IMAP listeners: asyncio wiring, STARTTLS (143-style) and implicit TLS (993-style), timeouts,
per-IP / per-account connection caps, input and output backpressure, COMPRESS=DEFLATE.
No business logic: mailcore.imap.session decides, this module only moves bytes.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

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
from mailcore.imap.workers import SharedCaps, SharedCapsDownError
from mailcore.listeners import OFF, ListenerConfig, ListenerServer, StreamConnection

log = logging.getLogger("mailroom.imap")

READ_PAUSE_BYTES = 1024 * 1024  # stop reading while this much input waits to be parsed
INFLATE_CHUNK = 256 * 1024  # COMPRESS: inflate at most this much per step (zip bombs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImapConfig(ListenerConfig):
    """Everything one IMAP process needs; passed in, never read from globals: the sessions'
    limits and timeouts, `imap` (143-style, STARTTLS) and `imaps` (993-style, implicit TLS);
    the TLS context, caps and write limits are ListenerConfig's."""

    session: SessionConfig
    imap: Listen = OFF
    imaps: Listen = OFF


class Connection(StreamConnection["ImapServer"]):
    """One IMAP client: the Wire a Session talks through. Commands and literals come through
    a CommandReader; COMPRESS=DEFLATE wraps both directions once the session starts it."""

    refusal = b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n"
    session_end = Logout

    def __init__(self, server: ImapServer, *, implicit_tls: bool) -> None:
        super().__init__(server, implicit_tls=implicit_tls)
        self.reader = CommandReader(server.config.session.limits)
        self._deflate: Any = None
        self._inflate: Any = None
        self._inflate_tail = b""
        self.session: Session | None = None

    def _open(self) -> None:
        self.session = Session(self.server.config.session, self, self.server)

    # --- asyncio.Protocol -------------------------------------------------------------------

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

    def _encode(self, data: bytes) -> bytes:
        if self._deflate is not None:
            return bytes(self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH))
        return data

    def _discard_input(self) -> None:
        self._inflate_tail = b""
        self.reader.discard_buffer()

    def start_compress(self) -> None:
        # RFC 4978: raw DEFLATE both ways from the next byte on (the tagged OK is not).
        self.flush()
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        pending = self.reader.take_buffer()  # received after the COMPRESS command: compressed
        if pending:
            self.reader.feed(self._decompress(pending))

    # --- the command loop -------------------------------------------------------------------

    async def _serve(self) -> None:
        session = self.session
        assert session is not None
        cfg = self.server.config.session
        while not self.closed:
            event = self.reader.next_event()
            if event is None:
                if self._resume():
                    continue
                self.data_event.clear()
                timeout = cfg.preauth_timeout if session.account is None else cfg.idle_timeout
                if not await self.wait_input(timeout):
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


class ImapServer(ListenerServer[ImapConfig]):
    """The IMAP listeners (STARTTLS and implicit TLS) and what sessions share: the
    per-account connection caps and the hub of change notices (IDLE)."""

    label = "IMAP"
    log = log
    thread_name = "imap"

    def __init__(self, config: ImapConfig, *, caps: SharedCaps | None = None) -> None:
        super().__init__(config, handshake_timeout=config.session.preauth_timeout)
        self._per_account: Counter[int] = Counter()
        self.hub = ChangeHub(self.loop)
        # IMAP_PROCESSES > 1 with Redis: the caps count every worker's connections. What was
        # admitted while Redis failed was counted here only (and is released here only).
        self.caps = caps
        self._local_only: Counter[str] = Counter()

    def _shared_admit(self, caps: dict[str, int]) -> bool | None:
        """Admitted by the shared counts (None: Redis failed, count locally)."""
        assert self.caps is not None
        try:
            return self.caps.admit(caps)
        except SharedCapsDownError:
            return None
        except Exception:
            log.warning("IMAP connection caps: Redis failed; counting in this worker only")
            return None

    def _shared_release(self, key: str) -> None:
        if self._local_only[key] > 0:
            self._local_only[key] -= 1
            if self._local_only[key] <= 0:
                del self._local_only[key]
            return
        assert self.caps is not None
        try:
            self.caps.release(["total", key] if key.startswith("ip:") else [key])
        except Exception:  # kept by caps and retried with its next call
            log.debug("IMAP connection caps: Redis failed on release", exc_info=True)

    def admit_ip(self, ip: str) -> bool:
        if self.caps is None:
            return super().admit_ip(ip)
        cfg = self.config
        key = f"ip:{ip}"
        shared = self._shared_admit({"total": cfg.max_connections, key: cfg.max_connections_per_ip})
        if shared is None:
            if not super().admit_ip(ip):
                return False
            self._local_only[key] += 1
            return True
        if shared:  # this worker's own tally (`connections`), no cap of its own
            self._total += 1
            self._per_ip[ip] += 1
        return shared

    def release_ip(self, ip: str) -> None:
        super().release_ip(ip)
        if self.caps is not None:
            self._shared_release(f"ip:{ip}")

    # --- AccountRegistry for sessions -------------------------------------------------------

    def admit_account(self, account_id: int) -> bool:
        cap = self.config.session.max_per_account
        key = f"acct:{account_id}"
        if self.caps is not None:
            shared = self._shared_admit({key: cap})
            if shared is not None:
                if shared:  # this worker's own tally
                    self._per_account[account_id] += 1
                return shared
        if self._per_account[account_id] >= cap:
            return False
        self._per_account[account_id] += 1
        if self.caps is not None:
            self._local_only[key] += 1
        return True

    def release_account(self, account_id: int) -> None:
        self._per_account[account_id] -= 1
        if self._per_account[account_id] <= 0:
            del self._per_account[account_id]
        if self.caps is not None:
            self._shared_release(f"acct:{account_id}")

    def register(self, account_id: int) -> Waiter:
        return self.hub.register(account_id)

    def unregister(self, waiter: Waiter) -> None:
        self.hub.unregister(waiter)

    # --- listeners --------------------------------------------------------------------------

    async def _bind(self) -> None:
        cfg = self.config
        listeners = (("imap", cfg.imap, False), ("imaps", cfg.imaps, True))
        if await self._listen(listeners, lambda implicit: Connection(self, implicit_tls=implicit)):
            self.hub.start()

    def _stopping(self) -> None:
        self.hub.stop()


def config_from_settings() -> ImapConfig:
    from django.conf import settings

    from mailcore.imap.protocol import Limits
    from mailcore.tls import context_from_settings

    tls = context_from_settings()  # SNI, reloaded when the files change
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
