"""IMAP session state machine (RFC 9051 §3): not authenticated → authenticated → selected →
logout. Each `cmd_<verb>` translates one command into store queries/actions (through
mailcore.asyncdb) and writes the responses. It keeps per-connection state only (the selected
folder, its UID↔sequence map, enabled extensions), nothing persistent.

Errors are caught in one place (`dispatch`): ProtocolSyntaxError → BAD, UserError → NO,
NotFoundError → NO [NONEXISTENT], anything else → logged, NO [SERVERBUG].
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import functools
import logging
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.db.models import Q

from mailcore import asyncdb
from mailcore.directory.models import Account
from mailcore.errors import (
    MailcoreError,
    MessageFileMissingError,
    NotFoundError,
    StorageError,
    UserError,
)
from mailcore.imap import index as fetch_index
from mailcore.imap import message as mime
from mailcore.imap import search as searching
from mailcore.imap.protocol import (
    Append,
    Authenticate,
    Command,
    CommandReader,
    Compress,
    CopyMove,
    Enable,
    Fetch,
    FetchAtt,
    GetQuota,
    Id,
    Limits,
    ListCmd,
    Literal,
    Login,
    MailboxCommand,
    ProtocolSyntaxError,
    RawCommand,
    Rename,
    Search,
    Section,
    Select,
    SeqSet,
    Simple,
    Status,
    Store,
    UidExpunge,
    encode_mailbox,
    format_datetime,
    format_seqset,
    parse_command,
    quote,
    render,
)
from mailcore.mime import imapmeta
from mailcore.store.models import Folder, Message, Source, SpecialUse

log = logging.getLogger("mailroom.imap")

VERSION = "1.0"
FLAG_COLUMNS = (
    ("\\Answered", "answered"),
    ("\\Flagged", "flagged"),
    ("\\Deleted", "deleted"),
    ("\\Seen", "seen"),
    ("\\Draft", "draft"),
)
FLAG_OF_COLUMN = {c: f for f, c in FLAG_COLUMNS}
COLUMN_OF_FLAG = {f.lower(): c for f, c in FLAG_COLUMNS}
SPECIAL_USE_ATTR = {
    SpecialUse.SENT: "\\Sent",
    SpecialUse.DRAFTS: "\\Drafts",
    SpecialUse.JUNK: "\\Junk",
    SpecialUse.TRASH: "\\Trash",
}
FETCH_BATCH = 500
INDEX_BATCH = 1000  # rows per query of a FETCH answered from the index
PREFETCH_ROWS = 8  # a FETCH of this few messages reads their files with the rows …
PREFETCH_BYTES = 4 * 1024 * 1024  # … up to this much in all
SMALL_READ = 256 * 1024  # a body FETCH reads a file this small on the event loop's thread
_CRLF = "_imap_crlf"  # where such a row keeps its bytes
MAX_LOGIN_FAILURES = 3  # per connection, then BYE (Dovecot disconnects after a few, too)
IDLE_RECHECK_SECONDS = 60.0  # a lost notice is caught up at the latest after this


@dataclass(frozen=True, slots=True)
class SessionConfig:
    hostname: str
    limits: Limits
    appendlimit: int
    allow_plaintext_loopback: bool = False
    preauth_timeout: float = 60.0
    idle_timeout: float = 30 * 60.0
    max_per_account: int = 20


class Wire(Protocol):
    """What the server gives a session: the connection, seen from the state machine."""

    reader: CommandReader
    peer_ip: str
    tls: bool
    loopback: bool
    data_event: asyncio.Event
    closed: bool

    async def write(self, data: bytes) -> None: ...
    async def start_tls(self) -> None: ...
    def start_compress(self) -> None: ...


class AccountRegistry(Protocol):
    def admit_account(self, account_id: int) -> bool: ...
    def release_account(self, account_id: int) -> None: ...
    def register(self, account_id: int) -> Any: ...
    def unregister(self, waiter: Any) -> None: ...


class Logout(Exception):
    """The session ends (LOGOUT, BYE, fatal error)."""


@dataclass(slots=True)
class Selected:
    folder: Folder
    readonly: bool
    uids: array[int] = field(default_factory=lambda: array("Q"))
    uidnext: int = 1
    highestmodseq: int = 0
    reported: dict[int, int] = field(default_factory=dict)  # uid → modseq already sent
    gone: bool = False
    rings: int = -1  # the account's change-notice count when the folder was last looked at

    def seq_of(self, uid: int) -> int:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else 0


@dataclass(frozen=True, slots=True)
class FolderChanges:
    exists: bool
    highestmodseq: int
    uidnext: int
    count: int
    new_uids: tuple[int, ...] = ()
    flag_rows: tuple[tuple[int, tuple[str, ...], int], ...] = ()
    expunged: tuple[int, ...] = ()


def flags_of(row: Message | dict[str, Any]) -> tuple[str, ...]:
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    flags = [f for f, c in FLAG_COLUMNS if get(c)]
    flags += [str(k) for k in (get("keywords") or [])]
    return tuple(flags)


def _render_thread(node: list[Any]) -> bytes:
    head = [str(x).encode() for x in node if not isinstance(x, list)]
    subs = [_render_thread(x) for x in node if isinstance(x, list)]
    return b"(" + b" ".join(head) + (b" " if head and subs else b"") + b"".join(subs) + b")"


class Session:
    def __init__(self, config: SessionConfig, wire: Wire, registry: AccountRegistry) -> None:
        self.config = config
        self.wire = wire
        self.registry = registry
        self.account: Account | None = None
        self.selected: Selected | None = None
        self.enabled: set[str] = set()
        self.condstore = False
        self.compressed = False
        self.login_failures = 0
        self.client_id = ""  # the client's ID name/version (RFC 2971), for the login history
        self.saved: tuple[int, ...] = ()  # SEARCHRES $ (UIDs)
        self.waiter: Any = None
        self.started = time.monotonic()
        self._maildir: Any = None  # the account's Maildir, once a body FETCH needed it

    # --- output helpers ---------------------------------------------------------------------

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    async def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        await self.wire.write(data + b"\r\n")

    def mailbox_text(self, name: str) -> str:
        encoded = encode_mailbox(name, utf8=self.utf8)
        return quote(encoded)

    def capabilities(self) -> str:
        caps = ["IMAP4rev1", "IMAP4rev2", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+"]
        if self.account is None:
            if not self.wire.tls:
                caps.append("STARTTLS")
            if self._may_login():
                caps.append("AUTH=PLAIN")
            else:
                caps.append("LOGINDISABLED")
            return " ".join(caps)
        caps += [
            "NAMESPACE",
            "UIDPLUS",
            "MOVE",
            "SPECIAL-USE",
            "UNSELECT",
            "CHILDREN",
            "LIST-EXTENDED",
            "LIST-STATUS",
            "STATUS=SIZE",
            "CONDSTORE",
            "QRESYNC",
            "ESEARCH",
            "SEARCHRES",
            "SORT",
            "SORT=DISPLAY",
            "THREAD=ORDEREDSUBJECT",
            "THREAD=REFERENCES",
            "WITHIN",
            "QUOTA",
            "QUOTA=RES-STORAGE",
            f"APPENDLIMIT={self.config.appendlimit}",
            "BINARY",
            "UTF8=ACCEPT",
        ]
        if not self.compressed:
            caps.append("COMPRESS=DEFLATE")
        return " ".join(caps)

    def _may_login(self) -> bool:
        return self.wire.tls or (self.config.allow_plaintext_loopback and self.wire.loopback)

    async def greet(self) -> None:
        await self.send(f"* OK [CAPABILITY {self.capabilities()}] {self.config.hostname} ready")

    # --- dispatch -----------------------------------------------------------------------------

    async def handle_raw(self, raw: RawCommand) -> None:
        try:
            cmd = parse_command(raw, self.config.limits, utf8=self.utf8)
        except ProtocolSyntaxError as exc:
            code = f"[{exc.code}] " if exc.code else ""
            await self.send(f"{exc.tag} BAD {code}{exc}")
            return
        except Exception:
            # A parser bug must cost the client one BAD, never its session (the fuzz table in
            # tests/imap/test_protocol.py keeps this path unused).
            tag = raw.text.split(b" ", 1)[0].decode("ascii", "replace")
            if not tag or not tag.isprintable() or len(tag) > 64:
                tag = "*"
            log.exception("IMAP parser failed on a command")
            await self.send(f"{tag} BAD Unparsable command")
            return
        await self.dispatch(cmd)

    async def dispatch(self, cmd: Command) -> None:
        handler = self._handler(cmd)
        try:
            if handler is None:
                raise ProtocolSyntaxError(f"{cmd.name} is not allowed now", cmd.tag)
            await handler(cmd)
        except Logout:
            raise
        except ProtocolSyntaxError as exc:
            await self.send(f"{cmd.tag} BAD {exc}")
        except NotFoundError as exc:
            await self.send(f"{cmd.tag} NO [NONEXISTENT] {exc}")
        except searching.CannotSearchError as exc:
            await self.send(f"{cmd.tag} NO [CANNOT] {exc}")
        except UserError as exc:
            code = _user_error_code(exc)
            await self.send(f"{cmd.tag} NO {code}{exc}")
        except (ConnectionError, asyncio.CancelledError):
            raise
        except MailcoreError as exc:
            log.warning("IMAP %s failed: %s", cmd.name, exc)
            await self.send(f"{cmd.tag} NO [UNAVAILABLE] {type(exc).__name__}: try again")
        except Exception:
            log.exception("IMAP %s failed", cmd.name)
            await self.send(f"{cmd.tag} NO [SERVERBUG] Internal error, try again later")

    def _handler(self, cmd: Command) -> Callable[[Any], Awaitable[None]] | None:
        name = cmd.name
        if name in _NOT_AUTH and self.account is not None:
            return None
        if name not in _ANY_STATE and name not in _NOT_AUTH and self.account is None:
            return None
        if name in _SELECTED_ONLY and self.selected is None:
            return None
        if name == "ENABLE" and self.account is None:
            return None
        method: Callable[[Any], Awaitable[None]] | None = getattr(
            self, _METHODS.get(name) or "cmd_" + name.lower().replace(" ", "_"), None
        )
        return method

    # --- any state ----------------------------------------------------------------------------

    async def cmd_capability(self, cmd: Simple) -> None:
        await self.send(f"* CAPABILITY {self.capabilities()}")
        await self.send(f"{cmd.tag} OK CAPABILITY completed")

    async def cmd_noop(self, cmd: Simple) -> None:
        if self.selected is not None:
            await self.sync(expunges=True)
        await self.send(f"{cmd.tag} OK NOOP completed")

    async def cmd_check(self, cmd: Simple) -> None:
        await self.cmd_noop(Simple(cmd.tag, "CHECK"))

    async def cmd_logout(self, cmd: Simple) -> None:
        await self.send("* BYE Logging out")
        await self.send(f"{cmd.tag} OK LOGOUT completed")
        raise Logout

    async def cmd_id(self, cmd: Id) -> None:
        # RFC 2971: name and version only (Dovecot's default); no OS or build details.
        given = {k.lower(): v for k, v in cmd.params or () if v}
        self.client_id = " ".join(v for v in (given.get("name"), given.get("version")) if v)[:200]
        await self.send(f'* ID ("name" "Mailroom" "version" "{VERSION}")')
        await self.send(f"{cmd.tag} OK ID completed")

    async def cmd_enable(self, cmd: Enable) -> None:
        done: list[str] = []
        for cap in cmd.capabilities:
            if cap in {"CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4REV2"} and (
                cap not in self.enabled
            ):
                self.enabled.add(cap)
                done.append(cap)
                if cap in {"CONDSTORE", "QRESYNC"}:
                    self.condstore = True
        if done:
            await self.send("* ENABLED " + " ".join(done))
        await self.send(f"{cmd.tag} OK ENABLE completed")

    # --- not authenticated -------------------------------------------------------------------

    async def cmd_starttls(self, cmd: Simple) -> None:
        if self.wire.tls:
            raise ProtocolSyntaxError("TLS is already active", cmd.tag)
        await self.send(f"{cmd.tag} OK Begin TLS negotiation now")
        # RFC 9051 §11.1 / CVE-2011-0411: whatever was pipelined after STARTTLS is dropped.
        self.wire.reader.discard_buffer()
        await self.wire.start_tls()

    async def cmd_login(self, cmd: Login) -> None:
        if not self._may_login():
            await self.send(
                f"{cmd.tag} NO [PRIVACYREQUIRED] Plaintext authentication is disallowed on "
                "non-secure connections: use STARTTLS"
            )
            return
        await self._authenticate(cmd.tag, cmd.user, cmd.password)

    async def cmd_authenticate(self, cmd: Authenticate) -> None:
        if cmd.mechanism != "PLAIN":
            await self.send(f"{cmd.tag} NO [CANNOT] Unsupported authentication mechanism")
            return
        if not self._may_login():
            await self.send(f"{cmd.tag} NO [PRIVACYREQUIRED] Use STARTTLS first")
            return
        response = cmd.initial
        if response is None:
            await self.send("+ ")
            line = await self._read_line()
            if line is None:
                raise Logout
            response = line.decode("ascii", "replace").strip()
        if response == "*":
            await self.send(f"{cmd.tag} BAD Authentication cancelled")
            return
        try:
            raw = b"" if response == "=" else base64.b64decode(response, validate=True)
            authz, user, password = raw.decode("utf-8").split("\x00")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            await self.send(f"{cmd.tag} BAD Invalid SASL PLAIN response")
            return
        if authz and authz != user:
            await self.send(f"{cmd.tag} NO [AUTHORIZATIONFAILED] Cannot log in as another user")
            return
        await self._authenticate(cmd.tag, user, password)

    async def _read_line(self) -> bytes | None:
        deadline = time.monotonic() + self.config.preauth_timeout
        while True:
            line = self.wire.reader.take_line()
            if line is not None:
                return line
            left = deadline - time.monotonic()
            if left <= 0 or self.wire.closed:
                return None
            self.wire.data_event.clear()
            try:
                await asyncio.wait_for(self.wire.data_event.wait(), left)
            except TimeoutError:
                return None

    async def _authenticate(self, tag: str, user: str, password: str) -> None:
        from mailcore.ratelimit import AuthStatus, authenticate

        attempt = await asyncdb.run_db(
            authenticate, self.wire.peer_ip, user, password, door="imap", client=self.client_id
        )
        if attempt.status is not AuthStatus.OK or attempt.account is None:
            await asyncio.sleep(attempt.delay)
            self.login_failures += 1
            if attempt.status is AuthStatus.BLOCKED:
                await self.send(f"{tag} NO [UNAVAILABLE] Too many failed logins, try again later")
            else:
                await self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed")
            if self.login_failures >= MAX_LOGIN_FAILURES:
                await self.send("* BYE Too many failed logins")
                raise Logout
            return
        account = attempt.account
        if not self.registry.admit_account(account.pk):
            await self.send(f"{tag} NO [LIMIT] Too many connections for this account")
            return
        self.account = account
        self.wire.reader.authenticated = True
        self.waiter = self.registry.register(account.pk)
        await self.send(f"{tag} OK [CAPABILITY {self.capabilities()}] Logged in")

    def close(self) -> None:
        if self.account is not None:
            self.registry.release_account(self.account.pk)
        if self.waiter is not None:
            self.registry.unregister(self.waiter)
            self.waiter = None

    # --- authenticated: mailboxes -------------------------------------------------------------

    @property
    def acct(self) -> Account:
        assert self.account is not None
        return self.account

    async def cmd_compress(self, cmd: Compress) -> None:
        if cmd.mechanism != "DEFLATE":
            raise ProtocolSyntaxError("Unknown compression mechanism", cmd.tag)
        if self.compressed:
            await self.send(f"{cmd.tag} NO [COMPRESSIONACTIVE] Compression is already on")
            return
        await self.send(f"{cmd.tag} OK DEFLATE active")
        self.compressed = True
        self.wire.start_compress()

    async def cmd_namespace(self, cmd: Simple) -> None:
        await self.send('* NAMESPACE (("" "/")) NIL NIL')
        await self.send(f"{cmd.tag} OK NAMESPACE completed")

    def _folder_by_name(self, name: str) -> Folder:
        folder = fetch_index.folder_by_name(self.acct.pk, name)
        if folder is None:
            raise NotFoundError(f"Mailbox doesn't exist: {name}")
        return folder

    async def folder(self, name: str) -> Folder:
        return await asyncdb.run_db(self._folder_by_name, name)

    async def cmd_select(self, cmd: Select) -> None:
        await self._select(cmd, readonly=False)

    async def cmd_examine(self, cmd: Select) -> None:
        await self._select(cmd, readonly=True)

    async def _select(self, cmd: Select, *, readonly: bool) -> None:
        if self.selected is not None:
            self.selected = None
            if "QRESYNC" in self.enabled or self.rev2:  # RFC 7162 §3.2.11, RFC 9051 §6.3.2
                await self.send("* OK [CLOSED] Previous mailbox closed")
        if cmd.qresync is not None and "QRESYNC" not in self.enabled:
            raise ProtocolSyntaxError("QRESYNC is not enabled", cmd.tag)
        if cmd.condstore:
            self.condstore = True

        def load() -> tuple[Folder, array[int], int, list[str]]:
            folder = self._folder_by_name(cmd.mailbox)
            return (folder, *fetch_index.folder_view(folder))

        rings = self._rings()
        folder, uids, unseen_uid, keywords = await asyncdb.run_db(load)
        sel = Selected(folder, readonly, uids, folder.uidnext, folder.highestmodseq, rings=rings)
        flags = " ".join([f for f, _ in FLAG_COLUMNS] + keywords)
        await self.send(f"* {len(uids)} EXISTS")
        if not self.rev2:
            await self.send("* 0 RECENT")
        await self.send(f"* FLAGS ({flags})")
        permanent = "" if readonly else f"{flags} \\*"
        await self.send(f"* OK [PERMANENTFLAGS ({permanent})] Flags permitted")
        if unseen_uid and not self.rev2:
            await self.send(f"* OK [UNSEEN {sel.seq_of(unseen_uid)}] First unseen")
        await self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        await self.send(f"* OK [UIDNEXT {folder.uidnext}] Predicted next UID")
        await self.send(f"* OK [HIGHESTMODSEQ {folder.highestmodseq}] Highest")
        if self.rev2:
            await self.send(f'* LIST () "/" {self.mailbox_text(_wire_name(folder))}')
        self.selected = sel
        if cmd.qresync is not None and cmd.qresync[0] == folder.uidvalidity:
            await self._qresync(sel, cmd.qresync)
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        await self.send(f"{cmd.tag} OK [{mode}] {cmd.name} completed")

    async def _qresync(
        self, sel: Selected, params: tuple[int, int, SeqSet | None, tuple[SeqSet, SeqSet] | None]
    ) -> None:
        """RFC 7162 §3.2.5: VANISHED (EARLIER) and the FETCHes of what changed since."""
        _, modseq, known, _pairs = params
        from mailcore.store import history

        def load() -> tuple[list[int] | None, list[tuple[int, tuple[str, ...], int]]]:
            # A state that may hold a change a crash lost gets every message's flags
            # (history.rows_since), never a delta that leaves the lost change in its cache.
            gone, since = history.resync_since(sel.folder, modseq)
            rows = history.changed_since(sel.folder, since).values(
                "uid", "modseq", "keywords", *(c for _, c in FLAG_COLUMNS)
            )
            return gone, [(int(r["uid"]), flags_of(r), int(r["modseq"])) for r in rows]

        gone, rows = await asyncdb.run_db(load)
        text = _vanished_text(sel, gone, known)
        if text:
            await self.send(f"* VANISHED (EARLIER) {text}")
        for uid, flags, mseq in rows:
            seq = sel.seq_of(uid)
            if seq:
                await self.send(
                    f"* {seq} FETCH (UID {uid} FLAGS ({' '.join(flags)}) MODSEQ ({mseq}))"
                )

    async def cmd_create(self, cmd: MailboxCommand) -> None:
        from mailcore.store.actions import do_create_folder

        name = cmd.mailbox.rstrip("/")
        if name == "INBOX":
            await self.send(f"{cmd.tag} NO [ALREADYEXISTS] INBOX exists already")
            return

        def create() -> None:
            # RFC 9051 §6.3.4: missing superior levels are created too.
            parts = name.split("/")
            for i in range(1, len(parts) + 1):
                level = "/".join(parts[:i])
                exists = Folder.objects.filter(account=self.acct, name=level).exists()
                if i == len(parts) and exists:
                    raise _AlreadyExistsError(f"Mailbox exists already: {name}")
                if not exists:
                    do_create_folder(acting_account=self.acct, name=level)

        await asyncdb.run_db(create)
        await self.send(f"{cmd.tag} OK CREATE completed")

    async def cmd_delete(self, cmd: MailboxCommand) -> None:
        from mailcore.store.actions import do_delete_folder

        if cmd.mailbox == "INBOX":
            await self.send(f"{cmd.tag} NO [CANNOT] INBOX cannot be deleted")
            return

        def delete() -> None:
            folder = self._folder_by_name(cmd.mailbox)
            # RFC 9051 §6.3.5 (Dovecot too): a mailbox with children is not deleted with them.
            if Folder.objects.filter(account=self.acct, name__startswith=folder.name + "/"):
                raise _HasChildrenError("Mailbox has children, delete them first")
            do_delete_folder(acting_account=self.acct, folder=folder)

        if self.selected is not None and self.selected.folder.name == cmd.mailbox:
            self.selected.gone = True
        await asyncdb.run_db(delete)
        await self.send(f"{cmd.tag} OK DELETE completed")

    async def cmd_rename(self, cmd: Rename) -> None:
        from mailcore.store.actions import do_rename_folder

        if cmd.mailbox == "INBOX":
            await self.send(f"{cmd.tag} NO [CANNOT] Renaming INBOX is not supported")
            return

        def rename() -> None:
            folder = self._folder_by_name(cmd.mailbox)
            if (
                cmd.new_name == "INBOX"
                or Folder.objects.filter(account=self.acct, name=cmd.new_name).exists()
            ):
                raise _AlreadyExistsError(f"Mailbox exists already: {cmd.new_name}")
            parent = cmd.new_name.rpartition("/")[0]
            if parent and not Folder.objects.filter(account=self.acct, name=parent).exists():
                from mailcore.store.actions import do_create_folder

                do_create_folder(acting_account=self.acct, name=parent)
            do_rename_folder(acting_account=self.acct, folder=folder, name=cmd.new_name)

        await asyncdb.run_db(rename)
        await self.send(f"{cmd.tag} OK RENAME completed")

    async def cmd_subscribe(self, cmd: MailboxCommand) -> None:
        await self._subscribe(cmd, True)

    async def cmd_unsubscribe(self, cmd: MailboxCommand) -> None:
        await self._subscribe(cmd, False)

    async def _subscribe(self, cmd: MailboxCommand, on: bool) -> None:
        from mailcore.store import actions

        def change() -> None:
            folder = self._folder_by_name(cmd.mailbox)
            actions.do_set_subscribed(acting_account=self.acct, folder=folder, subscribed=on)

        await asyncdb.run_db(change)
        await self.send(f"{cmd.tag} OK {cmd.name} completed")

    async def cmd_list(self, cmd: ListCmd) -> None:
        await self._list(cmd)

    async def cmd_lsub(self, cmd: ListCmd) -> None:
        await self._list(cmd)

    async def _list(self, cmd: ListCmd) -> None:
        lsub = cmd.name == "LSUB"
        if cmd.patterns == ("",):
            await self.send('* LIST (\\Noselect) "/" ""')
            await self.send(f"{cmd.tag} OK {cmd.name} completed")
            return
        folders = await asyncdb.run_db(lambda: list(Folder.objects.filter(account=self.acct)))
        names = {_wire_name(f): f for f in folders}
        # Levels that have children but no folder of their own (Maildir++ allows them).
        phantoms = {
            "/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)
        } - set(names)
        subscribed_only = lsub or "SUBSCRIBED" in cmd.select_opts
        special_only = "SPECIAL-USE" in cmd.select_opts
        ret_sub = "SUBSCRIBED" in cmd.return_opts or "SUBSCRIBED" in cmd.select_opts
        ret_special = "SPECIAL-USE" in cmd.return_opts or not cmd.return_opts or special_only
        patterns = [_pattern_regex(cmd.reference, p, self.utf8) for p in cmd.patterns]
        all_names = sorted(set(names) | phantoms, key=lambda n: (n != "INBOX", n))
        status_rows: list[Folder] = []
        for name in all_names:
            if not any(p.match(name) for p in patterns):
                continue
            folder = names.get(name)
            attrs: list[str] = []
            has_children = any(other.startswith(name + "/") for other in names)
            if folder is None:
                if subscribed_only or special_only:
                    continue
                attrs.append(
                    "\\NonExistent" if cmd.select_opts or cmd.return_opts else "\\Noselect"
                )
            else:
                if subscribed_only and not folder.subscribed:
                    continue
                if special_only and folder.special_use not in SPECIAL_USE_ATTR:
                    continue
                if ret_sub and folder.subscribed and not lsub:
                    attrs.append("\\Subscribed")
                if ret_special and folder.special_use in SPECIAL_USE_ATTR:
                    attrs.append(SPECIAL_USE_ATTR[SpecialUse(folder.special_use)])
            attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
            await self.send(f'* {cmd.name} ({" ".join(attrs)}) "/" {self.mailbox_text(name)}')
            if folder is not None and cmd.status_items:
                status_rows.append(folder)
                await self._status_line(folder, cmd.status_items)
        await self.send(f"{cmd.tag} OK {cmd.name} completed")

    async def cmd_status(self, cmd: Status) -> None:
        folder = await self.folder(cmd.mailbox)
        await self._status_line(folder, cmd.items)
        await self.send(f"{cmd.tag} OK STATUS completed")

    async def _status_line(self, folder: Folder, items: Sequence[str]) -> None:
        values: dict[str, int] = {
            "MESSAGES": folder.message_count,
            "RECENT": 0,
            "UIDNEXT": folder.uidnext,
            "UIDVALIDITY": folder.uidvalidity,
            "UNSEEN": folder.unseen_count,
            "SIZE": folder.size_bytes,
            "HIGHESTMODSEQ": folder.highestmodseq,
            "APPENDLIMIT": self.config.appendlimit,
        }
        if "DELETED" in items:
            values["DELETED"] = await asyncdb.run_db(
                lambda: Message.objects.filter(folder=folder, deleted=True).count()
            )
        if "HIGHESTMODSEQ" in items:
            self.condstore = True
        parts = " ".join(f"{i} {values[i]}" for i in items)
        await self.send(f"* STATUS {self.mailbox_text(_wire_name(folder))} ({parts})")

    async def cmd_getquotaroot(self, cmd: MailboxCommand) -> None:
        await self.folder(cmd.mailbox)
        await self.send(f'* QUOTAROOT {self.mailbox_text(cmd.mailbox)} ""')
        await self._quota_line()
        await self.send(f"{cmd.tag} OK GETQUOTAROOT completed")

    async def cmd_getquota(self, cmd: GetQuota) -> None:
        if cmd.root != "":
            raise NotFoundError("No such quota root")
        await self._quota_line()
        await self.send(f"{cmd.tag} OK GETQUOTA completed")

    async def _quota_line(self) -> None:
        from mailcore.store.quota import usage

        # The account row again: an operator may have changed the quota since login.
        state = await asyncdb.run_db(lambda: usage(Account.objects.get(pk=self.acct.pk)))
        if state.limit:
            # RFC 9208 §5.1: STORAGE in units of 1024 octets.
            await self.send(
                f'* QUOTA "" (STORAGE {(state.used + 1023) // 1024} {state.limit // 1024})'
            )
        else:
            await self.send('* QUOTA "" ()')

    async def cmd_append(self, cmd: Append) -> None:
        from mailcore.store.actions import do_append
        from mailcore.store.quota import check_room

        if len(cmd.message) > self.config.appendlimit:
            await self.send(f"{cmd.tag} NO [TOOBIG] Message is larger than APPENDLIMIT")
            return
        if not cmd.message:
            raise ProtocolSyntaxError("Empty message", cmd.tag)
        system, keywords = _split_flags(cmd.flags)

        def append() -> tuple[int, int]:
            try:
                folder = self._folder_by_name(cmd.mailbox)
            except NotFoundError as exc:
                raise _TryCreateError(str(exc)) from None
            check_room(self.acct, len(cmd.message))
            message = do_append(
                acting_account=self.acct,
                folder=folder,
                data=cmd.message,
                source=Source.IMAP,
                flags=system,
                keywords=keywords,
                internal_date=cmd.internal_date,
                # Issue 10 item 3: a client saving its own copy after SMTP submission.
                dedupe_sent=True,
            )
            return folder.uidvalidity, message.uid

        uidvalidity, uid = await asyncdb.run_db(append)
        if self.selected is not None:
            await self.sync(expunges=True)
        await self.send(f"{cmd.tag} OK [APPENDUID {uidvalidity} {uid}] APPEND completed")

    # --- selected state -----------------------------------------------------------------------

    @property
    def sel(self) -> Selected:
        assert self.selected is not None
        return self.selected

    def _check_gone(self, tag: str) -> None:
        if self.sel.gone:
            raise NotFoundError("The selected mailbox has been deleted")

    async def cmd_close(self, cmd: Simple) -> None:
        sel = self.sel
        if not sel.readonly and not sel.gone:
            await asyncdb.run_db(self._expunge_rows, sel, None)
        self.selected = None
        await self.send(f"{cmd.tag} OK CLOSE completed")

    async def cmd_unselect(self, cmd: Simple) -> None:
        self.selected = None
        await self.send(f"{cmd.tag} OK UNSELECT completed")

    def _expunge_rows(self, sel: Selected, uid_ranges: list[tuple[int, int]] | None) -> list[int]:
        from mailcore.store.actions import do_expunge

        qs = Message.objects.select_related("folder").filter(folder=sel.folder, deleted=True)
        if sel.uids:
            qs = qs.filter(uid__lte=sel.uids[-1])
        else:
            return []
        if uid_ranges is not None:
            q = Q(pk__in=[])
            for lo, hi in uid_ranges:
                q |= Q(uid__gte=lo, uid__lte=hi)
            qs = qs.filter(q)
        messages = list(qs)
        for m in messages:
            m.account = self.acct
        if messages:
            do_expunge(acting_account=self.acct, messages=messages)
        return [m.uid for m in messages]

    async def cmd_expunge(self, cmd: Simple) -> None:
        await self._expunge(cmd.tag, None)

    async def cmd_uid_expunge(self, cmd: UidExpunge) -> None:
        ranges = searching.uid_ranges(cmd.seqset, self._mapping(), self.sel.uidnext)
        await self._expunge(cmd.tag, ranges)

    async def _expunge(self, tag: str, ranges: list[tuple[int, int]] | None) -> None:
        self._check_gone(tag)
        if self.sel.readonly:
            await self.send(f"{tag} NO [READ-ONLY] Mailbox is read-only")
            return
        await asyncdb.run_db(self._expunge_rows, self.sel, ranges)
        await self.sync(expunges=True)
        await self.send(f"{tag} OK [HIGHESTMODSEQ {self.sel.highestmodseq}] EXPUNGE completed")

    def _mapping(self) -> searching.Mapping:
        return searching.Mapping(self.sel.uids, self.saved)

    def _uids_for(self, seqset: SeqSet, uid: bool) -> list[int]:
        """UIDs in the session's view named by a sequence set (or UID set)."""
        sel = self.sel
        if seqset.saved:
            return [u for u in self.saved if sel.seq_of(u)]
        if uid:
            out: list[int] = []
            for lo, hi in searching.uid_ranges(seqset, self._mapping(), sel.uidnext):
                i = bisect.bisect_left(sel.uids, lo)
                j = bisect.bisect_right(sel.uids, hi)
                out.extend(sel.uids[i:j])
            return out
        n = len(sel.uids)
        if n == 0:
            raise ProtocolSyntaxError("No messages in the mailbox")
        out = []
        for lo, hi in seqset.resolve(n):
            if hi > n:
                raise ProtocolSyntaxError("Invalid message sequence number")
            out.extend(sel.uids[lo - 1 : hi])
        return out

    # --- FETCH ---------------------------------------------------------------------------------

    async def cmd_fetch(self, cmd: Fetch) -> None:
        self._check_gone(cmd.tag)
        atts = list(cmd.atts)
        if cmd.uid and not any(a.name == "UID" for a in atts):
            atts.insert(0, FetchAtt("UID"))
        if cmd.changedsince is not None or any(a.name == "MODSEQ" for a in atts):
            self.condstore = True
        if (
            self.condstore
            and cmd.changedsince is not None
            and not any(a.name == "MODSEQ" for a in atts)
        ):
            atts.append(FetchAtt("MODSEQ"))
        if cmd.vanished and "QRESYNC" not in self.enabled:
            raise ProtocolSyntaxError("VANISHED needs ENABLE QRESYNC", cmd.tag)
        uids = self._uids_for(cmd.seqset, cmd.uid)
        changedsince = None if cmd.changedsince is None else await self._changes_since(cmd)
        sel = self.sel
        need_meta = any(
            a.name in {"ENVELOPE", "BODYSTRUCTURE", "BODY"} and a.section is None for a in atts
        ) or any(a.section is not None and a.section.text in {"HEADER.FIELDS"} for a in atts)
        sets_seen = not sel.readonly and any(
            (a.section is not None and not a.peek and a.name in {"BODY", "BINARY"})
            or a.name in {"RFC822", "RFC822.TEXT"}
            for a in atts
        )
        indexed = None if sets_seen else fetch_index.plan(atts, condstore=self.condstore)
        reads_file = any(_reads_whole_file(a) for a in atts)
        tally = [0, 0]  # messages answered, of them left out (their file had gone)
        if indexed is not None:
            tally = await self._fetch_indexed(uids, atts, indexed, changedsince)
            uids = []
        elif not sets_seen and changedsince is None and not self.condstore:
            files = await self._fetch_files(uids, atts)
            if files is not None:
                tally, uids = files, []
        for i in range(0, len(uids), FETCH_BATCH):
            batch = uids[i : i + FETCH_BATCH]
            rows = await asyncdb.run_db(
                self._load_rows, sel.folder, batch, need_meta, changedsince, reads_file
            )
            if sets_seen:
                unseen = [m for m in rows if not m.seen]
                if unseen:
                    from mailcore.store.actions import do_set_flags

                    await asyncdb.run_db(
                        functools.partial(
                            do_set_flags, acting_account=self.acct, messages=unseen, add=["seen"]
                        )
                    )
                    for m in unseen:
                        sel.reported[m.uid] = m.modseq
            for row in rows:
                seq = sel.seq_of(row.uid)
                if not seq:
                    continue
                tally[0] += 1
                items = await self._fetch_row_items(row, atts, seen_set=sets_seen)
                if items is None:
                    tally[1] += 1
                    continue
                await self.wire.write(f"* {seq} FETCH (".encode() + b" ".join(items) + b")\r\n")
        await self.sync(expunges=cmd.uid, quick=True)
        tried, omitted = tally
        if not omitted:
            await self.send(f"{cmd.tag} OK FETCH completed")
        elif omitted < tried:
            # RFC 5530 EXPUNGEISSUED, Dovecot's answer: the others were sent; the EXPUNGE
            # comes at the next command that may carry it (NOOP, or this one under UID).
            await self.send(f"{cmd.tag} OK [EXPUNGEISSUED] Some messages were already expunged")
        else:
            await self.send(
                f"{cmd.tag} NO [EXPUNGEISSUED] Some of the requested messages no longer exist"
            )

    async def _fetch_row_items(
        self, row: Message, atts: list[FetchAtt], *, seen_set: bool
    ) -> list[bytes] | None:
        """The items of one message; None when its file has gone (another session expunged
        it after this one loaded the row: files go first): it is left out of the answer."""
        try:
            return await self._fetch_items(row, atts, seen_set=seen_set)
        except StorageError as exc:
            if not isinstance(exc, MessageFileMissingError) and not isinstance(
                exc.__cause__, FileNotFoundError
            ):
                raise
            log.info("IMAP FETCH: message %s was expunged meanwhile: left out", row.uid)
            return None

    async def _fetch_indexed(
        self, uids: list[int], atts: list[FetchAtt], plan: fetch_index.Plan, since: int | None
    ) -> list[int]:
        """FETCH from the index columns (fetch_index.plan), INDEX_BATCH rows per query, each
        batch written (and drained) before the next is read: constant memory at any size.
        Returns [messages answered, of them left out]."""
        sel = self.sel
        tally = [0, 0]
        for i in range(0, len(uids), INDEX_BATCH):
            batch = uids[i : i + INDEX_BATCH]
            lo, hi = batch[0], batch[-1]
            only = None if hi - lo + 1 == len(batch) else batch
            rows = await asyncdb.run_db(
                fetch_index.fetch_rows, sel.folder.pk, lo, hi, only, since, plan.meta
            )
            out: list[bytes] = []
            slow: list[int] = []  # no current MessageMeta yet: the general path
            for r in rows:
                seq = sel.seq_of(r[1])
                if seq:
                    line = fetch_index.render_row(seq, r, plan)
                    if line is None:
                        slow.append(r[1])
                    else:
                        out.append(line)
            del rows
            tally[0] += len(out) + len(slow)
            if out:
                await self.wire.write(b"".join(out))
            if slow:
                for row in await asyncdb.run_db(self._load_rows, sel.folder, slow, True, since):
                    items = await self._fetch_row_items(row, atts, seen_set=False)
                    if items is None:
                        tally[1] += 1
                        continue
                    seq = sel.seq_of(row.uid)
                    await self.wire.write(b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n")
        return tally

    async def _fetch_files(self, uids: list[int], atts: list[FetchAtt]) -> list[int] | None:
        """A body FETCH of a few messages (`BODY.PEEK[]`, `BODY[]<p.n>`, with UID and
        RFC822.SIZE at most) from the process's file entries of the folder (index.load_files,
        one query the first time) and the files: no database trip per command, and a small
        file is read right here, not in the thread pool. None when the FETCH asks for more
        (the general path answers). Returns [messages answered, of them left out]."""
        if not uids or len(uids) > PREFETCH_ROWS or not all(map(_file_att, atts)):
            return None
        sel = self.sel
        folder = sel.folder
        entries = fetch_index.cached_files(folder.pk, int(folder.uidvalidity), uids)
        if entries is None:
            await asyncdb.run_db(fetch_index.load_files, folder, uids)
            entries = fetch_index.cached_files(folder.pk, int(folder.uidvalidity), uids)
            if entries is None:
                return None  # a UID without a row (expunged): the general path tells
        if self._maildir is None:
            from mailcore.store.queries import maildir_for

            self._maildir = maildir_for(self.acct)
        maildir = self._maildir
        tally = [0, 0]
        for uid, (key, in_cur, info, size) in zip(uids, entries, strict=True):
            seq = sel.seq_of(uid)
            if not seq:
                continue
            tally[0] += 1
            items: list[bytes] = []
            try:
                for att in atts:
                    if att.name == "UID":
                        items.append(b"UID %d" % uid)
                    elif att.name == "RFC822.SIZE":
                        items.append(b"RFC822.SIZE %d" % size)
                    else:
                        read: Callable[[], bytes]
                        label = b"BODY[]"
                        data: bytes | None = None
                        if att.partial is None and size <= SMALL_READ:
                            # From the page cache without waiting for the disk (RWF_NOWAIT),
                            # by the name the row gives: no pathlib lookups on the loop.
                            data = maildir.read_crlf_cached(
                                folder.path, key, in_cur=in_cur, info=info, limit=SMALL_READ
                            )
                        if att.partial is None:
                            read = functools.partial(
                                maildir.read, folder.path, key, in_cur=in_cur, info=info
                            )
                        else:
                            start, length = att.partial
                            label += b"<%d>" % start
                            read = functools.partial(
                                maildir.read_crlf_range,
                                folder.path,
                                key,
                                start,
                                length,
                                in_cur=in_cur,
                                info=info,
                            )
                        if data is None:
                            # A small file (from the page cache, mostly) costs less than the hop.
                            data = read() if size <= SMALL_READ else await asyncdb.run_db(read)
                        assert data is not None
                        items.append(label + b" " + render(Literal(data)))
            except StorageError as exc:
                if not isinstance(exc, MessageFileMissingError) and not isinstance(
                    exc.__cause__, FileNotFoundError
                ):
                    raise
                log.info("IMAP FETCH: message %s was expunged meanwhile: left out", uid)
                tally[1] += 1
                continue
            await self.wire.write(b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n")
        return tally

    async def _changes_since(self, cmd: Fetch) -> int:
        """FETCH (CHANGEDSINCE m [VANISHED]): sends the VANISHED (EARLIER) response when asked
        and returns the modseq after which rows are answered: m, or 0 (every message's flags)
        when a client state at m may hold a change a crash lost (history.rows_since)."""
        from mailcore.store import history

        assert cmd.changedsince is not None
        sel = self.sel
        modseq = cmd.changedsince
        if not cmd.vanished:
            state = await asyncdb.run_db(history.history_state, sel.folder.account_id)
            return history.rows_since(state, modseq)
        gone, since = await asyncdb.run_db(history.resync_since, sel.folder, modseq)
        text = _vanished_text(sel, gone, cmd.seqset)
        if text:
            await self.send(f"* VANISHED (EARLIER) {text}")
        return since

    def _load_rows(
        self,
        folder: Folder,
        uids: list[int],
        need_meta: bool,
        changedsince: int | None,
        read_files: bool = False,
    ) -> list[Message]:
        """The rows of `uids`; with read_files, a few small ones come with their CRLF bytes
        read in the same trip to the pool (a body FETCH of one message: one hop, not two)."""
        rows = None if need_meta else fetch_index.message_rows(folder.pk, uids, changedsince)
        if rows is None:
            qs = Message.objects.filter(folder=folder, uid__gte=uids[0], uid__lte=uids[-1])
            if len(uids) != uids[-1] - uids[0] + 1:
                qs = qs.filter(uid__in=uids)
            if changedsince is not None:
                qs = qs.filter(modseq__gt=changedsince)
            if need_meta:
                qs = qs.select_related("meta")
            rows = list(qs.order_by("uid"))
        for row in rows:
            row.account = self.acct
            row.folder = folder
        if read_files and len(rows) <= PREFETCH_ROWS:
            budget = PREFETCH_BYTES
            for row in rows:
                if row.size <= budget:
                    budget -= row.size
                    # A file that cannot be read fails where its item is answered.
                    with contextlib.suppress(MailcoreError):
                        row.__dict__[_CRLF] = _read_crlf(row)
        return rows

    async def _fetch_items(
        self, row: Message, atts: list[FetchAtt], *, seen_set: bool
    ) -> list[bytes]:
        items: list[bytes] = []
        names = {a.name for a in atts}
        for att in atts:
            name = att.name
            if name == "UID":
                items.append(b"UID %d" % row.uid)
            elif name == "FLAGS":
                items.append(f"FLAGS ({' '.join(flags_of(row))})".encode())
            elif name == "INTERNALDATE":
                items.append(f'INTERNALDATE "{format_datetime(row.internal_date)}"'.encode())
            elif name == "RFC822.SIZE":
                items.append(b"RFC822.SIZE %d" % row.size)
            elif name == "MODSEQ":
                items.append(b"MODSEQ (%d)" % row.modseq)
            elif name == "EMAILID":
                items.append(b"EMAILID (M%d)" % row.pk)
            elif name == "THREADID":
                items.append(b"THREADID NIL")
            elif name in {"ENVELOPE", "BODYSTRUCTURE"} or (name == "BODY" and att.section is None):
                structure = await self._structure(row)
                items.append(name.encode() + b" " + structure.item(name))
            elif name in {"RFC822", "RFC822.HEADER", "RFC822.TEXT"}:
                section = {
                    "RFC822": Section(),
                    "RFC822.HEADER": Section(text="HEADER"),
                    "RFC822.TEXT": Section(text="TEXT"),
                }[name]
                data = await self._section_data(row, section, None)
                items.append(name.encode() + b" " + render(Literal(data or b"")))
            elif name in {"BODY", "BINARY", "BINARY.SIZE"} and att.section is not None:
                items.append(await self._section_item(row, att))
        if seen_set and "FLAGS" not in names:
            items.append(f"FLAGS ({' '.join(flags_of(row))})".encode())
        if self.condstore and "MODSEQ" not in names:
            items.append(b"MODSEQ (%d)" % row.modseq)
        return items

    async def _structure(self, row: Message) -> _Structure:
        """ENVELOPE/BODYSTRUCTURE of a row: from its MessageMeta (computed at delivery, in
        IMAP syntax already), else computed now from the file by the same code
        (mailcore.mime.imapmeta) for a message not backfilled yet."""
        meta = _meta_of(row)
        if meta is not None and meta.envelope_imap and meta.bodystructure_imap:
            return _Structure(
                bytes(meta.envelope_imap), bytes(meta.bodystructure_imap), meta.bodystructure
            )
        data = await asyncdb.run_db(_read_crlf, row)
        computed = imapmeta.compute(data)
        return _Structure(
            computed.envelope_imap, computed.bodystructure_imap, computed.bodystructure
        )

    async def _body(self, row: Message) -> _Body:
        data = await self._crlf(row)
        return _Body(data, mime.parse(data))

    async def _crlf(self, row: Message) -> bytes:
        data = row.__dict__.get(_CRLF)
        if isinstance(data, bytes):
            return data
        return await asyncdb.run_db(_read_crlf, row)

    async def _section_data(
        self, row: Message, section: Section, partial: tuple[int, int] | None
    ) -> bytes | None:
        if not section.part and section.text == "" and partial is not None:
            start, length = partial
            return await asyncdb.run_db(_read_crlf_range, row, start, length)
        if section.text == "HEADER.FIELDS" and not section.part:
            meta = _meta_of(row)
            if meta is not None:
                picked = imapmeta.pick_header_fields(
                    bytes(meta.header_fields),
                    section.fields,
                    complete=bool(meta.header_fields_complete),
                )
                if picked is not None:
                    return picked
        if not section.part and section.text == "":
            return await self._crlf(row)
        body = await self._body(row)
        return mime.section_bytes(body.data, body.tree, section)

    async def _section_item(self, row: Message, att: FetchAtt) -> bytes:
        assert att.section is not None
        section = att.section
        label = f"{att.name}[{section.render()}]"
        if att.name in {"BINARY", "BINARY.SIZE"}:
            body = await self._body(row)
            part = mime.find_part(body.tree, section.part) if section.part else body.tree
            data = None if part is None else mime.decode_part(body.data, part)
            if part is not None and data is None:
                raise UserError("[UNKNOWN-CTE] Cannot decode this part's transfer encoding")
            data = data or b""
            if att.name == "BINARY.SIZE":
                return f"{label} {len(data)}".encode()
            if att.partial is not None:
                start, length = att.partial
                data = data[start : start + length]
                label += f"<{start}>"
            # RFC 3516 §4.2: literal8 only where the content holds NUL.
            marker = b" ~" if b"\x00" in data else b" "
            return label.encode() + marker + render(Literal(data))
        whole_partial = att.partial if not section.part and section.text == "" else None
        data = await self._section_data(row, section, whole_partial)
        if data is None:
            data = b""
        if att.partial is not None:
            start, length = att.partial
            if whole_partial is None:
                data = data[start : start + length]
            label += f"<{start}>"
        return label.encode() + b" " + render(Literal(data))

    # --- STORE, COPY, MOVE --------------------------------------------------------------------

    async def cmd_store(self, cmd: Store) -> None:
        from mailcore.store.actions import do_set_flags

        self._check_gone(cmd.tag)
        if self.sel.readonly:
            await self.send(f"{cmd.tag} NO [READ-ONLY] Mailbox is read-only")
            return
        if cmd.unchangedsince is not None:
            self.condstore = True
        uids = self._uids_for(cmd.seqset, cmd.uid)
        system, keywords = _split_flags(cmd.flags)
        sel = self.sel

        def store() -> tuple[list[Message], list[int]]:
            rows: list[Message] = []
            for i in range(0, len(uids), 1000):
                rows += self._load_rows(sel.folder, uids[i : i + 1000], False, None)
            modified: list[int] = []
            if cmd.unchangedsince is not None:
                modified = [m.uid for m in rows if m.modseq > cmd.unchangedsince]
                rows = [m for m in rows if m.modseq <= cmd.unchangedsince]
            if cmd.mode == "+":
                add, remove, add_kw, remove_kw = system, [], keywords, []
            elif cmd.mode == "-":
                add, remove, add_kw, remove_kw = [], system, [], keywords
            else:
                add = system
                remove = [c for _, c in FLAG_COLUMNS if c not in system]
                add_kw = keywords
                current = {k for m in rows for k in (m.keywords or [])}
                remove_kw = sorted(current - set(keywords))
            before = {m.pk: m.modseq for m in rows}
            if rows:
                do_set_flags(
                    acting_account=self.acct,
                    messages=rows,
                    add=add,
                    remove=remove,
                    add_keywords=add_kw,
                    remove_keywords=remove_kw,
                )
            changed = [m for m in rows if m.modseq != before[m.pk]]
            return (rows if not cmd.silent else changed if self.condstore else []), modified

        rows, modified = await asyncdb.run_db(store)
        for row in rows:
            seq = sel.seq_of(row.uid)
            if not seq:
                continue
            sel.reported[row.uid] = row.modseq
            parts = []
            if not cmd.silent:
                parts.append(f"FLAGS ({' '.join(flags_of(row))})")
            if cmd.uid:
                parts.append(f"UID {row.uid}")
            if self.condstore:
                parts.append(f"MODSEQ ({row.modseq})")
            await self.send(f"* {seq} FETCH ({' '.join(parts)})")
        await self.sync(expunges=cmd.uid, quick=True)
        if modified:
            numbers = modified if cmd.uid else [sel.seq_of(u) for u in modified]
            await self.send(
                f"{cmd.tag} OK [MODIFIED {format_seqset([n for n in numbers if n])}] "
                "Conditional STORE failed for some messages"
            )
            return
        await self.send(f"{cmd.tag} OK STORE completed")

    async def cmd_copy(self, cmd: CopyMove) -> None:
        await self._copy_move(cmd, move=False)

    async def cmd_move(self, cmd: CopyMove) -> None:
        await self._copy_move(cmd, move=True)

    async def _copy_move(self, cmd: CopyMove, *, move: bool) -> None:
        from mailcore.store import actions

        self._check_gone(cmd.tag)
        if move and self.sel.readonly:
            await self.send(f"{cmd.tag} NO [READ-ONLY] Mailbox is read-only")
            return
        uids = self._uids_for(cmd.seqset, cmd.uid)
        sel = self.sel

        def run() -> tuple[int, list[int], list[int]]:
            try:
                dest = self._folder_by_name(cmd.mailbox)
            except NotFoundError as exc:
                raise _TryCreateError(str(exc)) from None
            rows: list[Message] = []
            for i in range(0, len(uids), 1000):
                rows += self._load_rows(sel.folder, uids[i : i + 1000], False, None)
            if not rows:
                return dest.uidvalidity, [], []
            old = [m.uid for m in rows]
            if move:
                if dest.pk == sel.folder.pk:
                    raise UserError("[CANNOT] Source and destination are the same mailbox")
                moved = actions.do_move(acting_account=self.acct, messages=rows, destination=dest)
                pairs = [
                    (o, m.uid) for o, m in zip(old, moved, strict=True) if m.folder_id == dest.pk
                ]
            else:
                from mailcore.store.quota import check_room

                check_room(self.acct, sum(m.size for m in rows))
                copies = actions.do_copy(acting_account=self.acct, messages=rows, destination=dest)
                pairs = [(o, c.uid) for o, c in zip(old, copies, strict=True) if c is not None]
            return dest.uidvalidity, [p[0] for p in pairs], [p[1] for p in pairs]

        uidvalidity, src, dst = await asyncdb.run_db(run)
        code = ""
        if src:
            code = f"[COPYUID {uidvalidity} {_uid_list(src)} {_uid_list(dst)}] "
        if move:
            if code:
                await self.send(f"* OK {code}Moved")
            await self.sync(expunges=True)
            await self.send(f"{cmd.tag} OK {cmd.name} completed")
            return
        await self.sync(expunges=cmd.uid)
        await self.send(f"{cmd.tag} OK {code}{cmd.name} completed")

    # --- SEARCH, SORT, THREAD -----------------------------------------------------------------

    async def cmd_search(self, cmd: Search) -> None:
        await self._search(cmd)

    async def cmd_sort(self, cmd: Search) -> None:
        await self._search(cmd)

    async def cmd_thread(self, cmd: Search) -> None:
        await self._search(cmd)

    async def _search(self, cmd: Search) -> None:
        self._check_gone(cmd.tag)
        if cmd.charset not in {"", "UTF-8", "US-ASCII"}:
            await self.send(f"{cmd.tag} NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset")
            return
        if _uses_modseq(cmd.key):
            self.condstore = True
        sel = self.sel
        mapping = self._mapping()

        def run() -> tuple[list[int], list[Any], int]:
            key = cmd.key
            if _uses_modseq(key):
                from mailcore.store import history

                # A MODSEQ key from a state a crash may have lost answers every message
                # (history.rows_since), as FETCH (CHANGEDSINCE) does.
                key = _modseq_reach(key, history.history_state(sel.folder.account_id))
            uids = searching.search_uids(sel.folder, key, mapping, sel.uidnext)
            threads: list[Any] = []
            if cmd.name == "SORT":
                uids = searching.sort_uids(sel.folder, uids, cmd.sort)
            elif cmd.name == "THREAD":
                threads = searching.thread_uids(sel.folder, uids, cmd.algorithm)
            modseq = (
                searching.max_modseq(sel.folder, uids)
                if self.condstore and _uses_modseq(cmd.key)
                else 0
            )
            return uids, threads, modseq

        uids, threads, modseq = await asyncdb.run_db(run)

        def number(u: int) -> int:
            return u if cmd.uid else sel.seq_of(u)

        if cmd.name == "THREAD":

            def convert(node: list[Any]) -> list[Any]:
                return [convert(x) if isinstance(x, list) else number(int(x)) for x in node]

            text = b"".join(_render_thread(convert(t)) for t in threads)
            await self.wire.write(b"* THREAD " + text + b"\r\n" if text else b"* THREAD\r\n")
        elif cmd.return_opts is not None or (self.rev2 and cmd.name == "SEARCH"):
            opts = set(cmd.return_opts or ()) or {"ALL"}
            if opts == {"SAVE"}:
                opts = {"SAVE"}
            parts = [f"(TAG {quote(cmd.tag)})"]
            if cmd.uid:
                parts.append("UID")
            numbers = [number(u) for u in uids]
            if numbers:
                if "MIN" in opts:
                    parts.append(f"MIN {min(numbers)}")
                if "MAX" in opts:
                    parts.append(f"MAX {max(numbers)}")
                if "ALL" in opts:
                    parts.append(f"ALL {format_seqset(numbers)}")
            if "COUNT" in opts:
                parts.append(f"COUNT {len(numbers)}")
            if modseq and numbers:
                parts.append(f"MODSEQ {modseq}")
            if "SAVE" in opts:
                self.saved = tuple(uids)
            if opts != {"SAVE"}:
                await self.send("* ESEARCH " + " ".join(parts))
        else:
            numbers = uids if cmd.uid else [number(u) for u in uids]
            tail = f" (MODSEQ {modseq})" if modseq and numbers else ""
            await self.send(" ".join(["* " + cmd.name, *map(str, numbers)]) + tail)
        await self.sync(expunges=cmd.uid, quick=True)
        await self.send(f"{cmd.tag} OK {cmd.name} completed")

    # --- IDLE -----------------------------------------------------------------------------------

    async def cmd_idle(self, cmd: Simple) -> None:
        await self.send("+ idling")
        if self.selected is not None:
            await self.sync(expunges=True)
        deadline = time.monotonic() + self.config.idle_timeout
        waiter = self.waiter
        while True:
            line = self.wire.reader.take_line()
            if line is not None:
                if line.strip().upper() == b"DONE":
                    await self.send(f"{cmd.tag} OK IDLE terminated")
                else:
                    await self.send(f"{cmd.tag} BAD Expected DONE")
                return
            if self.wire.closed:
                raise Logout
            left = deadline - time.monotonic()
            if left <= 0:
                await self.send("* BYE Autologout: idle for too long")
                raise Logout
            self.wire.data_event.clear()
            waits = [asyncio.ensure_future(self.wire.data_event.wait())]
            if waiter is not None:
                waits.append(asyncio.ensure_future(waiter.event.wait()))
            try:
                done, _ = await asyncio.wait(
                    waits,
                    timeout=min(left, IDLE_RECHECK_SECONDS),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for task in waits:
                    task.cancel()
            woke = waiter is not None and waiter.event.is_set()
            if (woke or not done) and self.selected is not None:
                if waiter is not None:
                    waiter.event.clear()
                await self.sync(expunges=True)
            elif woke and waiter is not None:
                waiter.event.clear()

    # --- change synchronisation ----------------------------------------------------------------

    def _rings(self) -> int:
        """How many change notices this session's account has had (-1: no change feed)."""
        return -1 if self.waiter is None else int(getattr(self.waiter, "rings", -1))

    async def sync(self, *, expunges: bool, quick: bool = False) -> None:
        """Tell the client what changed in the selected folder since it last heard: EXISTS,
        FETCH (FLAGS) and — only where allowed (RFC 9051 §7.5.1: not during FETCH, STORE,
        SEARCH by sequence number) — EXPUNGE or VANISHED."""
        sel = self.selected
        if sel is None or sel.gone:
            return
        rings = self._rings()
        if quick and rings == sel.rings and rings >= 0:
            return  # no change notice since the last look: nothing to tell
        known = (sel.highestmodseq, sel.uidnext, len(sel.uids))
        changes = await asyncdb.run_db(_folder_changes, sel.folder.pk, known, list_uids(sel))
        sel.rings = rings
        if not changes.exists:
            sel.gone = True
            await self.send("* BYE [CLOSED] The selected mailbox was deleted")
            raise Logout
        expunged = [u for u in changes.expunged if sel.seq_of(u)] if expunges else []
        if expunged:
            if "QRESYNC" in self.enabled:
                for u in expunged:
                    i = bisect.bisect_left(sel.uids, u)
                    del sel.uids[i]
                await self.send(f"* VANISHED {format_seqset(expunged)}")
            else:
                for u in sorted(expunged, reverse=True):
                    seq = sel.seq_of(u)
                    del sel.uids[seq - 1]
                    await self.send(f"* {seq} EXPUNGE")
        new = [u for u in changes.new_uids if not sel.uids or u > sel.uids[-1]]
        if new:
            sel.uids.extend(sorted(new))
            await self.send(f"* {len(sel.uids)} EXISTS")
        for uid, flags, modseq in changes.flag_rows:
            if uid in new or sel.reported.get(uid, -1) >= modseq:
                continue
            seq = sel.seq_of(uid)
            if not seq:
                continue
            extra = f" MODSEQ ({modseq})" if self.condstore else ""
            await self.send(f"* {seq} FETCH (UID {uid} FLAGS ({' '.join(flags)}){extra})")
        sel.reported.clear()
        pending_expunge = bool(changes.expunged) and not expunges
        if pending_expunge:
            sel.rings = -1  # to be told at the next command that may
        else:
            sel.highestmodseq = max(sel.highestmodseq, changes.highestmodseq)
        sel.uidnext = max(sel.uidnext, changes.uidnext)


def list_uids(sel: Selected) -> Sequence[int]:
    return sel.uids


def _folder_changes(
    folder_id: int, known: tuple[int, int, int], uids: Sequence[int]
) -> FolderChanges:
    known_modseq, known_uidnext, known_count = known
    # Plain statements (fetch_index): this runs after every change notice a session hears.
    row = fetch_index.folder_counters(folder_id)
    if row is None:
        return FolderChanges(False, 0, 0, 0)
    highestmodseq, uidnext, count = row
    if highestmodseq == known_modseq and uidnext == known_uidnext and count == known_count:
        return FolderChanges(True, highestmodseq, uidnext, count)
    rows = fetch_index.changed_flags(folder_id, known_modseq)
    last = uids[-1] if uids else 0
    new = tuple(uid for uid, _, _ in rows if uid > last)
    flag_rows = tuple(r for r in rows if r[0] <= last)
    expunged: tuple[int, ...] = ()
    if len(uids) + len(new) != count:
        from mailcore.store.models import Tombstone

        gone = {
            int(u)
            for u in Tombstone.objects.filter(
                folder_id=folder_id, modseq__gt=known_modseq, uid__isnull=False
            ).values_list("uid", flat=True)
            if u is not None
        }
        if len(uids) + len(new) - len(gone & set(uids)) != count:
            # No (or incomplete) history: compare with the rows themselves.
            present = set(
                Message.objects.filter(folder_id=folder_id, uid__lte=last).values_list(
                    "uid", flat=True
                )
            )
            gone = set(uids) - present
        expunged = tuple(sorted(int(u) for u in gone if u <= last))
    return FolderChanges(True, highestmodseq, uidnext, count, new, flag_rows, expunged)


# --- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Structure:
    envelope: bytes
    bodystructure: bytes
    structure: Any  # the JSON form, for BODY (non-extensible)

    def item(self, name: str) -> bytes:
        if name == "ENVELOPE":
            return self.envelope
        if name == "BODYSTRUCTURE":
            return self.bodystructure
        return imapmeta.render_body(imapmeta.body_of(self.structure))


@dataclass(slots=True)
class _Body:
    data: bytes
    tree: mime.Part


def _file_att(att: FetchAtt) -> bool:
    """Whether _fetch_files can answer `att`: UID, RFC822.SIZE, the whole message (BODY[],
    BODY.PEEK[], with or without a partial)."""
    section = att.section
    if section is None:
        return att.name in {"UID", "RFC822.SIZE"}
    return att.name == "BODY" and not section.part and not section.text and not section.fields


def _reads_whole_file(att: FetchAtt) -> bool:
    """Whether answering `att` reads the whole message file (not a partial of BODY[], not
    the header fields the index keeps)."""
    if att.name in {"RFC822", "RFC822.HEADER", "RFC822.TEXT"}:
        return True
    section = att.section
    if section is None or att.name not in {"BODY", "BINARY", "BINARY.SIZE"}:
        return False
    if section.text == "HEADER.FIELDS" and not section.part:
        return False
    return not (att.partial is not None and not section.part and section.text == "")


_ANY_STATE = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "ID", "ENABLE"})
_NOT_AUTH = frozenset({"STARTTLS", "LOGIN", "AUTHENTICATE"})
_SELECTED_ONLY = frozenset(
    {
        "CHECK",
        "CLOSE",
        "UNSELECT",
        "EXPUNGE",
        "UID EXPUNGE",
        "FETCH",
        "STORE",
        "COPY",
        "MOVE",
        "SEARCH",
        "SORT",
        "THREAD",
    }
)
# The handler names of the commands sent most (the others are worked out per command).
_METHODS = {n: "cmd_" + n.lower().replace(" ", "_") for n in ("FETCH", "STORE", "SEARCH", "NOOP")}


def _vanished_text(sel: Selected, gone: list[int] | None, uids: SeqSet | None) -> str:
    """VANISHED (EARLIER)'s set (RFC 7162 §3.2.5.1, §3.2.6) for the UIDs of `uids` (all when
    None): those of `gone` not in the mailbox; when the history does not reach back (`gone` is
    None), every UID below UIDNEXT not in the mailbox, as Dovecot answers (RFC 7162 §3.6 lets
    VANISHED (EARLIER) name UIDs that never existed)."""
    largest = max(sel.uidnext - 1, 1)
    if gone is None:
        ranges = uids.resolve(largest) if uids is not None else [(1, largest)]
        absent = _absent_ranges(ranges, sel.uids, sel.uidnext - 1)
        return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in absent)
    return format_seqset(
        [u for u in gone if (uids is None or uids.contains(u, largest)) and not sel.seq_of(u)]
    )


def _absent_ranges(
    ranges: list[tuple[int, int]], uids: Sequence[int], largest: int
) -> list[tuple[int, int]]:
    """The parts of ascending `ranges` (cut at `largest`) holding none of the ascending `uids`:
    as ranges, so a set of 1:4294967295 costs one step per present UID, not per number."""
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        hi = min(hi, largest)
        i = bisect.bisect_left(uids, lo)
        while lo <= hi:
            if i < len(uids) and uids[i] <= hi:
                if uids[i] > lo:
                    out.append((lo, uids[i] - 1))
                lo = uids[i] + 1
                i += 1
            else:
                out.append((lo, hi))
                break
    return out


def _read_crlf(row: Message) -> bytes:
    from mailcore.store.queries import read_message_bytes

    return mime.to_crlf(read_message_bytes(row))


def _read_crlf_range(row: Message, start: int, length: int) -> bytes:
    """Bytes [start, start+length) of the CRLF form, reading only that part when the Maildir
    offers ranged CRLF reads."""
    from mailcore.store.queries import maildir_for

    maildir = maildir_for(row.account)
    ranged = getattr(maildir, "read_crlf_range", None)
    if ranged is not None:
        data = ranged(
            row.folder.path, row.maildir_key, start, length, in_cur=row.in_cur, info=row.info
        )
        return bytes(data)
    return _read_crlf(row)[start : start + length]


def _meta_of(row: Message) -> Any:
    try:
        return row.meta
    except Exception:  # no MessageMeta row (not computed yet): read the file instead
        return None


def _wire_name(folder: Folder) -> str:
    return "INBOX" if folder.path == "" else folder.name


def _folder_keywords(folder: Folder) -> list[str]:
    seen: dict[str, None] = {}
    rows = (
        Message.objects.filter(folder=folder)
        .exclude(keywords=[])
        .order_by("-uid")
        .values_list("keywords", flat=True)[:2000]
    )
    for kws in rows:
        for k in kws or []:
            seen.setdefault(str(k), None)
    return [k for k in seen if k][:64]


def _split_flags(flags: Iterable[str]) -> tuple[list[str], list[str]]:
    system: list[str] = []
    keywords: list[str] = []
    for flag in flags:
        if flag.startswith("\\"):
            column = COLUMN_OF_FLAG.get(flag.lower())
            if column is not None and column not in system:
                system.append(column)
        elif flag not in keywords:
            keywords.append(flag)
    return system, keywords


def _uid_list(uids: list[int]) -> str:
    # UIDPLUS pairs the two lists by position: keep the order, compress runs only.
    parts: list[str] = []
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        parts.append(str(uids[i]) if i == j else f"{uids[i]}:{uids[j]}")
        i = j + 1
    return ",".join(parts)


def _modseq_reach(key: Any, state: Any) -> Any:
    """`key` with each MODSEQ n (changes at or after n: a client state at n - 1) made
    MODSEQ 0 when history.rows_since says that state may hold a change a crash lost."""
    from mailcore.imap.protocol import SearchKey
    from mailcore.store import history

    if getattr(key, "op", "") == "MODSEQ":
        modseq = int(str(key.args[0]))
        lost = modseq > 1 and history.rows_since(state, modseq - 1) == 0
        return SearchKey("MODSEQ", (0,)) if lost else key
    args = getattr(key, "args", ())
    if not any(hasattr(a, "op") for a in args):
        return key
    return SearchKey(
        key.op, tuple(_modseq_reach(a, state) if hasattr(a, "op") else a for a in args)
    )


def _uses_modseq(key: Any) -> bool:
    if getattr(key, "op", "") == "MODSEQ":
        return True
    return any(_uses_modseq(a) for a in getattr(key, "args", ()) if hasattr(a, "op"))


def _pattern_regex(reference: str, pattern: str, utf8: bool) -> Any:
    """LIST pattern → regex on decoded names ('*' anything, '%' anything but '/')."""
    import re

    from mailcore.imap.protocol import mutf7_decode

    full = reference + pattern
    if full[:5].upper() == "INBOX" and full[5:6] in {"", "/", "*", "%"}:
        full = "INBOX" + full[5:]
    if not utf8 or full.isascii():
        with contextlib.suppress(ProtocolSyntaxError):
            full = mutf7_decode(full)
    out = ["^"]
    for ch in full:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append("[^/]*")
        else:
            out.append(re.escape(ch))
    out.append("$")
    regex = "".join(out)
    return re.compile(regex, re.S)


class _AlreadyExistsError(UserError):
    code = "alreadyexists"


class _HasChildrenError(UserError):
    code = "haschildren"


class _TryCreateError(UserError):
    code = "trycreate"


def _user_error_code(exc: UserError) -> str:
    text = str(exc)
    if text.startswith("["):
        return ""
    code = getattr(exc, "code", "")
    table = {
        "alreadyexists": "[ALREADYEXISTS] ",
        "conflict": "[ALREADYEXISTS] ",
        "haschildren": "[HASCHILDREN] ",
        "trycreate": "[TRYCREATE] ",
        "over_quota": "[OVERQUOTA] ",
        "invalid_folder_name": "[CANNOT] ",
    }
    if type(exc).__name__ == "OverQuotaError":
        return "[OVERQUOTA] "
    return table.get(code, "")


__all__ = ["Logout", "Session", "SessionConfig", "Wire", "datetime"]
