"""The top-level header block of a raw RFC 5322 message, without a full parse: where it ends,
its lines, and its fields with folding undone.

For code that needs the header but not the MIME tree (the queue's Message-ID, DKIM
oversigning, the header copy in a DSN, header surgery at submission). The rule is the one
mailcore.mime.parse applies, so every reader agrees on where the header ends (security.md M7):

* CRLF, bare LF and bare CR all end a line (M14);
* the block ends at the first empty line, or before the first line that is neither a field
  (``name:``; WSP before the colon and any name bytes but whitespace and ':' allowed, as in
  parse.py) nor a folded continuation (starts with SP or HTAB) - such a line starts the body;
* a continuation with no field before it (whitespace at the very top) stays in the block but
  belongs to no field (M6); an mbox ``From `` line may come first;
* no empty line and nothing but header lines: the whole message is header, the body is empty;
* only MAX_HEADER_BYTES are scanned (M4). A block that has not ended by then is `truncated`.

Pure functions over bytes: no I/O, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# The largest header block any caller reads: the full parser's cap (ParseLimits.max_header_bytes),
# so both agree on where a header ends. Submission refuses a larger block rather than edit
# (strip Bcc from) a block it has not seen the end of; Postfix's header_size_limit is 100 KB,
# and a long thread's References alone can pass 64 KB.
MAX_HEADER_BYTES: Final = 256 * 1024

_CR: Final = 13
_LF: Final = 10
_EOL: Final = rb"(?:\r\n|\r|\n|\Z)"  # \Z: the end of the data or of the scanned part
# Consecutive header lines from the start: an optional mbox "From " line, then fields and
# continuations. Possessive quantifiers: linear, no backtracking on hostile input.
_HEADER_LINES: Final = re.compile(
    rb"(?:From [^\r\n]*+" + _EOL + rb")?+"
    rb"(?:(?:[^\s:]++[ \t]*+:|[ \t])[^\r\n]*+" + _EOL + rb")*+"
)
_FIELD: Final = re.compile(rb"([^\s:]++)[ \t]*+:")
_ANY_EOL: Final = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """Offsets into the message: the header block is ``data[:end]`` (its last line end
    included), the body ``data[body_start:]``. ``body_start`` is past the empty line; it equals
    ``end`` when no empty line separates them (a line that is not a header starts the body, or
    there is no body). When ``truncated``, the block did not end within the scan limit:
    ``data[:end]`` is the first `limit` bytes (the last line possibly cut) and the rest of the
    message is of unknown kind, so ``body_start`` is ``end`` and must not be trusted."""

    end: int
    body_start: int
    truncated: bool = False


def find_header_block(data: bytes, *, limit: int = MAX_HEADER_BYTES) -> HeaderBlock:
    """Where the header block of `data` ends, scanning at most `limit` bytes (plus the empty
    line's own line end when it starts right at the limit)."""
    size = len(data)
    cap = min(size, max(0, limit))
    match = _HEADER_LINES.match(data, 0, cap)
    pos = match.end() if match else 0
    if pos == size:  # header lines only: no body
        return HeaderBlock(pos, pos)
    if pos == cap and pos > 0 and not _line_ended(data, pos):  # the cap cut the last line
        return HeaderBlock(cap, cap, truncated=True)
    first = data[pos]
    if first == _LF:  # the empty line
        return HeaderBlock(pos, pos + 1)
    if first == _CR:
        return HeaderBlock(pos, pos + (2 if data[pos + 1 : pos + 2] == b"\n" else 1))
    if cap < size and _ANY_EOL.search(data, pos, cap) is None:
        # This line runs past the cap: not seen whole, so no evidence that the header ended.
        return HeaderBlock(cap, cap, truncated=True)
    return HeaderBlock(pos, pos)  # neither field nor continuation: the body starts here


def _line_ended(data: bytes, pos: int) -> bool:
    """Whether data[:pos] ends with a whole line end (not the CR of a CRLF cut at pos)."""
    last = data[pos - 1]
    return last == _LF or (last == _CR and data[pos : pos + 1] != b"\n")


def header_lines(head: bytes) -> list[bytes]:
    """The lines of a header block (``data[:block.end]``), each without its line end."""
    lines = _ANY_EOL.split(head)
    if lines[-1] == b"":  # after the last line end (or an empty block)
        lines.pop()
    return lines


def header_fields(data: bytes, *, limit: int = MAX_HEADER_BYTES) -> Iterator[tuple[bytes, bytes]]:
    """(name, value) of each field in the header block of `data`, in order. The name is as
    sent; the value is everything after the colon with the line ends of its folds removed
    (RFC 5322 §2.2.3 unfolding: the WSP that starts a continuation is kept)."""
    block = find_header_block(data, limit=limit)
    name: bytes | None = None
    parts: list[bytes] = []
    for line in header_lines(data[: block.end]):
        if line[:1] in (b" ", b"\t"):
            if name is not None:  # else whitespace at the top: belongs to no field
                parts.append(line)
            continue
        if name is not None:
            yield name, b"".join(parts)
        field = _FIELD.match(line)
        if field is None:  # the mbox "From " line (or a line cut at the cap)
            name = None
            continue
        name, parts = field.group(1), [line[field.end() :]]
    if name is not None:
        yield name, b"".join(parts)


def get_header(data: bytes, name: str, *, limit: int = MAX_HEADER_BYTES) -> bytes | None:
    """The unfolded value of the first field called `name` (any case) in the header block of
    `data`, or None."""
    wanted = name.lower().encode("ascii")
    for key, value in header_fields(data, limit=limit):
        if key.lower() == wanted:
            return value
    return None


# --- final delivery (RFC 5321 §4.4; Postfix local(8), Dovecot LDA) ---------------------------

# A Return-Path field with its continuation lines. Only the final delivery writes one: any
# that came with the message is dropped (Postfix's message_drop_headers does the same).
_RETURN_PATH: Final = re.compile(
    rb"^Return-Path[ \t]*:[^\r\n]*+(?:\r\n|\r|\n)?(?:[ \t][^\r\n]*+(?:\r\n|\r|\n)?)*+",
    re.IGNORECASE | re.MULTILINE,
)


def delivered_to(data: bytes) -> set[str]:
    """The addresses of the Delivered-To fields of the header (lower-cased, without <>): the
    mail has already been delivered to, or forwarded by, each of them."""
    out: set[str] = set()
    for name, value in header_fields(data):
        if name.lower() == b"delivered-to":
            text = value.decode("utf-8", "replace").strip().strip("<>").strip()
            if text:
                out.add(text.lower())
    return out


def with_delivered_to(data: bytes, address: str) -> bytes:
    """`data` with ``Delivered-To: address`` on top: what an alias adds before it forwards a
    copy elsewhere, so that the copy coming back is seen as a loop (Postfix local(8))."""
    return b"Delivered-To: " + address.encode("utf-8") + b"\r\n" + data


def without_return_path(data: bytes) -> bytes:
    """`data` without the Return-Path fields that came with it (only the final delivery
    writes one). A header block that does not end within the cap is left as it is."""
    block = find_header_block(data)
    if block.truncated:
        return data
    return _RETURN_PATH.sub(b"", data[: block.end]) + data[block.end :]


def final_delivery_top(*, return_path: str, recipient: str) -> bytes:
    """The two lines final delivery puts on top of a mailbox's copy."""
    return (
        b"Return-Path: <"
        + return_path.encode("utf-8")
        + b">\r\n"
        + with_delivered_to(b"", recipient)
    )


def for_final_delivery(data: bytes, *, return_path: str, recipient: str) -> bytes:
    """The copy a mailbox keeps: ``Return-Path: <envelope sender>`` and ``Delivered-To:`` on
    top of `data` without its own Return-Path fields. Delivery of one message to many
    mailboxes strips once (without_return_path) and puts each mailbox's top on that."""
    top = final_delivery_top(return_path=return_path, recipient=recipient)
    return top + without_return_path(data)
