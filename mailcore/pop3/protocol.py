"""POP3 wire format (RFC 1939, RFC 2449, RFC 5034): the command-line reader, the command
parser and the dot-stuffing of multi-line responses. Pure: no Django, no store, no asyncio.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_COMMAND_LINE = 255  # RFC 2449 §4: octets of a command line, CRLF included
# AUTH responses are exempt from the 255-octet limit (RFC 5034 §4); a SASL PLAIN response of
# a 320-octet address and a 1,024-octet password fits in this.
MAX_AUTH_LINE = 2048
MAX_ARG = 40  # RFC 2449 §4: each argument up to 40 octets (AUTH responses excepted)
MAX_MSG_NUMBER = 10**9
LINE_TOO_LONG = "Command line too long"


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line over the reader's cap: it was discarded up to its end."""


class LineReader:
    """Splits input into command lines (CRLF or bare LF ended), at most `max_line` octets
    each: a longer line is skipped up to its end and reported as one TooLong."""

    def __init__(self, max_line: int = MAX_AUTH_LINE) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> None:
        self._buf += data

    def buffered(self) -> int:
        return len(self._buf)

    def discard_buffer(self) -> None:
        """STLS: whatever the client pipelined after the command is dropped (CVE-2011-0411)."""
        self._buf.clear()
        self._skipping = False

    def next_line(self) -> bytes | TooLong | None:
        while True:
            nl = self._buf.find(b"\n", 0, self.max_line + 1)
            if nl < 0:
                if len(self._buf) <= self.max_line:
                    return None
                # Too long: drop it up to its end (what follows is the next command).
                end = self._buf.find(b"\n", self.max_line + 1)
                del self._buf[: len(self._buf) if end < 0 else end + 1]
                was_skipping, self._skipping = self._skipping, end < 0
                if not was_skipping:
                    return TooLong()
                continue
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._skipping:
                self._skipping = False
                continue
            return line[:-1] if line.endswith(b"\r") else line


class Pop3SyntaxError(Exception):
    """A malformed command: answered -ERR, the session goes on."""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...] = ()


# name → (min args, max args); AUTH, USER and PASS take their argument whole.
_ARITY: dict[str, tuple[int, int]] = {
    "CAPA": (0, 0),
    "QUIT": (0, 0),
    "STLS": (0, 0),
    "UTF8": (0, 0),
    "NOOP": (0, 0),
    "RSET": (0, 0),
    "STAT": (0, 0),
    "LIST": (0, 1),
    "UIDL": (0, 1),
    "RETR": (1, 1),
    "DELE": (1, 1),
    "TOP": (2, 2),
    "AUTH": (0, 2),
}
_WHOLE = {"USER", "PASS"}  # RFC 1939 §7: a password may contain spaces


def parse_command(line: bytes) -> Command:
    """Parse one command line (without its CRLF)."""
    if line[:5].upper() != b"AUTH " and len(line) + 2 > MAX_COMMAND_LINE:
        raise Pop3SyntaxError(LINE_TOO_LONG)
    if b"\x00" in line:
        raise Pop3SyntaxError("NUL in command")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Pop3SyntaxError("Command is not UTF-8") from None
    keyword, _, rest = text.partition(" ")
    name = keyword.upper()
    if not name or not name.isascii() or not name.isalnum() or len(name) > 4:
        raise Pop3SyntaxError("Unknown command")
    if name in _WHOLE:
        if not rest:
            raise Pop3SyntaxError(f"{name} needs an argument")
        return Command(name, (rest,))
    if name not in _ARITY:
        raise Pop3SyntaxError("Unknown command")
    args = tuple(rest.split(" ")) if rest else ()
    if any(not a for a in args):
        raise Pop3SyntaxError("Empty argument")
    low, high = _ARITY[name]
    if not low <= len(args) <= high:
        raise Pop3SyntaxError(f"Wrong number of arguments for {name}")
    if name != "AUTH" and any(len(a) > MAX_ARG for a in args):
        raise Pop3SyntaxError("Argument too long")
    return Command(name, args)


def message_number(arg: str) -> int:
    """A message number (1-based, RFC 1939 §3)."""
    if not arg.isascii() or not arg.isdigit() or len(arg) > 10:
        raise Pop3SyntaxError("Invalid message number")
    n = int(arg)
    if not 1 <= n <= MAX_MSG_NUMBER:
        raise Pop3SyntaxError("Invalid message number")
    return n


def line_count(arg: str) -> int:
    """TOP's count of body lines: a non-negative number."""
    if not arg.isascii() or not arg.isdigit() or len(arg) > 10:
        raise Pop3SyntaxError("Invalid line count")
    return int(arg)


def uidl_of(uidvalidity: int, uid: int) -> str:
    """Dovecot's default pop3_uidl_format %08Xu%08Xv: the INBOX UID, then its UIDVALIDITY."""
    return f"{uid:08X}{uidvalidity:08X}"


def uidl_of_key(key: str) -> str:
    """A UIDL from a message's Maildir base name (unique in the account), for a message whose
    UID form is taken: 'K' and 32 hex digits of its SHA-256, never of the UID form's shape."""
    return "K" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32].upper()


class DotStuffer:
    """Streams the CRLF form of a message as a multi-line response body (RFC 1939 §3): a '.'
    at the start of a line is doubled. With `body_lines` (TOP) it stops after the header,
    the blank line and that many body lines. `finish()` gives the terminator (a CRLF first
    when the message does not end in one)."""

    def __init__(self, body_lines: int | None = None) -> None:
        self.bol = True  # the next byte starts a line
        self.in_header = True
        self.line_len = 0  # octets of the current line so far
        self.left = body_lines
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        if self.left is None:
            # A whole message (RETR): every line start is after a LF, so one C-speed replace
            # stuffs the chunk, whatever its size, instead of a Python step per line.
            if not chunk:
                return b""
            out = chunk.replace(b"\n.", b"\n..")
            if self.bol and chunk[:1] == b".":
                out = b"." + out
            self.bol = chunk[-1:] == b"\n"
            return out
        return self._feed_lines(chunk)

    def _feed_lines(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        pos = 0
        end = len(chunk)
        if self.left == 0 and not self.in_header:
            self.done = True
        while pos < end and not self.done:
            nl = chunk.find(b"\n", pos)
            stop = end if nl < 0 else nl + 1
            if self.bol and chunk[pos : pos + 1] == b".":
                out.append(b".")
            out.append(chunk[pos:stop])
            if nl < 0:
                self.line_len += stop - pos
                self.bol = False
            else:
                length = self.line_len + stop - pos
                self.line_len = 0
                self.bol = True
                if self.in_header:
                    if length <= 2:  # the blank line ending the header
                        self.in_header = False
                        if self.left == 0:
                            self.done = True
                elif self.left is not None:
                    self.left -= 1
                    if self.left <= 0:
                        self.done = True
            pos = stop
        return b"".join(out)

    def finish(self) -> bytes:
        return b".\r\n" if self.bol else b"\r\n.\r\n"
