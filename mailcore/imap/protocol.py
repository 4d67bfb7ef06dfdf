"""IMAP wire format, pure: an incremental command reader fed bytes, typed commands, sequence
sets, search keys, fetch attributes, modified UTF-7 and the response serializer.

No I/O, no Django, no store, no asyncio: the session layer feeds bytes in and writes bytes out.
Every malformed input raises ProtocolSyntaxError (answered BAD, session alive).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

_T = TypeVar("_T")

# --- errors and limits -------------------------------------------------------------------------


class ProtocolSyntaxError(Exception):
    """A command that does not parse: tagged BAD (untagged if the tag is unknown)."""

    def __init__(self, message: str, tag: str = "*", code: str = "") -> None:
        super().__init__(message)
        self.tag = tag
        self.code = code


@dataclass(frozen=True, slots=True)
class Limits:
    max_line: int = 65536  # Dovecot imap_max_line_length
    max_literal_preauth: int = 4096  # a LOGIN or AUTHENTICATE argument, not a message
    max_literal: int = 50 * 1024 * 1024  # APPENDLIMIT once logged in
    max_command: int = 50 * 1024 * 1024 + 65536  # all lines and literals of one command
    max_depth: int = 16  # nested parentheses (Dovecot CVE-2026-27857)
    max_ranges: int = 10000  # ranges in one sequence set
    max_literals: int = 64  # literals in one command
    max_search_keys: int = 1000


# --- modified UTF-7 (RFC 3501 §5.1.3) ---------------------------------------------------------


def mutf7_encode(text: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be", "surrogatepass")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


_B64_CHARS = re.compile(r"^[A-Za-z0-9+,]+$")


def mutf7_decode(text: str) -> str:
    """Strict: only printable ASCII, canonical base64 runs that hold UTF-16 of non-ASCII
    characters; anything else raises ProtocolSyntaxError."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if not 0x20 <= ord(ch) <= 0x7E:
            raise ProtocolSyntaxError("mailbox name is not 7-bit modified UTF-7")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise ProtocolSyntaxError("unterminated modified UTF-7 sequence")
        chunk = text[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            if not _B64_CHARS.match(chunk) or len(chunk) % 4 == 1:
                raise ProtocolSyntaxError("invalid modified UTF-7 sequence")
            b64 = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                raw = base64.b64decode(b64, validate=True)
                if len(raw) % 2:
                    raise ValueError("odd length")
                decoded = raw.decode("utf-16-be")
            except (ValueError, UnicodeDecodeError) as exc:
                raise ProtocolSyntaxError("invalid modified UTF-7 sequence") from exc
            if any(0x20 <= ord(c) <= 0x7E for c in decoded):
                raise ProtocolSyntaxError("modified UTF-7 encodes printable ASCII")
            out.append(decoded)
        i = end + 1
    result = "".join(out)
    if mutf7_encode(result) != text:
        raise ProtocolSyntaxError("modified UTF-7 is not in canonical form")
    return result


def check_mailbox_name(name: str) -> str:
    """A decoded mailbox name, hierarchy '/'; refuses what could leave the account's
    Maildir or that no folder can have (`..`, empty levels, '~', NUL, control characters)."""
    if name.upper() == "INBOX":
        return "INBOX"
    if not name or len(name) > 1000:
        raise ProtocolSyntaxError("invalid mailbox name")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise ProtocolSyntaxError("mailbox names cannot contain control characters")
    for part in name.split("/"):
        if not part or part in {".", ".."} or part.startswith("~") or "\\" in part:
            raise ProtocolSyntaxError("invalid mailbox name")
    if name.upper().startswith("INBOX/"):
        name = "INBOX" + name[5:]
    return name


def decode_mailbox(raw: str, *, utf8: bool) -> str:
    """A mailbox argument off the wire: mUTF-7 unless UTF8=ACCEPT is enabled (RFC 6855 §3:
    then names are UTF-8 as they are)."""
    if "\x00" in raw:
        raise ProtocolSyntaxError("NUL in mailbox name")
    if utf8 and not raw.isascii():
        return check_mailbox_name(raw)
    if raw.upper() == "INBOX":
        return "INBOX"
    return check_mailbox_name(mutf7_decode(raw))


def encode_mailbox(name: str, *, utf8: bool) -> str:
    return name if utf8 else mutf7_encode(name)


# --- command reader: line and literal framing ------------------------------------------------

_LITERAL_AT_END = re.compile(rb"(~?)\{(\d{1,20})([+-]?)\}$")
LINE_TOO_LONG = "Line too long"
LITERAL_MARK = 0  # byte value standing for a literal in the joined command text


@dataclass(frozen=True, slots=True)
class RawCommand:
    """One complete command: its text with each literal replaced by a NUL byte (a NUL can
    never be in the text itself), and the literals in order."""

    text: bytes
    literals: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """The client announced a synchronizing literal: send '+ …' and wait for it."""


@dataclass(frozen=True, slots=True)
class ReaderError:
    """The command was refused while reading (too long, too big, NUL); `fatal` when the
    connection cannot be resynchronised and must close."""

    tag: str
    message: str
    code: str = ""
    fatal: bool = False


ReaderEvent = RawCommand | NeedContinuation | ReaderError


def _guess_tag(line: bytes) -> str:
    tag = line.split(b" ", 1)[0][:64]
    try:
        text = tag.decode("ascii")
    except UnicodeDecodeError:
        return "*"
    return text if text and _TAG_RE.match(text) else "*"


class CommandReader:
    """Incremental framing (RFC 9051 §4.3, RFC 7888 LITERAL+/LITERAL-). feed() bytes, then
    take events with next_event() until it returns None."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.authenticated = False
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._literals: list[bytes] = []
        self._size = 0
        self._literal_left = 0  # bytes of the current literal still to come
        self._literal_buf = bytearray()
        self._discarding = False  # swallowing a refused non-synchronizing literal
        self._skip_line = False  # the rest of an overlong line is discarded
        self._pending_error: ReaderError | None = None
        self._tag = "*"

    def literal_limit(self) -> int:
        return self.limits.max_literal if self.authenticated else self.limits.max_literal_preauth

    def feed(self, data: bytes) -> None:
        self._buf += data

    def discard_buffer(self) -> None:
        """Forget everything received but not yet consumed (STARTTLS: RFC 9051 §11.1)."""
        self._buf.clear()
        self._reset()

    def buffered(self) -> int:
        return len(self._buf)

    def take_buffer(self) -> bytes:
        """Everything received but not parsed yet, removed (COMPRESS: it is compressed)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def take_line(self) -> bytes | None:
        """One raw line (without its line end) outside command framing: IDLE's DONE, an
        AUTHENTICATE response. None until a whole line is there."""
        nl = self._buf.find(b"\n")
        if nl < 0:
            if len(self._buf) > self.limits.max_line:
                self._buf.clear()
                return b""
            return None
        line = bytes(self._buf[:nl]).rstrip(b"\r")
        del self._buf[: nl + 1]
        return line

    def _reset(self) -> None:
        self._parts, self._literals, self._size = [], [], 0
        self._literal_left, self._literal_buf = 0, bytearray()
        self._discarding, self._pending_error, self._tag = False, None, "*"

    def next_event(self) -> ReaderEvent | None:
        while True:
            if self._literal_left:
                take = min(self._literal_left, len(self._buf))
                if take == 0:
                    return None
                if not self._discarding:
                    self._literal_buf += self._buf[:take]
                del self._buf[:take]
                self._literal_left -= take
                if self._literal_left:
                    return None
                if not self._discarding:
                    self._literals.append(bytes(self._literal_buf))
                    self._parts.append(bytes([LITERAL_MARK]))
                self._literal_buf = bytearray()
                continue
            nl = self._buf.find(b"\n")
            if self._skip_line:
                if nl < 0:
                    self._buf.clear()
                    return None
                del self._buf[: nl + 1]
                self._skip_line = False
                error, self._pending_error = self._pending_error, None
                self._reset()
                return error
            if nl < 0:
                if len(self._buf) > self.limits.max_line:
                    self._pending_error = ReaderError(
                        self._tag if self._parts else _guess_tag(bytes(self._buf)),
                        LINE_TOO_LONG,
                        "TOOBIG",
                    )
                    self._buf.clear()
                    self._skip_line = True
                return None
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not self._parts:
                self._tag = _guess_tag(line)
            if len(line) > self.limits.max_line:
                error = ReaderError(self._tag, LINE_TOO_LONG, "TOOBIG")
                self._reset()
                return error
            self._size += len(line)
            if b"\x00" in line:
                self._pending_error = self._pending_error or ReaderError(
                    self._tag, "NUL is not allowed in commands"
                )
            match = _LITERAL_AT_END.search(line)
            if match is None:
                self._parts.append(line)
                error = self._pending_error
                if error is not None:
                    self._reset()
                    return error
                text = b"".join(self._parts)
                literals = tuple(self._literals)
                self._reset()
                return RawCommand(text, literals)
            size = int(match.group(2))
            nonsync = match.group(3) in {b"+", b"-"}
            if match.group(3) == b"-" and size > 4096:
                # RFC 7888 §4: LITERAL- allows non-synchronizing literals up to 4096 only.
                nonsync = False
            self._parts.append(line[: match.start()])
            self._size += size
            too_big = size > self.literal_limit() or self._size > self.limits.max_command
            too_many = len(self._literals) >= self.limits.max_literals
            if self._pending_error is None and (too_big or too_many):
                message = "Literal too big" if too_big else "Too many literals"
                self._pending_error = ReaderError(self._tag, message, "TOOBIG")
            if self._pending_error is not None:
                if not nonsync:
                    # Nothing follows a refused synchronizing literal: answer now.
                    error = self._pending_error
                    self._reset()
                    return error
                if size > 2 * self.literal_limit() + 65536:
                    error = ReaderError(self._tag, "Literal too big", "TOOBIG", fatal=True)
                    self._reset()
                    return error
                self._discarding = True
                self._literal_left = size
                continue
            self._literal_left = size
            if size == 0:
                self._literals.append(b"")
                self._parts.append(bytes([LITERAL_MARK]))
                continue
            if not nonsync:
                return NeedContinuation()


# --- command arguments: a cursor over one RawCommand -----------------------------------------

_TAG_RE = re.compile(r"^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|~]+$")
_ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0x20)) | {0x7F}
_ASTRING_SPECIALS = _ATOM_SPECIALS - {ord("]")}


class Cursor:
    def __init__(self, raw: RawCommand, tag: str = "*", max_depth: int = 16) -> None:
        self.text = raw.text
        self.literals = list(raw.literals)
        self.pos = 0
        self.tag = tag
        self.max_depth = max_depth
        self._lit_index = 0

    def error(self, message: str) -> ProtocolSyntaxError:
        return ProtocolSyntaxError(message, self.tag)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> int:
        return self.text[self.pos] if self.pos < len(self.text) else -1

    def peek_in(self, chars: bytes) -> bool:
        """The next byte is one of `chars` (False at the end: `-1 in b"…"` would raise)."""
        return self.pos < len(self.text) and self.text[self.pos] in chars

    def peek_is(self, s: bytes) -> bool:
        return self.text[self.pos : self.pos + len(s)].upper() == s.upper()

    def take(self, s: bytes) -> bool:
        if self.peek_is(s):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: bytes) -> None:
        if not self.take(s):
            raise self.error(f"expected {s.decode()!r}")

    def sp(self) -> None:
        self.expect(b" ")

    def end(self) -> None:
        if not self.at_end():
            raise self.error("unexpected characters at end of command")

    def atom(self, specials: set[int] = _ATOM_SPECIALS) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in specials:
            if self.text[self.pos] == LITERAL_MARK or self.text[self.pos] > 0x7E:
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected an atom")
        return self.text[start : self.pos].decode("ascii")

    def number(self) -> int:
        start = self.pos
        while self.pos < len(self.text) and 0x30 <= self.text[self.pos] <= 0x39:
            self.pos += 1
        if self.pos == start or self.pos - start > 20:
            raise self.error("expected a number")
        value = int(self.text[start : self.pos])
        if value > 0xFFFFFFFFFFFFFFFF:
            raise self.error("number out of range")
        return value

    def nz_number(self, bits: int = 32) -> int:
        value = self.number()
        if value == 0 or value >= 1 << bits:
            raise self.error("number out of range")
        return value

    def _literal(self) -> bytes:
        self.pos += 1
        if self._lit_index >= len(self.literals):
            raise self.error("literal expected")
        value = self.literals[self._lit_index]
        self._lit_index += 1
        return value

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated quoted string")
            c = self.text[self.pos]
            self.pos += 1
            if c == ord('"'):
                return bytes(out)
            if c == ord("\\"):
                if self.pos >= len(self.text) or self.text[self.pos] not in b'"\\':
                    raise self.error("invalid escape in quoted string")
                out.append(self.text[self.pos])
                self.pos += 1
            elif c in (0x0D, 0x0A, LITERAL_MARK):
                raise self.error("invalid character in quoted string")
            else:
                out.append(c)

    def string_bytes(self) -> bytes:
        c = self.peek()
        if c == ord('"'):
            return self.quoted()
        if c == LITERAL_MARK:
            return self._literal()
        raise self.error("expected a string")

    def astring_bytes(self) -> bytes:
        c = self.peek()
        if c in (ord('"'), LITERAL_MARK):
            return self.string_bytes()
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in _ASTRING_SPECIALS or c == LITERAL_MARK:
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected a string")
        return self.text[start : self.pos]

    def astring(self) -> str:
        return _text(self.astring_bytes(), self)

    def string(self) -> str:
        return _text(self.string_bytes(), self)

    def nstring(self) -> str | None:
        if self.take(b"NIL"):
            return None
        return self.string()

    def list_mailbox(self) -> str:
        # RFC 9051 list-mailbox: atom chars plus '%' '*' ']', or a string.
        c = self.peek()
        if c in (ord('"'), LITERAL_MARK):
            return self.string()
        specials = _ASTRING_SPECIALS - {ord("%"), ord("*")}
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in specials or c == LITERAL_MARK:
                break
            self.pos += 1
        if self.pos == start:
            raise self.error("expected a mailbox pattern")
        return _text(self.text[start : self.pos], self)

    def paren_list(self, item: Callable[[], _T], depth: int = 1) -> list[_T]:
        if depth > self.max_depth:
            raise self.error("too deeply nested")
        self.expect(b"(")
        out: list[_T] = []
        if self.take(b")"):
            return out
        while True:
            out.append(item())
            if self.take(b")"):
                return out
            self.sp()


def _text(raw: bytes, cursor: Cursor) -> str:
    if b"\x00" in raw:
        raise cursor.error("NUL is not allowed here")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise cursor.error("invalid UTF-8") from exc


# --- sequence sets ----------------------------------------------------------------------------

STAR = 0  # '*' in a range: the largest number in use


@dataclass(frozen=True, slots=True)
class SeqSet:
    """Ranges as (low, high) with STAR for '*', unnormalised; `saved` for SEARCHRES '$'."""

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Ascending, merged ranges with '*' read as `largest` (RFC 9051 §9 seq-range:
        '*' is the largest number in use, and 'n:m' equals 'm:n')."""
        out: list[tuple[int, int]] = []
        for lo, hi in self.ranges:
            lo = largest if lo == STAR else lo
            hi = largest if hi == STAR else hi
            if lo > hi:
                lo, hi = hi, lo
            out.append((lo, hi))
        out.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in out:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return merged

    def contains(self, n: int, largest: int) -> bool:
        return any(lo <= n <= hi for lo, hi in self.resolve(largest))


def parse_seqset(cursor: Cursor, limits: Limits) -> SeqSet:
    if cursor.take(b"$"):
        return SeqSet(saved=True)
    ranges: list[tuple[int, int]] = []

    def num() -> int:
        if cursor.take(b"*"):
            return STAR
        return cursor.nz_number()

    while True:
        lo = num()
        hi = num() if cursor.take(b":") else lo
        ranges.append((lo, hi))
        if len(ranges) > limits.max_ranges:
            raise cursor.error("too many ranges in sequence set")
        if not cursor.take(b","):
            return SeqSet(tuple(ranges))


def format_seqset(numbers: list[int]) -> str:
    """Compact '1:3,7' form of ascending or unsorted numbers (UIDPLUS, ESEARCH, VANISHED)."""
    nums = sorted(set(numbers))
    parts: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
        i = j + 1
    return ",".join(parts)


# --- dates ------------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_RE = re.compile(r"^(\d{1,2})-([A-Za-z]{3})-(\d{4})$")
_DATETIME_RE = re.compile(
    r"^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$"
)


def _month(name: str, cursor: Cursor) -> int:
    try:
        return [m.lower() for m in MONTHS].index(name.lower()) + 1
    except ValueError as exc:
        raise cursor.error("invalid month") from exc


def parse_date(cursor: Cursor) -> datetime:
    quoted = cursor.peek() == ord('"')
    raw = cursor.quoted().decode("ascii", "replace") if quoted else cursor.atom()
    m = _DATE_RE.match(raw)
    if not m:
        raise cursor.error("invalid date")
    try:
        return datetime(int(m.group(3)), _month(m.group(2), cursor), int(m.group(1)), tzinfo=UTC)
    except ValueError as exc:
        raise cursor.error("invalid date") from exc


def parse_datetime(cursor: Cursor) -> datetime:
    raw = cursor.quoted().decode("ascii", "replace")
    m = _DATETIME_RE.match(raw)
    if not m:
        raise cursor.error("invalid date-time")
    offset = timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
    tz = timezone(offset if m.group(7) == "+" else -offset)
    try:
        return datetime(
            int(m.group(3)),
            _month(m.group(2), cursor),
            int(m.group(1)),
            int(m.group(4)),
            int(m.group(5)),
            int(m.group(6)),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise cursor.error("invalid date-time") from exc


def format_datetime(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} +0000"


# --- search keys (RFC 9051 §6.4.4) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchKey:
    """One search key: `op` names it; `args` carries its operands (strings, numbers, dates,
    SeqSet, or nested SearchKeys for AND/OR/NOT)."""

    op: str
    args: tuple[object, ...] = ()


_FLAG_KEYS = {
    "ANSWERED": ("answered", True),
    "DELETED": ("deleted", True),
    "DRAFT": ("draft", True),
    "FLAGGED": ("flagged", True),
    "SEEN": ("seen", True),
    "UNANSWERED": ("answered", False),
    "UNDELETED": ("deleted", False),
    "UNDRAFT": ("draft", False),
    "UNFLAGGED": ("flagged", False),
    "UNSEEN": ("seen", False),
}
_STRING_KEYS = {"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"}
_DATE_KEYS = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}


class _SearchParser:
    def __init__(self, cursor: Cursor, limits: Limits) -> None:
        self.c = cursor
        self.limits = limits
        self.count = 0

    def keys_until_end(self, stop: bytes = b"") -> SearchKey:
        keys = [self.key(1)]
        while not self.c.at_end() and not (stop and self.c.peek_is(stop)):
            self.c.sp()
            keys.append(self.key(1))
        return keys[0] if len(keys) == 1 else SearchKey("AND", tuple(keys))

    def key(self, depth: int) -> SearchKey:
        c = self.c
        self.count += 1
        if self.count > self.limits.max_search_keys:
            raise c.error("too many search keys")
        if depth > self.limits.max_depth:
            raise c.error("search is too deeply nested")
        if c.peek() == ord("("):
            c.pos += 1
            keys = [self.key(depth + 1)]
            while not c.take(b")"):
                c.sp()
                keys.append(self.key(depth + 1))
            return keys[0] if len(keys) == 1 else SearchKey("AND", tuple(keys))
        if c.peek_in(b"0123456789*$"):
            return SearchKey("SEQ", (parse_seqset(c, self.limits),))
        word = c.atom().upper()
        if word == "ALL":
            return SearchKey("ALL")
        if word in _FLAG_KEYS:
            name, on = _FLAG_KEYS[word]
            return SearchKey("FLAG", (name, on))
        if word in {"NEW", "OLD", "RECENT"}:
            # No \Recent in a shared store (IMAP4rev2 dropped it): NEW = UNSEEN, RECENT none.
            return SearchKey(
                {"NEW": "FLAG", "OLD": "ALL", "RECENT": "NONE"}[word],
                ("seen", False) if word == "NEW" else (),
            )
        if word in {"KEYWORD", "UNKEYWORD"}:
            c.sp()
            return SearchKey(word, (c.atom(),))
        if word in _STRING_KEYS:
            c.sp()
            return SearchKey(word, (c.astring(),))
        if word in _DATE_KEYS:
            c.sp()
            return SearchKey(word, (parse_date(c),))
        if word in {"LARGER", "SMALLER"}:
            c.sp()
            return SearchKey(word, (c.number(),))
        if word == "HEADER":
            c.sp()
            name = c.astring()
            c.sp()
            return SearchKey(word, (name, c.astring()))
        if word == "UID":
            c.sp()
            return SearchKey("UID", (parse_seqset(c, self.limits),))
        if word == "NOT":
            c.sp()
            return SearchKey("NOT", (self.key(depth + 1),))
        if word == "OR":
            c.sp()
            a = self.key(depth + 1)
            c.sp()
            return SearchKey("OR", (a, self.key(depth + 1)))
        if word == "MODSEQ":  # RFC 7162 §3.1.5, entry name and type are accepted and ignored
            c.sp()
            if c.peek() == ord('"') or c.peek() == LITERAL_MARK:
                c.string()
                c.sp()
                c.atom()
                c.sp()
            return SearchKey("MODSEQ", (c.number(),))
        if word in {"OLDER", "YOUNGER"}:  # RFC 5032 WITHIN
            c.sp()
            return SearchKey(word, (c.nz_number(),))
        raise c.error(f"unknown search key {word}")


def parse_search_key(cursor: Cursor, limits: Limits) -> SearchKey:
    return _SearchParser(cursor, limits).keys_until_end()


# --- fetch attributes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    part: tuple[int, ...] = ()
    text: str = ""  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()

    def render(self) -> str:
        spec = ".".join(str(p) for p in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(f.upper() for f in self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchAtt:
    name: str  # UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY BODY[] BINARY …
    section: Section | None = None
    partial: tuple[int, int] | None = None  # (offset, length)
    peek: bool = False


_FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE_ATTS = {
    "ENVELOPE",
    "FLAGS",
    "INTERNALDATE",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.SIZE",
    "RFC822.TEXT",
    "BODY",
    "BODYSTRUCTURE",
    "UID",
    "MODSEQ",
    "EMAILID",
    "THREADID",
}


def _section(c: Cursor, binary: bool) -> Section:
    c.expect(b"[")
    part: list[int] = []
    text = ""
    fields: tuple[str, ...] = ()
    while c.peek_in(b"0123456789"):
        part.append(c.nz_number())
        if len(part) > 64:
            raise c.error("section too deep")
        if not c.take(b"."):
            break
    if not c.take(b"]"):
        if binary:
            raise c.error("BINARY takes a part number only")
        word = c.atom(_ATOM_SPECIALS | {ord("]")}).upper()
        if word in {"HEADER.FIELDS", "HEADER.FIELDS.NOT"}:
            c.sp()
            fields = tuple(c.paren_list(lambda: c.astring().strip()))
            if not fields or any(not f or ":" in f for f in fields):
                raise c.error("invalid header field list")
        elif word == "MIME":
            if not part:
                raise c.error("MIME needs a part number")
        elif word not in {"HEADER", "TEXT"}:
            raise c.error("invalid section")
        text = word
        c.expect(b"]")
    return Section(tuple(part), text, fields)


def _fetch_att(c: Cursor) -> FetchAtt:
    word = c.atom(_ATOM_SPECIALS | {ord("["), ord("]"), ord("<")}).upper()
    if word in {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"} and c.peek() == ord(
        "["
    ):
        binary = word.startswith("BINARY")
        section = _section(c, binary)
        partial = None
        if c.take(b"<"):
            if word == "BINARY.SIZE":
                raise c.error("BINARY.SIZE takes no partial")
            start = c.number()
            c.expect(b".")
            length = c.nz_number(63)
            c.expect(b">")
            partial = (start, length)
        base = word.removesuffix(".PEEK")
        return FetchAtt(base, section, partial, peek=word.endswith(".PEEK"))
    if word in _SIMPLE_ATTS:
        return FetchAtt(word)
    raise c.error(f"unknown fetch attribute {word}")


def parse_fetch_atts(c: Cursor) -> list[FetchAtt]:
    if c.peek() == ord("("):
        atts = c.paren_list(lambda: _fetch_att(c))
        if not atts:
            raise c.error("empty fetch attribute list")
        return atts
    word_start = c.pos
    word = c.atom(_ATOM_SPECIALS | {ord("["), ord("]"), ord("<")}).upper()
    if word in _FETCH_MACROS:
        return [FetchAtt(name) for name in _FETCH_MACROS[word]]
    c.pos = word_start
    return [_fetch_att(c)]


# --- typed commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    tag: str
    name: str


@dataclass(frozen=True, slots=True)
class Simple(Command):
    """CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT EXPUNGE IDLE NAMESPACE."""


@dataclass(frozen=True, slots=True)
class Login(Command):
    user: str = ""
    password: str = ""


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    mechanism: str = ""
    initial: str | None = None  # SASL-IR (RFC 4959), base64 text


@dataclass(frozen=True, slots=True)
class Enable(Command):
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Id(Command):
    params: tuple[tuple[str, str | None], ...] | None = None


@dataclass(frozen=True, slots=True)
class Select(Command):
    """SELECT and EXAMINE, with CONDSTORE / QRESYNC parameters (RFC 7162)."""

    mailbox: str = ""
    condstore: bool = False
    qresync: tuple[int, int, SeqSet | None, tuple[SeqSet, SeqSet] | None] | None = None


@dataclass(frozen=True, slots=True)
class MailboxCommand(Command):
    """CREATE DELETE SUBSCRIBE UNSUBSCRIBE GETQUOTAROOT."""

    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Rename(Command):
    mailbox: str = ""
    new_name: str = ""


@dataclass(frozen=True, slots=True)
class ListCmd(Command):
    """LIST and LSUB, with LIST-EXTENDED selection and return options (RFC 5258, 5819)."""

    reference: str = ""
    patterns: tuple[str, ...] = ()
    select_opts: tuple[str, ...] = ()
    return_opts: tuple[str, ...] = ()
    status_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Append(Command):
    mailbox: str = ""
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None
    message: bytes = b""


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    uid: bool = False
    seqset: SeqSet = field(default_factory=SeqSet)
    atts: tuple[FetchAtt, ...] = ()
    changedsince: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Store(Command):
    uid: bool = False
    seqset: SeqSet = field(default_factory=SeqSet)
    mode: str = ""  # "" (replace), "+" or "-"
    silent: bool = False
    flags: tuple[str, ...] = ()
    unchangedsince: int | None = None


@dataclass(frozen=True, slots=True)
class CopyMove(Command):
    """COPY and MOVE (and their UID forms)."""

    uid: bool = False
    seqset: SeqSet = field(default_factory=SeqSet)
    mailbox: str = ""


@dataclass(frozen=True, slots=True)
class Search(Command):
    """SEARCH (with ESEARCH RETURN options), SORT and THREAD."""

    uid: bool = False
    key: SearchKey = field(default_factory=lambda: SearchKey("ALL"))
    return_opts: tuple[str, ...] | None = None  # None: classic untagged SEARCH
    charset: str = ""
    sort: tuple[str, ...] = ()
    algorithm: str = ""


@dataclass(frozen=True, slots=True)
class UidExpunge(Command):
    seqset: SeqSet = field(default_factory=SeqSet)


@dataclass(frozen=True, slots=True)
class Compress(Command):
    mechanism: str = ""


@dataclass(frozen=True, slots=True)
class GetQuota(Command):
    root: str = ""


SYSTEM_FLAG_NAMES = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


def _flag(c: Cursor) -> str:
    if c.take(b"\\"):
        name = c.atom()
        for flag in SYSTEM_FLAG_NAMES:
            if flag[1:].lower() == name.lower():
                return flag
        if name.lower() == "recent":
            return "\\Recent"
        raise c.error(f"unknown system flag \\{name}")
    return c.atom()


def _flag_list(c: Cursor) -> list[str]:
    return c.paren_list(lambda: _flag(c))


def _mailbox(c: Cursor, utf8: bool) -> str:
    return decode_mailbox(c.astring(), utf8=utf8)


_SIMPLE = {
    "CAPABILITY",
    "NOOP",
    "LOGOUT",
    "STARTTLS",
    "CHECK",
    "CLOSE",
    "UNSELECT",
    "EXPUNGE",
    "IDLE",
    "NAMESPACE",
}
_STATUS_ITEMS = {
    "MESSAGES",
    "RECENT",
    "UIDNEXT",
    "UIDVALIDITY",
    "UNSEEN",
    "DELETED",
    "SIZE",
    "HIGHESTMODSEQ",
    "APPENDLIMIT",
}
SORT_KEYS = {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}


# A FETCH without literals, split as the full parse would (the tag's characters: _TAG_RE's
# less "+", which ends a tag's atom). Its tail (attributes and modifiers) repeats from command
# to command, so the typed tail the full parse made of it is kept and reused: only the tag and
# the sequence set are read again. Bounded: cleared when full.
_FETCH_SHAPE = re.compile(
    rb"([!#$&',\-./0-9:;<=>?@A-Z^_`a-z|~]+) (UID )?FETCH ([0-9*:,]+) (.+)", re.IGNORECASE
)
_FETCH_TAILS: dict[tuple[bytes, bool, int], tuple[tuple[FetchAtt, ...], int | None, bool]] = {}
FETCH_TAILS = 256


def _seq_number(text: bytes) -> int | None:
    """Cursor.nz_number's value of `text` (or STAR for '*'); None where it would refuse."""
    if text == b"*":
        return STAR
    if not text.isdigit() or len(text) > 20:
        return None
    value = int(text)
    return value if 0 < value < 1 << 32 else None


def _fetch_reused(m: re.Match[bytes], limits: Limits) -> Fetch | None:
    """The FETCH of a known tail without the full parse; None when the tail is new or the
    sequence set is anything but plain numbers and ranges (the full parse says why)."""
    uid = m[2] is not None
    tail = _FETCH_TAILS.get((m[4], uid, limits.max_depth))
    if tail is None:
        return None
    ranges: list[tuple[int, int]] = []
    for part in m[3].split(b","):
        lo_text, colon, hi_text = part.partition(b":")
        lo = _seq_number(lo_text)
        hi = _seq_number(hi_text) if colon else lo
        if lo is None or hi is None:
            return None
        ranges.append((lo, hi))
    if len(ranges) > limits.max_ranges:
        return None
    return Fetch(m[1].decode(), "FETCH", uid, SeqSet(tuple(ranges)), *tail)


def parse_command(raw: RawCommand, limits: Limits, *, utf8: bool = False) -> Command:
    """The typed command of one complete RawCommand; ProtocolSyntaxError if it is malformed."""
    shape = None if raw.literals else _FETCH_SHAPE.fullmatch(raw.text)
    if shape is not None:
        reused = _fetch_reused(shape, limits)
        if reused is not None:
            return reused
    cmd = _parse_command(raw, limits, utf8)
    if shape is not None and isinstance(cmd, Fetch):
        if len(_FETCH_TAILS) >= FETCH_TAILS:
            _FETCH_TAILS.clear()
        _FETCH_TAILS[(shape[4], cmd.uid, limits.max_depth)] = (
            cmd.atts,
            cmd.changedsince,
            cmd.vanished,
        )
    return cmd


def _parse_command(raw: RawCommand, limits: Limits, utf8: bool) -> Command:
    c = Cursor(raw, max_depth=limits.max_depth)
    try:
        tag = c.atom(_ATOM_SPECIALS | {ord("+")})
    except ProtocolSyntaxError:
        raise ProtocolSyntaxError("missing or invalid tag") from None
    if not _TAG_RE.match(tag):
        raise ProtocolSyntaxError("invalid tag")
    c.tag = tag
    if not c.take(b" "):
        raise c.error("missing command")
    name = c.atom().upper()
    uid = False
    if name == "UID":
        c.sp()
        uid = True
        name = c.atom().upper()
        if name not in {"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE", "SORT", "THREAD"}:
            raise c.error(f"UID {name} is not a command")
    try:
        cmd = _parse_args(c, tag, name, uid, limits, utf8)
        c.end()
    except ProtocolSyntaxError as exc:
        if exc.tag == "*":
            exc.tag = tag  # raised below the cursor (a mailbox name): still this command's
        raise
    return cmd


def _parse_args(c: Cursor, tag: str, name: str, uid: bool, limits: Limits, utf8: bool) -> Command:
    if name in _SIMPLE:
        if name == "EXPUNGE" and uid:
            c.sp()
            return UidExpunge(tag, "UID EXPUNGE", parse_seqset(c, limits))
        return Simple(tag, name)
    if name == "LOGIN":
        c.sp()
        user = c.astring()
        c.sp()
        return Login(tag, name, user, c.astring())
    if name == "AUTHENTICATE":
        c.sp()
        mech = c.atom().upper()
        initial = None
        if c.take(b" "):
            initial = c.atom()
        return Authenticate(tag, name, mech, initial)
    if name == "ENABLE":
        caps = []
        while c.take(b" "):
            caps.append(c.atom().upper())
        if not caps:
            raise c.error("ENABLE needs a capability")
        return Enable(tag, name, tuple(caps))
    if name == "ID":
        c.sp()
        if c.take(b"NIL"):
            return Id(tag, name, None)
        fields = c.paren_list(lambda: c.nstring())
        if len(fields) % 2 or len(fields) > 60:
            raise c.error("ID takes field/value pairs")
        pairs = tuple((str(fields[i]), fields[i + 1]) for i in range(0, len(fields), 2))
        return Id(tag, name, pairs)
    if name in {"SELECT", "EXAMINE"}:
        c.sp()
        mailbox = _mailbox(c, utf8)
        condstore = False
        qresync = None
        if c.take(b" "):
            c.expect(b"(")
            while not c.take(b")"):
                word = c.atom().upper()
                if word == "CONDSTORE":
                    condstore = True
                elif word == "QRESYNC":
                    c.sp()
                    c.expect(b"(")
                    uidvalidity = c.nz_number()
                    c.sp()
                    modseq = c.number()
                    known: SeqSet | None = None
                    known_pairs: tuple[SeqSet, SeqSet] | None = None
                    if c.take(b" "):
                        if c.peek() != ord("("):
                            known = parse_seqset(c, limits)
                            c.take(b" ")
                        if c.peek() == ord("("):
                            c.pos += 1
                            seqs = parse_seqset(c, limits)
                            c.sp()
                            uids = parse_seqset(c, limits)
                            c.expect(b")")
                            known_pairs = (seqs, uids)
                    c.expect(b")")
                    qresync = (uidvalidity, modseq, known, known_pairs)
                else:
                    raise c.error(f"unknown SELECT parameter {word}")
                c.take(b" ")
        return Select(tag, name, mailbox, condstore, qresync)
    if name in {"CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT"}:
        c.sp()
        mailbox = _mailbox(c, utf8)
        if name == "CREATE" and c.take(b" "):
            # RFC 4466 create-params (USE (\Sent) of RFC 6154 CREATE-SPECIAL-USE): not offered.
            c.paren_list(lambda: c.astring())
        return MailboxCommand(tag, name, mailbox)
    if name == "GETQUOTA":
        c.sp()
        return GetQuota(tag, name, c.astring())
    if name == "RENAME":
        c.sp()
        old = _mailbox(c, utf8)
        c.sp()
        return Rename(tag, name, old, _mailbox(c, utf8))
    if name in {"LIST", "LSUB"}:
        c.sp()
        select_opts: list[str] = []
        if name == "LIST" and c.peek() == ord("("):
            select_opts = [s.upper() for s in c.paren_list(lambda: c.atom())]
            c.sp()
        reference = c.astring()
        c.sp()
        if name == "LIST" and c.peek() == ord("("):
            patterns = c.paren_list(c.list_mailbox)
        else:
            patterns = [c.list_mailbox()]
        return_opts: list[str] = []
        status_items: list[str] = []
        if name == "LIST" and c.take(b" "):
            c.expect(b"RETURN")
            c.sp()
            c.expect(b"(")
            while not c.take(b")"):
                word = c.atom().upper()
                if word == "STATUS":
                    c.sp()
                    status_items = [s.upper() for s in c.paren_list(lambda: c.atom())]
                    if not set(status_items) <= _STATUS_ITEMS:
                        raise c.error("unknown STATUS item")
                return_opts.append(word)
                c.take(b" ")
        for opt in select_opts:
            if opt not in {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}:
                raise c.error(f"unknown LIST selection option {opt}")
        for opt in return_opts:
            if opt not in {"SUBSCRIBED", "CHILDREN", "STATUS", "SPECIAL-USE", "MYRIGHTS"}:
                raise c.error(f"unknown LIST return option {opt}")
        if select_opts == ["RECURSIVEMATCH"]:
            raise c.error("RECURSIVEMATCH needs another selection option")
        for pattern in patterns:
            if "\x00" in pattern:
                raise c.error("NUL in pattern")
        return ListCmd(
            tag,
            name,
            reference,
            tuple(patterns),
            tuple(select_opts),
            tuple(return_opts),
            tuple(status_items),
        )
    if name == "STATUS":
        c.sp()
        mailbox = _mailbox(c, utf8)
        c.sp()
        wanted = [s.upper() for s in c.paren_list(lambda: c.atom())]
        if not wanted or not set(wanted) <= _STATUS_ITEMS:
            raise c.error("unknown or missing STATUS item")
        return Status(tag, name, mailbox, tuple(wanted))
    if name == "APPEND":
        c.sp()
        mailbox = _mailbox(c, utf8)
        c.sp()
        flags: list[str] = []
        when = None
        if c.peek() == ord("("):
            flags = _flag_list(c)
            c.sp()
        if c.peek() == ord('"'):
            when = parse_datetime(c)
            c.sp()
        if c.take(b"UTF8 ("):  # RFC 6855 §4
            message = c.string_bytes()
            c.expect(b")")
        else:
            if c.peek() != LITERAL_MARK:
                raise c.error("APPEND needs a literal")
            message = c.string_bytes()
        if c.peek() == ord(" "):
            raise c.error("MULTIAPPEND is not supported")
        return Append(tag, name, mailbox, tuple(flags), when, message)
    if name == "FETCH":
        c.sp()
        seqset = parse_seqset(c, limits)
        c.sp()
        atts = parse_fetch_atts(c)
        changedsince = None
        vanished = False
        if c.take(b" "):
            c.expect(b"(")
            while not c.take(b")"):
                word = c.atom().upper()
                if word == "CHANGEDSINCE":
                    c.sp()
                    changedsince = c.number()
                elif word == "VANISHED" and uid:
                    vanished = True
                else:
                    raise c.error(f"unknown FETCH modifier {word}")
                c.take(b" ")
            if vanished and changedsince is None:
                raise c.error("VANISHED needs CHANGEDSINCE")
        return Fetch(tag, name, uid, seqset, tuple(atts), changedsince, vanished)
    if name == "STORE":
        c.sp()
        seqset = parse_seqset(c, limits)
        c.sp()
        unchanged = None
        if c.take(b"("):
            c.expect(b"UNCHANGEDSINCE")
            c.sp()
            unchanged = c.number()
            c.expect(b")")
            c.sp()
        word = c.atom(_ATOM_SPECIALS).upper()
        mode = ""
        if word[:1] in {"+", "-"}:
            mode, word = word[0], word[1:]
        silent = word.endswith(".SILENT")
        if word.removesuffix(".SILENT") != "FLAGS":
            raise c.error("STORE needs FLAGS, +FLAGS or -FLAGS")
        c.sp()
        if c.peek() == ord("("):
            flags = _flag_list(c)
        else:
            flags = [_flag(c)]
            while c.take(b" "):
                flags.append(_flag(c))
        return Store(tag, name, uid, seqset, mode, silent, tuple(flags), unchanged)
    if name in {"COPY", "MOVE"}:
        c.sp()
        seqset = parse_seqset(c, limits)
        c.sp()
        return CopyMove(tag, name, uid, seqset, _mailbox(c, utf8))
    if name == "SEARCH":
        c.sp()
        search_opts: list[str] | None = None
        if c.take(b"RETURN "):
            search_opts = [s.upper() for s in c.paren_list(lambda: c.atom())]
            if not set(search_opts) <= {"MIN", "MAX", "ALL", "COUNT", "SAVE"}:
                raise c.error("unknown SEARCH RETURN option")
            c.sp()
        charset = ""
        if c.take(b"CHARSET "):
            charset = c.astring().upper()
            c.sp()
        key = parse_search_key(c, limits)
        return Search(
            tag, name, uid, key, tuple(search_opts) if search_opts is not None else None, charset
        )
    if name == "SORT":
        c.sp()
        criteria = [s.upper() for s in c.paren_list(lambda: c.atom())]
        clean = [s for s in criteria if s != "REVERSE"]
        if not clean or not set(clean) <= SORT_KEYS or criteria[-1] == "REVERSE":
            raise c.error("invalid sort criteria")
        c.sp()
        charset = c.astring().upper()
        c.sp()
        key = parse_search_key(c, limits)
        return Search(tag, name, uid, key, None, charset, tuple(criteria))
    if name == "THREAD":
        c.sp()
        algorithm = c.atom().upper()
        if algorithm not in {"REFERENCES", "ORDEREDSUBJECT"}:
            raise c.error("unknown THREAD algorithm")
        c.sp()
        charset = c.astring().upper()
        c.sp()
        key = parse_search_key(c, limits)
        return Search(tag, name, uid, key, None, charset, (), algorithm)
    if name == "COMPRESS":
        c.sp()
        return Compress(tag, name, c.atom().upper())
    raise c.error(f"unknown command {name}")


# --- responses --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Atom:
    """Sent as it is (flags, NIL-free keywords, capability names, section specs)."""

    text: str


@dataclass(frozen=True, slots=True)
class Literal:
    """Bytes always sent as a literal (message bodies)."""

    data: bytes


Value = str | int | None | bytes | Atom | Literal | list["Value"] | tuple["Value", ...]
_QUOTABLE = re.compile(rb"^[\x01-\x09\x0b\x0c\x0e-\x7f]*$")


def render_string(text: str | bytes, *, utf8: bool = False) -> bytes:
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if len(raw) < 1024 and _QUOTABLE.match(raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    if utf8 and len(raw) < 1024 and b"\r" not in raw and b"\n" not in raw and b"\x00" not in raw:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def render(value: Value, *, utf8: bool = False) -> bytes:
    """JSON-like nested values to IMAP: str → string, int → number, None → NIL, list →
    parenthesised list, bytes/Literal → literal, Atom → as it is."""
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("booleans have no IMAP form")
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        return render_string(value, utf8=utf8)
    if isinstance(value, Atom):
        return value.text.encode("utf-8")
    if isinstance(value, Literal):
        return b"{%d}\r\n" % len(value.data) + value.data
    if isinstance(value, bytes):
        return b"{%d}\r\n" % len(value) + value
    if isinstance(value, (list, tuple)):
        return b"(" + b" ".join(render(v, utf8=utf8) for v in value) + b")"
    raise TypeError(f"cannot render {type(value).__name__}")


def quote(text: str) -> str:
    """A short quoted string for response text built as str (mailbox names, ESEARCH tags)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
