"""MIME part boundaries of a message's CRLF bytes for IMAP BODY[section], BINARY[part] and
HEADER.FIELDS. Pure functions over bytes (no I/O, no Django). ENVELOPE and BODYSTRUCTURE come
from mailcore.mime.imapmeta (computed at delivery), not from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32

from mailcore.imap.protocol import Section

MAX_DEPTH = 32
MAX_PARTS = 1000
_BLANK = re.compile(rb"\r\n\r\n")


def to_crlf(data: bytes) -> bytes:
    """Bare LF (and lone CR) to CRLF: the form every size and offset in IMAP refers to."""
    if b"\n" not in data.replace(b"\r\n", b""):
        return data
    return re.sub(rb"\r?\n", b"\r\n", data)


@dataclass(slots=True)
class Part:
    start: int  # header start
    body_start: int
    end: int
    maintype: str = "text"
    subtype: str = "plain"
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: EmailMessage | None = None
    children: list[Part] = field(default_factory=list)
    message: Part | None = None  # the encapsulated message of message/rfc822


def header_end(data: bytes, start: int, end: int) -> int:
    """Offset of the body: after the blank line ending the header block (or `end`)."""
    if data[start : start + 2] == b"\r\n":
        return start + 2
    m = _BLANK.search(data, start, end)
    return end if m is None else m.end()


def _parse_headers(raw: bytes) -> EmailMessage:
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def parse(
    data: bytes,
    start: int = 0,
    end: int | None = None,
    *,
    default: str = "text/plain",
    depth: int = 0,
    count: list[int] | None = None,
) -> Part:
    end = len(data) if end is None else end
    count = count if count is not None else [0]
    count[0] += 1
    body_start = header_end(data, start, end)
    headers = _parse_headers(data[start:body_start])
    if headers.get("content-type") is None:
        maintype, subtype = default.split("/")
    else:
        ctype = headers.get_content_type()
        maintype, subtype = ctype.split("/", 1) if "/" in ctype else ("text", "plain")
    params = [(k, v) for k, v in (headers.get_params() or [])[1:] if isinstance(v, str)]
    part = Part(start, body_start, end, maintype, subtype, params, headers)
    if depth >= MAX_DEPTH or count[0] >= MAX_PARTS:
        return part
    if maintype == "multipart":
        boundary = headers.get_param("boundary")
        if isinstance(boundary, str) and boundary:
            child_default = "message/rfc822" if subtype == "digest" else "text/plain"
            for s, e in _split(data, body_start, end, boundary.encode("utf-8", "replace")):
                part.children.append(
                    parse(data, s, e, default=child_default, depth=depth + 1, count=count)
                )
    elif maintype == "message" and subtype in {"rfc822", "global"}:
        part.message = parse(data, body_start, end, depth=depth + 1, count=count)
    return part


def _split(data: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    delim = re.compile(rb"(?:^|\r\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|$)", re.M)
    spans: list[tuple[int, int]] = []
    pos = start
    begin: int | None = None
    while True:
        m = delim.search(data, pos, end)
        if m is None:
            if begin is not None:
                spans.append((begin, end))
            return spans
        if begin is not None:
            spans.append((begin, m.start()))
        if m.group(1):
            return spans
        begin = m.end()
        pos = m.end() if m.end() > pos else pos + 1
        if len(spans) >= MAX_PARTS:
            return spans


def find_part(root: Part, numbers: tuple[int, ...]) -> Part | None:
    """RFC 9051 §6.4.5 part numbering: a non-multipart message has part 1 = its body; the
    parts of message/rfc822 are numbered inside the encapsulated message."""
    part = root
    for n in numbers:
        if part.message is not None:
            part = part.message
        if part.maintype == "multipart":
            if not 1 <= n <= len(part.children):
                return None
            part = part.children[n - 1]
        elif n != 1:
            return None
    return part


def header_fields(block: bytes, names: tuple[str, ...], *, exclude: bool) -> bytes:
    """The header lines of `block` named (or, with exclude, not named) in `names`, with the
    blank line that ends a header (RFC 9051 §6.4.5)."""
    wanted = {n.lower() for n in names}
    out: list[bytes] = []
    keep = False
    for line in block.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().decode("latin-1").lower()
        keep = (name in wanted) != exclude and b":" in line
        if keep:
            out.append(line)
    return b"".join(x + b"\r\n" for x in out) + b"\r\n"


def section_bytes(data: bytes, root: Part, section: Section) -> bytes | None:
    """The bytes of BODY[section]; None for a part that does not exist (sent as empty)."""
    part = find_part(root, section.part) if section.part else root
    if part is None:
        return None
    if section.text == "MIME":
        return data[part.start : part.body_start]
    if section.part and section.text in {"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"}:
        if part.message is None:
            return None
        part = part.message
    if section.text == "":
        if section.part:
            return data[part.body_start : part.end]
        return data[part.start : part.end]
    if section.text == "TEXT":
        return data[part.body_start : part.end]
    block = data[part.start : part.body_start]
    if section.text == "HEADER":
        return block
    return header_fields(block, section.fields, exclude=section.text == "HEADER.FIELDS.NOT")


def decode_part(data: bytes, part: Part) -> bytes | None:
    """BINARY[part] content: the transfer encoding undone; None if it cannot be decoded
    (answered with UNKNOWN-CTE, RFC 3516 §4.3)."""
    import base64
    import binascii
    import quopri

    headers = part.headers if part.headers is not None else EmailMessage()
    encoding = (headers.get("content-transfer-encoding") or "7bit").strip().lower()
    body = data[part.body_start : part.end]
    if encoding in {"7bit", "8bit", "binary", ""}:
        return body
    if encoding == "base64":
        try:
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body) + b"==")
        except (binascii.Error, ValueError):
            return None
    if encoding == "quoted-printable":
        return quopri.decodestring(body)
    return None
