"""POP3 listeners: asyncio wiring, STLS (110-style) and implicit TLS (995-style), timeouts,
per-IP connection caps, input and output backpressure, output batching.
No business logic: mailcore.pop3.session decides, this module only moves bytes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mailcore.config import Listen
from mailcore.listeners import OFF, ListenerConfig, ListenerServer, StreamConnection
from mailcore.pop3.actions import DeleteAction
from mailcore.pop3.locks import MaildropLocks
from mailcore.pop3.protocol import MAX_AUTH_LINE, LineReader, TooLong
from mailcore.pop3.session import Quit, Session, SessionConfig

log = logging.getLogger("mailroom.pop3")

READ_PAUSE_BYTES = 64 * 1024  # stop reading while this much input waits to be parsed


@dataclass(frozen=True, slots=True, kw_only=True)
class Pop3Config(ListenerConfig):
    """Everything one POP3 process needs; passed in, never read from globals: the sessions'
    timeouts, delete action and LOGIN-DELAY, `pop3` (110-style, STLS) and `pop3s` (995-style,
    implicit TLS), where the maildrop locks live on SQLite; the TLS context, caps and write
    limits are ListenerConfig's."""

    session: SessionConfig
    lock_dir: Path  # maildrop lock files when the database is SQLite (mailcore.pop3.locks)
    pop3: Listen = OFF
    pop3s: Listen = OFF


class Connection(StreamConnection["Pop3Server"]):
    """One POP3 client: the Wire a Session talks through, one command line at a time
    (a LineReader, at most MAX_AUTH_LINE bytes a line)."""

    refusal = b"-ERR [SYS/TEMP] Too many connections, try again later\r\n"
    session_end = Quit

    def __init__(self, server: Pop3Server, *, implicit_tls: bool) -> None:
        super().__init__(server, implicit_tls=implicit_tls)
        self.reader = LineReader(MAX_AUTH_LINE)
        self.session: Session | None = None

    def _open(self) -> None:
        self.session = Session(self.server.config.session, self, self.server)

    # --- asyncio.Protocol -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        if self.reader.buffered() > READ_PAUSE_BYTES:
            self._pause()
        self.data_event.set()

    def _resume(self) -> None:
        if (
            self._paused
            and self.reader.buffered() < READ_PAUSE_BYTES
            and self.transport is not None
            and not self.closed
        ):
            self._paused = False
            self.transport.resume_reading()

    def _discard_input(self) -> None:
        self.reader.discard_buffer()

    # --- the command loop -------------------------------------------------------------------

    async def _serve(self) -> None:
        session = self.session
        assert session is not None
        while not self.closed:
            line = self.reader.next_line()
            if line is None:
                self._resume()
                self.data_event.clear()
                if not await self.wait_input(session.timeout):
                    await self.write(b"-ERR Autologout: idle for too long\r\n")
                    break
                continue
            if isinstance(line, TooLong):
                await session.bad("Command line too long")
                continue
            await session.handle_line(line)


class Pop3Server(ListenerServer[Pop3Config]):
    """The POP3 listeners (STLS and implicit TLS) and what sessions share: the maildrop
    locks and the time of each account's last login (LOGIN-DELAY)."""

    label = "POP3"
    log = log
    thread_name = "pop3"

    def __init__(self, config: Pop3Config) -> None:
        super().__init__(config, handshake_timeout=config.session.preauth_timeout)
        self.locks = MaildropLocks(config.lock_dir)
        self._last_login: dict[int, float] = {}

    async def _close(self) -> None:
        self.locks.stop_heartbeat()
        await super()._close()

    def stop(self) -> None:
        super().stop()
        self.locks.close()

    # --- the per-account Registry -----------------------------------------------------------

    async def lock(self, account_id: int) -> bool:
        """One POP3 session per maildrop across every POP3 process (RFC 1939 §8, Dovecot's
        POP3 lock); IMAP and the webmail are not locked out."""
        return await self.locks.acquire(account_id)

    def unlock(self, account_id: int) -> None:
        self.locks.release(account_id)

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

    # --- listeners --------------------------------------------------------------------------

    async def _bind(self) -> None:
        cfg = self.config
        listeners = (("pop3", cfg.pop3, False), ("pop3s", cfg.pop3s, True))
        await self._listen(listeners, lambda implicit: Connection(self, implicit_tls=implicit))


def config_from_settings() -> Pop3Config:
    from django.conf import settings

    from mailcore.tls import context_from_settings

    tls = context_from_settings()  # SNI, reloaded when the files change
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
        lock_dir=settings.POP3_LOCK_DIR,
        pop3=settings.POP3_LISTEN,
        pop3s=settings.POP3S_LISTEN,
        tls_context=tls,
        max_connections=settings.POP3_MAX_CONNECTIONS,
        max_connections_per_ip=settings.POP3_MAX_CONNECTIONS_PER_IP,
    )
