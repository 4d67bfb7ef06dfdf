"""POP3 session state machine (RFC 1939 §3): AUTHORIZATION → TRANSACTION → UPDATE.

It parses each command line (mailcore.pop3.protocol), reads the store through
mailcore.asyncdb and changes it only through mailcore.store.actions, at QUIT. The maildrop
is the account's INBOX as it was at login; DELE marks, and only QUIT applies the marks, so a
dropped connection deletes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

from mailcore import asyncdb
from mailcore.directory.models import Account
from mailcore.errors import MailcoreError
from mailcore.pop3.actions import DeleteAction, SessionEnd, do_end_session
from mailcore.pop3.models import DeletePolicy
from mailcore.pop3.protocol import (
    Command,
    DotStuffer,
    LineReader,
    Pop3SyntaxError,
    line_count,
    message_number,
    parse_command,
    uidl_of,
    uidl_of_key,
)
from mailcore.store.maildir import Maildir

log = logging.getLogger("mailroom.pop3")

MAX_LOGIN_FAILURES = 3  # per connection, then the connection closes
MAX_BAD_COMMANDS = 20  # Dovecot's pop3 disconnects after 20 invalid commands, too
MAX_COMMANDS = 100_000  # per session (a 1,000-message RETR+DELE run is 2,000)
READ_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class SessionConfig:
    hostname: str
    allow_plaintext_loopback: bool = False
    preauth_timeout: float = 60.0
    idle_timeout: float = 600.0  # RFC 1939 §3: at least 10 minutes
    delete_action: DeleteAction = DeleteAction.TRASH
    expire: str = ""  # CAPA EXPIRE value ("NEVER", days), "" = not advertised
    login_delay: int = 0  # seconds between logins of one account, 0 = no limit


class Wire(Protocol):
    reader: LineReader
    peer_ip: str
    tls: bool
    loopback: bool
    closed: bool

    async def write(self, data: bytes) -> None: ...
    async def start_tls(self) -> None: ...


class Registry(Protocol):
    """The server's per-account state: the maildrop lock and the last login times."""

    async def lock(self, account_id: int) -> bool: ...
    def unlock(self, account_id: int) -> None: ...
    def login_delay_left(self, account_id: int, delay: int) -> float: ...
    def note_login(self, account_id: int) -> None: ...


class Quit(Exception):
    """The connection closes (QUIT, too many errors)."""


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"


@dataclass(slots=True)
class Entry:
    """One message of the maildrop as it was at login."""

    pk: int
    uid: int
    size: int
    key: str
    in_cur: bool
    info: str
    uidl: str
    deleted: bool = False
    retrieved: bool = False


@dataclass(frozen=True, slots=True)
class Maildrop:
    folder_id: int
    folder_path: str
    entries: list[Entry]
    on_delete: str  # the account's DeletePolicy at login
    only_new: bool


def load_maildrop(account: Account) -> Maildrop:
    """The account's INBOX with each message's UIDL: the stored one (mailcore.pop3.models.Uidl),
    else, for a message offered for the first time, Dovecot's %08Xu%08Xv of its UID and the
    INBOX's UIDVALIDITY, stored before any client can see it."""
    from django.db import connection
    from django.db.models import OuterRef, Subquery

    from mailcore.errors import NotFoundError
    from mailcore.pop3.actions import do_fix_uidls
    from mailcore.pop3.models import DeletePolicy, Pop3Settings, Uidl
    from mailcore.store.models import Folder, Message, SpecialUse

    # The INBOX and the account's policy in one round trip (no row: the defaults).
    policy = Pop3Settings.objects.filter(account=OuterRef("account"))
    found = (
        Folder.objects.filter(account=account, special_use=SpecialUse.INBOX)
        .annotate(
            on_delete=Subquery(policy.values("on_delete")[:1]),
            only_new=Subquery(policy.values("only_new")[:1]),
        )
        .values_list("pk", "path", "uidvalidity", "on_delete", "only_new")
        .first()
    )
    if found is None:
        raise NotFoundError("account has no inbox folder")
    inbox_id, inbox_path, uidvalidity, on_delete, only_new = found
    on_delete = on_delete or DeletePolicy.DELETE
    only_new = bool(only_new)
    # One query with the stored UIDLs (no relation joins the models). Table names are the
    # models' own, the folder a parameter.
    message_table, uidl_table = Message._meta.db_table, Uidl._meta.db_table
    sql = (
        "SELECT m.id, m.uid, m.size, m.maildir_key, m.in_cur, m.info, u.uidl, u.downloaded"  # noqa: S608
        f" FROM {message_table} m LEFT JOIN {uidl_table} u"
        " ON u.account_id = m.account_id AND u.maildir_key = m.maildir_key"
        " WHERE m.folder_id = %s ORDER BY m.uid"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [inbox_id])
        rows = cursor.fetchall()
    stored = {row[6] for row in rows if row[6] is not None}
    fresh: dict[str, str] = {}
    entries: list[Entry] = []
    for pk, uid, size, key, in_cur, info, uidl, downloaded in rows:
        if uidl is None:
            uidl = uidl_of(uidvalidity, uid)
            if uidl in stored:  # cannot happen while INBOX UIDs are never reused; never twice
                uidl = uidl_of_key(key)
            fresh[key] = uidl
        elif downloaded and only_new:
            # "Offer only mail not downloaded before": a keep-copies client is not offered
            # the same mail twice.
            continue
        entries.append(Entry(pk, uid, size, key, bool(in_cur), info, uidl))
    if fresh:
        do_fix_uidls(account, fresh)
    return Maildrop(inbox_id, inbox_path, entries, on_delete, only_new)


class Session:
    def __init__(self, config: SessionConfig, wire: Wire, registry: Registry) -> None:
        self.config = config
        self.wire = wire
        self.registry = registry
        self.state = State.AUTHORIZATION
        self.account: Account | None = None
        self.user: str | None = None
        self.sasl_pending = False
        self.utf8 = False
        self.login_failures = 0
        self.bad_commands = 0
        self.commands = 0
        self.drop: Maildrop | None = None
        self.maildir: Maildir | None = None
        self.locked = False
        self._prefetch: tuple[Entry, asyncio.Future[_Opened]] | None = None
        self._last_sent = 0  # number of the last message RETR or TOP sent

    # --- output -------------------------------------------------------------------------------

    async def send(self, line: str) -> None:
        await self.wire.write(line.encode("utf-8") + b"\r\n")

    async def ok(self, text: str = "") -> None:
        await self.send(f"+OK {text}" if text else "+OK")

    async def err(self, text: str, code: str = "") -> None:
        await self.send(f"-ERR [{code}] {text}" if code else f"-ERR {text}")

    def may_login(self) -> bool:
        return self.wire.tls or (self.config.allow_plaintext_loopback and self.wire.loopback)

    def capabilities(self) -> list[str]:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if self.state is State.AUTHORIZATION:
            if self.may_login():
                caps += ["USER", "SASL PLAIN"]
            if not self.wire.tls:
                caps.append("STLS")
            caps.append("UTF8")
        if self.config.expire:
            caps.append(f"EXPIRE {self.config.expire}")
        if self.config.login_delay:
            caps.append(f"LOGIN-DELAY {self.config.login_delay}")
        caps.append("IMPLEMENTATION Mailroom")
        return caps

    async def greet(self) -> None:
        await self.ok(f"{self.config.hostname} POP3 ready")

    @property
    def timeout(self) -> float:
        if self.state is State.AUTHORIZATION:
            return self.config.preauth_timeout
        return self.config.idle_timeout

    # --- dispatch -----------------------------------------------------------------------------

    async def bad(self, text: str) -> None:
        self.bad_commands += 1
        self.sasl_pending = False  # a line too long for a SASL response ends the exchange
        await self.err(text)
        if self.bad_commands >= MAX_BAD_COMMANDS:
            await self.err("Too many invalid commands, closing")
            raise Quit

    async def handle_line(self, line: bytes) -> None:
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            await self.err("Too many commands, closing")
            raise Quit
        if self.sasl_pending:
            self.sasl_pending = False
            await self._sasl_plain(line.decode("ascii", "replace").strip())
            return
        try:
            cmd = parse_command(line)
        except Pop3SyntaxError as exc:
            await self.bad(str(exc))
            return
        handler = getattr(self, f"cmd_{cmd.name.lower()}", None)
        allowed = _AUTH_COMMANDS if self.state is State.AUTHORIZATION else _TRANS_COMMANDS
        if handler is None or cmd.name not in allowed:
            await self.bad(f"{cmd.name} is not allowed now")
            return
        try:
            await handler(cmd)
        except Pop3SyntaxError as exc:
            await self.bad(str(exc))
        except (Quit, ConnectionError, asyncio.CancelledError):
            raise
        except MailcoreError as exc:
            log.warning("POP3 %s failed: %s", cmd.name, exc)
            await self.err("Temporary failure, try again later", "SYS/TEMP")

    # --- any state ----------------------------------------------------------------------------

    async def cmd_capa(self, cmd: Command) -> None:
        await self.wire.write(
            b"".join(
                [b"+OK Capability list follows\r\n"]
                + [c.encode() + b"\r\n" for c in self.capabilities()]
                + [b".\r\n"]
            )
        )

    async def cmd_noop(self, cmd: Command) -> None:
        await self.ok()

    async def cmd_quit(self, cmd: Command) -> None:
        if self.state is State.TRANSACTION and self.account is not None and self.drop:
            drop = self.drop
            end = session_end(drop)
            if end is None:
                await self.ok(f"{self.config.hostname} POP3 signing off")
                raise Quit
            try:
                await asyncdb.run_db(do_end_session, self.account, end, self.config.delete_action)
            except MailcoreError as exc:
                log.warning("POP3 deletions of %s failed: %s", self.account.address, exc)
                await self.err("Some deleted messages were not removed", "SYS/TEMP")
                raise Quit from exc
        await self.ok(f"{self.config.hostname} POP3 signing off")
        raise Quit

    # --- AUTHORIZATION ------------------------------------------------------------------------

    async def cmd_stls(self, cmd: Command) -> None:
        if self.wire.tls:
            raise Pop3SyntaxError("TLS is already active")
        await self.ok("Begin TLS negotiation now")
        # RFC 2595 §4 / CVE-2011-0411: anything pipelined after STLS is dropped.
        self.wire.reader.discard_buffer()
        self.user = None
        await self.wire.start_tls()

    async def cmd_utf8(self, cmd: Command) -> None:
        self.utf8 = True
        await self.ok("UTF8 enabled")

    async def _refuse_plaintext(self) -> bool:
        if self.may_login():
            return False
        await self.err(
            "Plaintext authentication disallowed on non-secure connections: use STLS", "AUTH"
        )
        return True

    async def cmd_user(self, cmd: Command) -> None:
        if await self._refuse_plaintext():
            return
        self.user = cmd.args[0]
        await self.ok()

    async def cmd_pass(self, cmd: Command) -> None:
        if await self._refuse_plaintext():
            return
        if self.user is None:
            await self.err("Give USER first")
            return
        user, self.user = self.user, None
        await self._login(user, cmd.args[0])

    async def cmd_auth(self, cmd: Command) -> None:
        if not cmd.args:
            await self.wire.write(b"+OK\r\nPLAIN\r\n.\r\n")  # RFC 1734 mechanism listing
            return
        if cmd.args[0].upper() != "PLAIN":
            await self.err("Unsupported authentication mechanism")
            return
        if await self._refuse_plaintext():
            return
        if len(cmd.args) == 2:
            await self._sasl_plain(cmd.args[1])
            return
        self.sasl_pending = True
        await self.send("+ ")

    async def _sasl_plain(self, response: str) -> None:
        if response == "*":
            await self.err("Authentication cancelled")
            return
        try:
            raw = b"" if response == "=" else base64.b64decode(response, validate=True)
            authz, user, password = raw.decode("utf-8").split("\x00")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            await self.err("Invalid SASL PLAIN response")
            return
        if authz and authz != user:
            await self.err("Cannot log in as another user", "AUTH")
            return
        await self._login(user, password)

    async def _login(self, user: str, password: str) -> None:
        from mailcore.ratelimit import AuthStatus, authenticate

        attempt = await asyncdb.run_db(authenticate, self.wire.peer_ip, user, password, door="pop3")
        if attempt.status is not AuthStatus.OK or attempt.account is None:
            await asyncio.sleep(attempt.delay)
            self.login_failures += 1
            if attempt.status is AuthStatus.BLOCKED:
                await self.err("Too many failed logins, try again later", "SYS/TEMP")
            else:
                await self.err("Authentication failed", "AUTH")
            if self.login_failures >= MAX_LOGIN_FAILURES:
                raise Quit
            return
        account = attempt.account
        if self.config.login_delay:
            left = self.registry.login_delay_left(account.pk, self.config.login_delay)
            if left > 0:
                wait = f"Wait {int(left) + 1} seconds before logging in again"
                await self.err(wait, "LOGIN-DELAY")
                return
        try:
            locked = await self.registry.lock(account.pk)
        except MailcoreError:
            await self.err("Cannot open the mailbox, try again later", "SYS/TEMP")
            return
        if not locked:
            await self.err("Mailbox is locked by another POP3 session", "IN-USE")
            return
        self.locked = True
        try:
            drop = await asyncdb.run_db(load_maildrop, account)
        except MailcoreError as exc:
            log.warning("POP3 maildrop of %s not opened: %s", account.address, exc)
            self.registry.unlock(account.pk)
            self.locked = False
            await self.err("Cannot open the mailbox, try again later", "SYS/TEMP")
            return
        self.account = account
        self.drop = drop
        self.state = State.TRANSACTION
        self.registry.note_login(account.pk)
        await self.ok(f"Logged in, {len(drop.entries)} messages")

    def close(self) -> None:
        self._drop_prefetched()
        if self.locked and self.account is not None:
            self.registry.unlock(self.account.pk)
        self.locked = False

    # --- TRANSACTION --------------------------------------------------------------------------

    @property
    def entries(self) -> list[Entry]:
        assert self.drop is not None
        return self.drop.entries

    def entry(self, arg: str) -> Entry | None:
        n = message_number(arg)
        if n > len(self.entries):
            return None
        e = self.entries[n - 1]
        return None if e.deleted else e

    async def no_such_message(self) -> None:
        await self.err("No such message")

    async def cmd_stat(self, cmd: Command) -> None:
        live = [e for e in self.entries if not e.deleted]
        await self.ok(f"{len(live)} {sum(e.size for e in live)}")

    async def cmd_list(self, cmd: Command) -> None:
        await self._listing(cmd, lambda e: str(e.size), "scan listing")

    async def cmd_uidl(self, cmd: Command) -> None:
        await self._listing(cmd, lambda e: e.uidl, "unique-id listing")

    async def _listing(self, cmd: Command, value: _Value, what: str) -> None:
        if cmd.args:
            e = self.entry(cmd.args[0])
            if e is None:
                await self.no_such_message()
            else:
                await self.ok(f"{message_number(cmd.args[0])} {value(e)}")
            return
        await self.wire.write(f"+OK {what} follows\r\n".encode())
        batch: list[bytes] = []
        for n, e in enumerate(self.entries, 1):
            if not e.deleted:
                batch.append(f"{n} {value(e)}\r\n".encode())
            if len(batch) >= 1000:
                await self.wire.write(b"".join(batch))
                batch.clear()
        batch.append(b".\r\n")
        await self.wire.write(b"".join(batch))

    async def cmd_retr(self, cmd: Command) -> None:
        e = self.entry(cmd.args[0])
        if e is None:
            await self.no_such_message()
            return
        if await self._send_message(e, f"{e.size} octets", None, message_number(cmd.args[0])):
            e.retrieved = True

    async def cmd_top(self, cmd: Command) -> None:
        e = self.entry(cmd.args[0])
        lines = line_count(cmd.args[1])
        if e is None:
            await self.no_such_message()
            return
        await self._send_message(e, "top of message follows", lines, message_number(cmd.args[0]))

    async def _send_message(self, e: Entry, text: str, body_lines: int | None, n: int) -> bool:
        """Send message number `n` (RETR) or its top (TOP), streamed from the Maildir in
        READ_CHUNK pieces; False when it could not be read. A client going through the
        maildrop in order (n is 1 or follows the last one) has the next message read ahead
        in a thread, unless this one came from the page cache on the loop (then the next
        one most likely does too, and a thread would only add wake-ups)."""
        from mailcore.errors import MessageFileMissingError, StorageError
        from mailcore.store.queries import maildir_for

        loop = asyncio.get_running_loop()
        if self.maildir is None:
            assert self.account is not None
            self.maildir = await loop.run_in_executor(None, maildir_for, self.account)
        opening = self._take_prefetched(e)
        cached = None
        if opening is None and e.size <= READ_CHUNK and self.drop is not None:
            # Small and in the page cache (most are): read here, no trip to a thread.
            cached = self.maildir.read_crlf_cached(
                self.drop.folder_path, e.key, in_cur=e.in_cur, info=e.info, limit=READ_CHUNK
            )
        if opening is None and cached is None:
            opening = loop.run_in_executor(None, self._open_message, e)
        if cached is None and n in (1, self._last_sent + 1):
            # Not in the page cache (or too large): the next one may not be either.
            self._prefetch_after(n)
        self._last_sent = n
        try:
            if cached is not None:
                chunks, chunk, ahead = _no_more(), cached, b""
            else:
                assert opening is not None
                chunks, chunk, ahead = await opening
        except MessageFileMissingError as exc:
            log.info("POP3 message %s gone: %s", e.key, exc)
            await self.err("Message was removed by another client")
            return False
        except (StorageError, OSError) as exc:
            log.warning("POP3 message %s unreadable: %s", e.key, exc)
            await self.err("Cannot read the message, try again later", "SYS/TEMP")
            return False
        stuffer = DotStuffer(body_lines)
        ended = not ahead  # the file ended within the first chunk
        try:
            await self.ok(text)
            while chunk and not stuffer.done:
                out = stuffer.feed(chunk)
                if out:
                    await self.wire.write(out)
                if ahead:
                    chunk, ahead = ahead, b""
                    continue
                if ended:
                    break
                try:
                    chunk = await loop.run_in_executor(None, next, chunks, b"")
                except OSError as exc:
                    # Half a message went out: only closing the connection tells the client.
                    log.warning("POP3 message %s unreadable mid-way: %s", e.key, exc)
                    raise Quit from exc
        finally:
            chunks.close()
        await self.wire.write(stuffer.finish())
        return True

    def _open_message(self, e: Entry) -> _Opened:
        """In a thread: open the message's file and read its first two chunks, so a message
        that fits in one (most do) needs no second trip to a thread to learn that it ended."""
        assert self.maildir is not None and self.drop is not None
        reader = self.maildir.open_crlf(
            self.drop.folder_path, e.key, in_cur=e.in_cur, info=e.info, chunk_size=READ_CHUNK
        )
        chunks = _closing_chunks(reader)
        try:
            return chunks, next(chunks, b""), next(chunks, b"")
        except BaseException:
            chunks.close()
            raise

    def _prefetch_after(self, n: int) -> None:
        """Read ahead the message after number `n` (a client taking the whole maildrop asks for it
        next): the thread opens and reads it while this one is sent, so its RETR waits for
        no thread. Only one, of at most READ_CHUNK octets, at a time."""
        self._drop_prefetched()
        entries = self.entries
        while n < len(entries) and entries[n].deleted:
            n += 1
        if n < len(entries) and entries[n].size <= READ_CHUNK:
            loop = asyncio.get_running_loop()
            nxt = entries[n]
            self._prefetch = (nxt, loop.run_in_executor(None, self._open_message, nxt))

    def _take_prefetched(self, e: Entry) -> asyncio.Future[_Opened] | None:
        if self._prefetch is not None and self._prefetch[0] is e:
            future = self._prefetch[1]
            self._prefetch = None
            return future
        self._drop_prefetched()
        return None

    def _drop_prefetched(self) -> None:
        """Close the file of a read-ahead that is not wanted (when its thread is done)."""
        if self._prefetch is not None:
            self._prefetch[1].add_done_callback(_close_opened)
            self._prefetch = None

    async def cmd_dele(self, cmd: Command) -> None:
        e = self.entry(cmd.args[0])
        if e is None:
            n = message_number(cmd.args[0])
            if n <= len(self.entries):
                await self.err(f"Message {n} already deleted")
            else:
                await self.no_such_message()
            return
        e.deleted = True
        await self.ok("Marked to be deleted")

    async def cmd_rset(self, cmd: Command) -> None:
        for e in self.entries:
            e.deleted = False
        await self.ok(f"{len(self.entries)} messages")


def session_end(drop: Maildrop) -> SessionEnd | None:
    """What QUIT has to write, None when nothing: the deletions unless the policy keeps mail,
    and, only when the account is offered only mail not downloaded before, what was taken
    and stays (retrieved, or deleted and kept)."""
    deleted = [e.pk for e in drop.entries if e.deleted]
    kept = drop.on_delete != DeletePolicy.DELETE
    downloaded = (
        [e.key for e in drop.entries if e.retrieved and (kept or not e.deleted)]
        + [e.key for e in drop.entries if e.deleted and not e.retrieved and kept]
        if drop.only_new
        else []
    )
    if drop.on_delete == DeletePolicy.KEEP:
        deleted = []
    if not deleted and not downloaded:
        return None
    return SessionEnd(drop.folder_id, drop.on_delete, deleted, downloaded)


class _Value(Protocol):
    def __call__(self, e: Entry, /) -> str: ...


_Opened = tuple[Generator[bytes, None, None], bytes, bytes]  # chunks, the first two of them


def _no_more() -> Generator[bytes, None, None]:
    """The rest of a message read whole: nothing."""
    yield from ()


def _close_opened(future: asyncio.Future[_Opened]) -> None:
    if future.cancelled() or future.exception() is not None:
        return  # nothing open (an error is not news: its RETR never came)
    future.result()[0].close()


def _closing_chunks(reader: object) -> Generator[bytes, None, None]:
    """The reader's chunks; closing the generator closes the file."""
    from mailcore.store.maildir import CrlfReader

    assert isinstance(reader, CrlfReader)
    with reader:
        yield from reader.chunks()


_AUTH_COMMANDS = {"CAPA", "QUIT", "STLS", "UTF8", "USER", "PASS", "AUTH", "NOOP"}
_TRANS_COMMANDS = {
    "CAPA",
    "QUIT",
    "NOOP",
    "STAT",
    "LIST",
    "UIDL",
    "RETR",
    "TOP",
    "DELE",
    "RSET",
}
