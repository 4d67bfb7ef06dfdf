"""mbox files (/var/mail/<user>, ~/mail/*, mutt, Thunderbird, Google Takeout) → messages,
streamed: one message in memory at a time, lines read in bounded chunks. Pure; no Django.

- A message starts at a From_ line ("From sender Mon Jan  1 12:00:00 2024") at the start of
  the file or after a blank line; Content-Length (mboxcl) is ignored, as Dovecot and mutt do.
- ">From " quoting is undone: mboxrd removes one '>' from any ">>…From " line, mboxo only
  turns ">From " back into "From " (its quoting is lossy; that is the best that can be done).
- LF or CRLF files; messages come out with CRLF line ends (the store's form), without the
  separating blank line.
- The mbox metadata headers Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase and
  Content-Length are removed (Dovecot hides them too) and turned into flags, keywords and
  UIDs, with Dovecot's letters: Status R = \\Seen (O = not \\Recent, nothing to keep),
  X-Status A = \\Answered, F = \\Flagged, T = \\Draft, D = \\Deleted.
- UW-IMAP's "FOLDER INTERNAL DATA" pseudo message (X-IMAP header) is not a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import BinaryIO

from mailcore.mime.headers import find_header_block

CHUNK = 64 * 1024
METADATA_HEADERS = {
    b"status",
    b"x-status",
    b"x-keywords",
    b"x-uid",
    b"x-imap",
    b"x-imapbase",
    b"content-length",
}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_FROM_DATE = re.compile(
    rb"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\s+(?P<day>\d{1,2})\s+"
    rb"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s+"
    rb"(?:(?P<tz1>[+-]\d{4}|[A-Z]{1,5})\s+)?(?P<year>\d{4})(?:\s+(?P<tz2>[+-]\d{4}))?"
)
_LENIENT_DATE = re.compile(rb"\d{1,2}:\d{2}.*\b\d{4}\b|\b\d{4}\b.*\d{1,2}:\d{2}")
_MBOXRD = re.compile(rb"^>(>*From )")
_MBOXO = re.compile(rb"^>(From )")
_STATUS_FLAGS = {"R": "seen"}
_XSTATUS_FLAGS = {"A": "answered", "F": "flagged", "T": "draft", "D": "deleted"}
_KEYWORD_OK = re.compile(r"^[^\s(){%*\"\\\]]{1,64}$")


@dataclass(frozen=True, slots=True)
class MboxMessage:
    line: int  # line number of its From_ line
    data: bytes
    sender: str  # the From_ line's envelope sender
    received: datetime | None  # the From_ line's date (UTC when it names no zone)
    flags: frozenset[str]  # seen, answered, flagged, draft, deleted
    keywords: tuple[str, ...]
    uid: int | None  # X-UID
    imapbase: tuple[int, int] | None  # (UIDVALIDITY, UIDNEXT) from X-IMAPbase / X-IMAP
    offset: int  # bytes of the file consumed so far


@dataclass(frozen=True, slots=True)
class MboxProblem:
    line: int
    reason: str
    offset: int
    fatal: bool = False  # the file cannot be read as mbox at all
    imapbase: tuple[int, int] | None = None


def is_from_line(line: bytes) -> bool:
    return line.startswith(b"From ") and bool(_LENIENT_DATE.search(line[5:200]))


def from_line_date(line: bytes) -> datetime | None:
    m = _FROM_DATE.search(line[5:300])
    if not m:
        return None
    tz = m.group("tz1") or m.group("tz2") or b""
    zone = UTC
    if tz[:1] in (b"+", b"-"):
        minutes = int(tz[1:3]) * 60 + int(tz[3:5])
        zone = timezone(timedelta(minutes=-minutes if tz[:1] == b"-" else minutes))
    try:
        return datetime(
            int(m.group("year")),
            _MONTHS.index(m.group("mon").decode()) + 1,
            int(m.group("day")),
            int(m.group("h")),
            int(m.group("m")),
            int(m.group("s") or 0),
            tzinfo=zone,
        ).astimezone(UTC)
    except ValueError:
        return None


def iter_mbox(
    stream: BinaryIO, *, quoting: str = "mboxrd", max_message_bytes: int = 100 * 1024 * 1024
) -> Iterator[MboxMessage | MboxProblem]:
    """Yield each message of `stream` (or a problem: too large, pseudo message, not mbox)."""
    unquote = _MBOXRD if quoting == "mboxrd" else _MBOXO
    offset = 0
    line_no = 0
    at_line_start = True
    prev_blank = True
    started = False
    buf = bytearray()
    size = 0
    start_line = 0
    from_line = b""
    while True:
        chunk = stream.readline(CHUNK)
        if not chunk:
            break
        offset += len(chunk)
        if at_line_start:
            line_no += 1
        starts_line = at_line_start
        at_line_start = chunk.endswith(b"\n")
        if starts_line and prev_blank and chunk.startswith(b"From ") and is_from_line(chunk):
            if started:
                yield _finish(
                    buf, size, start_line, from_line, offset - len(chunk), max_message_bytes
                )
            started, buf, size = True, bytearray(), 0
            start_line, from_line = line_no, chunk.rstrip(b"\r\n")
            prev_blank = False
            continue
        blank = starts_line and chunk in (b"\n", b"\r\n")
        if not started:
            if blank:
                continue
            yield MboxProblem(
                line_no, "not an mbox file: the first line is not a 'From ' line", offset, True
            )
            return
        if starts_line:
            chunk = unquote.sub(rb"\1", chunk)
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2] + b"\r\n"
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1] + b"\r\n"
        size += len(chunk)
        if size <= max_message_bytes:
            buf += chunk
        prev_blank = blank
    if started:
        yield _finish(buf, size, start_line, from_line, offset, max_message_bytes)


def _finish(
    buf: bytearray, size: int, line: int, from_line: bytes, offset: int, limit: int
) -> MboxMessage | MboxProblem:
    if size > limit:
        return MboxProblem(
            line, f"message of {size} bytes is larger than the {limit}-byte limit", offset
        )
    if buf.endswith(b"\r\n\r\n"):
        del buf[-2:]  # the blank line that separates messages is mbox's, not the message's
    elif buf and not buf.endswith(b"\r\n"):
        buf += b"\r\n"
    data, meta = _strip_metadata(bytes(buf))
    imapbase = _imapbase(meta.get(b"x-imapbase") or meta.get(b"x-imap"))
    if b"x-imap" in meta:
        return MboxProblem(
            line,
            "folder internal data (UW-IMAP pseudo message), not a message",
            offset,
            imapbase=imapbase,
        )
    flags = {_STATUS_FLAGS[c] for c in meta.get(b"status", "") if c in _STATUS_FLAGS}
    flags |= {_XSTATUS_FLAGS[c] for c in meta.get(b"x-status", "") if c in _XSTATUS_FLAGS}
    keywords = tuple(
        dict.fromkeys(
            k for k in re.split(r"[\s,]+", meta.get(b"x-keywords", "")) if _KEYWORD_OK.match(k)
        )
    )
    uid_text = meta.get(b"x-uid", "").strip()
    sender = from_line[5:].split(b" ", 1)[0].decode("utf-8", "replace") if from_line else ""
    return MboxMessage(
        line=line,
        data=data,
        sender=sender,
        received=from_line_date(from_line),
        flags=frozenset(flags),
        keywords=keywords,
        uid=int(uid_text) if uid_text.isdigit() and 0 < int(uid_text) < 2**32 else None,
        imapbase=imapbase,
        offset=offset,
    )


def _imapbase(value: str | None) -> tuple[int, int] | None:
    parts = (value or "").split()
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        uidvalidity, uidnext = int(parts[0]), int(parts[1])
        if 0 < uidvalidity < 2**32 and 0 < uidnext < 2**32:
            return uidvalidity, uidnext
    return None


def _strip_metadata(data: bytes) -> tuple[bytes, dict[bytes, str]]:
    """Remove the mbox metadata fields from the header (folded lines included)."""
    # Where every reader ends the header (mailcore.mime.headers); a block that runs past the
    # cap is left whole rather than edited half-seen.
    block = find_header_block(data)
    if block.truncated:
        return data, {}
    header, body = data[: block.end], data[block.end :]
    kept: list[bytes] = []
    meta: dict[bytes, str] = {}
    dropping = b""
    lines = header.split(b"\r\n")
    if header.endswith(b"\r\n"):
        lines.pop()
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if dropping:
                meta[dropping] += " " + line.strip().decode("latin-1")
            else:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        if b":" in line and name in METADATA_HEADERS:
            dropping = name
            meta[name] = line.split(b":", 1)[1].strip().decode("latin-1")
        else:
            dropping = b""
            kept.append(line)
    if not meta:
        return data, meta
    return b"".join(x + b"\r\n" for x in kept) + body, meta
