"""Bounded, never-raising MIME parser: raw RFC 5322 bytes -> ParsedMessage / part bytes.

Pure (only the bytes passed in: no Django, no I/O, no logging). It does not sanitise HTML
(sanitize.py does) and never rewrites the stored raw message.
"""

# Why not email.parser.BytesParser for the structure? (security.md M1-M7)
# * FeedParser parses nested multiparts with recursive generators: ~1,000 levels of
#   nesting raise RecursionError (measured on 3.11.7 with 5,000 levels: RecursionError
#   after 0.27 s). Dovecot CVE-2020-12100 is the same bug class.
# * policy.default's header parser (_header_value_parser) has known quadratic and
#   infinite-loop cases (bpo-37461, gh-136063), and compat32's _parseparam re-slices
#   the header on every ';' (quadratic in the number of parameters).
# * It cannot stop at a part/depth/header budget before building the whole tree.
# So the structure is found here with bytes.find()/compiled regexes over spans of the
# original buffer (an explicit stack, no recursion, every loop advances a cursor), and
# the stdlib is used only for leaf jobs: binascii (base64/QP), email.utils date parsing
# and the codec registry.

from __future__ import annotations

import binascii
import datetime as dt
import html as html_lib
import re
import unicodedata
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from . import charsets

# --------------------------------------------------------------------------- public types


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_bytes: int = 50 * 1024 * 1024  # above this: headers only are parsed
    max_depth: int = 50  # MIME nesting; deeper subtrees become one opaque part
    max_parts: int = 1000  # entities (containers included) beyond are ignored
    max_header_bytes: int = 256 * 1024  # header block size considered, per entity
    max_headers: int = 1000  # header fields kept, per entity
    max_text_chars: int = 2_000_000  # decoded text/html kept at most
    max_addresses: int = 1000  # addresses kept per address field (security.md M3)


DEFAULT_LIMITS: Final = ParseLimits()


@dataclass(frozen=True, slots=True)
class Address:
    name: str  # decoded display name ('' if none)
    addr: str  # addr-spec exactly as given (encoded-words NOT decoded); '' if unusable


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int  # position among ALL leaf parts, depth-first, document order
    filename: str  # decoded, basename only, controls/bidi removed, <= 255 chars, never ''
    content_type: str  # lower-case "type/subtype"
    size: int  # decoded size in bytes
    content_id: str  # without <>, '' if none
    inline: bool


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str
    subject: str
    from_: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: dt.datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    text: str
    html: str
    snippet: str
    attachments: tuple[Attachment, ...]
    has_attachments: bool
    defects: tuple[str, ...]
    # Top-level header fields in order: (name as sent, unfolded value; RFC 2047 words
    # are NOT decoded, 8-bit bytes decoded UTF-8-else-CP949). Capped by max_headers.
    header_items: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # The entity tree this parse found (None past max_bytes, or after an internal error):
    # imapmeta.compute(…, parsed=…) reads it instead of parsing the bytes a second time.
    # Not part of the value.
    tree: ParseTree | None = field(default=None, repr=False, compare=False)

    def headers(self) -> list[tuple[str, str]]:
        return list(self.header_items)


@dataclass(slots=True, eq=False)
class ParseTree:
    """The entity tree parse_message found in `raw` under `limits` (the same tree imapmeta's
    own walk builds from the same bytes). `imap`: imapmeta's memo of what it computed from
    this tree (one parse may serve several copies of a message)."""

    raw: bytes
    root: _Entity
    limits: ParseLimits
    imap: object = None


# --------------------------------------------------------------------------- constants

_MAX_PARAMS: Final = 100  # Content-Type/-Disposition parameters considered (M5)
_MAX_2231_SECTIONS: Final = 100  # RFC 2231 continuations considered per parameter
_MAX_BOUNDARY: Final = 200  # RFC 2046 §5.1.1 says 70; be lenient but bounded (M7)
_MAX_REFERENCES: Final = 1000
_MAX_ID: Final = 998  # RFC 5322 §2.1.1 line limit, used as a sane cap for ids
# Subjects and display names are kept whole up to this (the header block is capped anyway):
# the index cuts its copies to 998/500 with a mark, and the message detail shows all of it.
_MAX_SUBJECT: Final = 16 * 1024
_MAX_ADDR: Final = 998
_MAX_FILENAME: Final = 255
_SNIPPET_CHARS: Final = 200
_META_SNIFF_BYTES: Final = 4096

_LINE_RE: Final = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")
# RFC 5322 §2.2: field-name = printable US-ASCII except ':'; like the stdlib we allow
# WSP before the colon. Unlike the stdlib, a name with other bytes (NUL, 8-bit) is kept
# as a flagged field instead of silently starting the body there, which would turn the
# remaining headers into body text (security.md M6). Such a name never equals a real
# one ('From\x00' is not 'From'). A line that is neither a field nor a continuation ends
# the header block (stdlib: MissingHeaderBodySeparatorDefect) - one rule everywhere (M7).
_FIELD_RE: Final = re.compile(rb"([^\s:]+)[ \t]*:")
_GOOD_NAME_RE: Final = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
_BLANK_LINE_RE: Final = re.compile(rb"\n\r?\n|\r\r")
_TYPE_RE: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+/[!#$%&'*+\-.^_`|~0-9a-z]+")
_COMMENT_RE: Final = re.compile(r"\([^()]*\)")
# One parameter after a ';'. The quoted-string branch always matches (closing quote, or
# end of input, optionally after a dangling backslash), so there is no backtracking
# into the [^;]* branch that could rescan a long value (bpo-37461-style blowups).
_PARAM_RE: Final = re.compile(
    r'\s*([^\s=;"]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)(?:"|\\?\Z)|([^;]*)))?', re.S
)
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.S)
_2231_NAME_RE: Final = re.compile(r"([^*]+)\*(?:(\d{1,6})(\*)?)?")
# RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="; the
# charset may carry an RFC 2231 §5 "*lang" suffix.
_EW_RE: Final = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?\s]*)\?=")
_B64_JUNK: Final = bytes(
    c for c in range(256) if not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/"))
)
_ADDR_TOKEN_RE: Final = re.compile(
    r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[()<>,:;]|\\.|[^"()<>,:;\\]+', re.S
)
_MSGID_RE: Final = re.compile(r"<([^<>]*)>")
_WS_RUN_RE: Final = re.compile(r"\s+")
_LINEBREAK_RE: Final = re.compile(r"[\r\n\t]+")
# C0/C1 controls (except TAB/LF/CR handled separately) and the bidi embedding/override/
# isolate controls used for Trojan-Source/RTLO spoofing (CVE-2021-42574, security.md W7).
_UNSAFE_CHARS_RE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u202a-\u202e\u2066-\u2069]"
)
_FILENAME_BAD_RE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_ADDR_BAD_RE: Final = re.compile("[\x00-\x1f\x7f]")
_NEWLINES_RE: Final = re.compile(r"\r\n?")
_META_CHARSET_RE: Final = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.I
)
_TAG_RE: Final = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9:-]*)")
_SKIP_CONTENT_TAGS: Final = ("script", "style", "title", "template", "noscript", "svg", "math")
_CLOSE_TAG_RE: Final = {t: re.compile(r"</\s*" + t + r"\s*>", re.I) for t in _SKIP_CONTENT_TAGS}
_EXTENSIONS: Final = {
    "text/plain": "txt",
    "text/html": "html",
    "text/calendar": "ics",
    "text/csv": "csv",
    "text/vcard": "vcf",
    "text/x-vcard": "vcf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/svg+xml": "svg",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/json": "json",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/pgp-signature": "asc",
    "application/pkcs7-signature": "p7s",
    "message/rfc822": "eml",
    "message/delivery-status": "txt",
}


# --------------------------------------------------------------------------- internals


class _Defects:
    """Ordered, de-duplicated defect notes."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, None] = {}

    def add(self, note: str) -> None:
        self._seen.setdefault(note, None)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self._seen)


# Parameter values are kept as latin-1 "byte strings" (a lossless bytes<->str mapping)
# so that structural values (boundary) keep their exact bytes; human-readable values
# (filename, name) are decoded later. RFC 2231 values are decoded immediately and
# flagged is_text=True.
_Params = dict[str, tuple[str, bool]]


@dataclass(slots=True, eq=False)
class _Entity:
    start: int  # first byte of the entity (its header block)
    end: int  # one past its last byte
    body_start: int
    headers: list[tuple[str, bytes]]
    content_type: str
    params: _Params
    disposition: str
    dparams: _Params
    cte: str
    content_id: str
    depth: int
    parent_subtype: str
    children: list[_Entity] | None = None  # None for leaves
    opaque: bool = False  # depth-limited subtree kept as one blob
    index: int = -1  # leaf index

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]


def _printable_label(label: str) -> str:
    cleaned = "".join(ch for ch in label if ch.isascii() and ch.isprintable())
    return cleaned[:40]


# ----------------------------------------------------------------- header block


def _parse_headers(
    raw: bytes, start: int, end: int, limits: ParseLimits, defects: _Defects, *, root: bool
) -> tuple[list[tuple[str, bytes]], int]:
    """Header fields of the entity at raw[start:end] and the offset where its body starts."""
    headers: list[tuple[str, bytes]] = []
    cur_name: str | None = None
    cur_parts: list[bytes] = []
    dropping = False  # inside a header beyond max_headers
    limit = min(end, start + max(0, limits.max_header_bytes))
    pos = start
    first = True

    def flush() -> None:
        if cur_name is not None:
            headers.append((cur_name, b"".join(cur_parts)))

    while True:
        if pos >= limit:
            if pos < end:
                # RFC 5322 has no header-size limit; Postfix caps at 100 KB. We keep what
                # we have and resume at the next blank line (security.md M4).
                defects.add("header size limit")
                m = _BLANK_LINE_RE.search(raw, pos, end)
                body_start = m.end() if m else end
            else:
                body_start = end
            break
        line = _LINE_RE.match(raw, pos, limit)
        line_end = line.end() if line else limit
        content_end = line_end
        while content_end > pos and raw[content_end - 1] in (10, 13):
            content_end -= 1
        if content_end == pos:
            body_start = line_end  # RFC 5322 §2.1: the empty line ends the header block
            break
        # A line cut by the size cap is not evidence of a missing header/body separator.
        cut = content_end == line_end and line_end == limit and limit < end
        if raw[pos] in (32, 9):
            # RFC 5322 §2.2.3: unfolding = removing the CRLF before WSP.
            if cur_name is not None:
                cur_parts.append(raw[pos:content_end])
            elif not dropping:
                defects.add("continuation line without header")
        else:
            fm = _FIELD_RE.match(raw, pos, content_end)
            if fm is None:
                if cut or (first and root and raw.startswith(b"From ", pos)):
                    pass  # partial line at the cap, or the mbox "From " envelope line
                else:
                    defects.add("missing header/body separator")
                    body_start = pos
                    break
            else:
                flush()
                cur_name = None
                if len(headers) >= limits.max_headers:
                    defects.add("header count limit")
                    dropping = True
                else:
                    name = fm.group(1)
                    if not _GOOD_NAME_RE.fullmatch(name):
                        defects.add("invalid header name")
                    cur_name = name.decode("latin-1")
                    cur_parts = [raw[fm.end() : content_end]]
        first = False
        pos = line_end
    flush()
    return headers, body_start


def _get(headers: list[tuple[str, bytes]], name: str) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _get_all(headers: list[tuple[str, bytes]], name: str) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


def _header_text(data: bytes, name: str, defects: _Defects) -> str:
    """Raw header bytes -> str: ASCII, else UTF-8 (RFC 6532), else CP949 (Korean 8-bit abuse)."""
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError:
        defects.add(f"header decode {name}")
        return data.decode("cp949", "replace")


# ----------------------------------------------------------------- RFC 2047


def _b64decode(data: bytes) -> bytes:
    """Lenient base64 (RFC 2045 §6.8 says ignore characters outside the alphabet)."""
    clean = data.translate(None, _B64_JUNK)
    rem = len(clean) % 4
    if rem == 1:
        clean = clean[:-1]  # a lone trailing sextet carries no whole byte
    elif rem:
        clean += b"=" * (4 - rem)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return b""


def _decode_charset_bytes(data: bytes, label: str, defects: _Defects) -> str:
    codec = charsets.codec_name(label)
    if codec is None:
        defects.add(f"unknown charset {_printable_label(label)}")
        return charsets.decode_unlabelled(data, detect=False)
    return charsets.decode_with(data, codec)


def _decode_words(text: str, defects: _Defects) -> str:
    """RFC 2047 decoding of unstructured text (and display names/comments).

    RFC 2047 §6.2: whitespace between adjacent encoded-words is ignored. Adjacent words
    in the same charset are decoded together, because senders split a multi-byte
    character across two words (a violation of §5, but common).
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending = bytearray()
    pending_cs: str | None = None
    pos = 0
    last_was_word = False

    def flush() -> None:
        nonlocal pending_cs
        if pending_cs is not None:
            out.append(_decode_charset_bytes(bytes(pending), pending_cs, defects))
            pending.clear()
            pending_cs = None

    for m in _EW_RE.finditer(text):
        gap = text[pos : m.start()]
        if gap and not (last_was_word and gap.isspace()):
            flush()
            out.append(gap)
        charset = m.group(1).split("*", 1)[0].lower()
        payload = m.group(3).encode("utf-8")
        # RFC 2047 §4.1 B = base64; §4.2 Q = QP where '_' is a space.
        if m.group(2) in "bB":  # noqa: SIM108 - two comments read better than a ternary
            data = _b64decode(payload)
        else:
            data = binascii.a2b_qp(payload, header=True)
        if pending_cs is not None and charset != pending_cs:
            flush()
        pending_cs = charset
        pending.extend(data)
        pos = m.end()
        last_was_word = True
    flush()
    out.append(text[pos:])
    return "".join(out)


def _single_line(text: str, limit: int) -> str:
    text = _LINEBREAK_RE.sub(" ", text)
    text = _UNSAFE_CHARS_RE.sub("", text).strip()
    return text[:limit]


# ----------------------------------------------------------------- parameters


def _parse_params(text: str, defects: _Defects) -> _Params:
    """RFC 2045 §5.1 parameters (latin-1 text after the first ';'), RFC 2231 merged."""
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    count = 0
    pos = 0
    n = len(text)
    while pos < n:
        semi = text.find(";", pos)
        if semi < 0:
            break
        if count >= _MAX_PARAMS:
            defects.add("parameter limit")
            break
        m = _PARAM_RE.match(text, semi + 1)
        if m is None or not m.group(1):
            pos = semi + 1
            continue
        pos = max(m.end(), semi + 1)
        count += 1
        name = m.group(1).lower()
        if m.group(2) is not None:
            value = _QUOTED_PAIR_RE.sub(r"\1", m.group(2))
        else:
            value = (m.group(3) or "").strip()
        ext = _2231_NAME_RE.fullmatch(name)
        if ext is not None:
            base, idx_text, star = ext.group(1), ext.group(2), ext.group(3)
            idx = int(idx_text) if idx_text is not None else 0
            encoded = idx_text is None or star is not None
            secs = sections.setdefault(base, {})
            if idx < _MAX_2231_SECTIONS and len(secs) < _MAX_2231_SECTIONS:
                secs.setdefault(idx, (value, encoded))
            else:
                defects.add("RFC 2231 section limit")
        else:
            plain.setdefault(name, value)

    params: _Params = {k: (v, False) for k, v in plain.items()}
    for base, secs in sections.items():
        # RFC 2231 §4.1: the extended form wins over a plain parameter of the same name.
        params[base] = (_join_2231(secs, defects), True)
    return params


def _join_2231(secs: dict[int, tuple[str, bool]], defects: _Defects) -> str:
    # RFC 2231 §3-4: name*0*=charset'lang'%XX.., name*1*=%XX.., name*2="plain"; only the
    # first section carries charset'language'. Bytes of all sections are joined before
    # decoding so a multi-byte character may straddle sections.
    charset = ""
    chunks: list[bytes] = []
    for i, idx in enumerate(sorted(secs)):
        value, encoded = secs[idx]
        if encoded:
            if i == 0:
                parts = value.split("'", 2)
                if len(parts) == 3:
                    charset, value = parts[0], parts[2]
            chunks.append(unquote_to_bytes(value))
        else:
            chunks.append(value.encode("latin-1", "replace"))
    data = b"".join(chunks)
    if charset:
        return _decode_charset_bytes(data, charset, defects)
    return charsets.decode_unlabelled(data, detect=False)


def _param_raw(params: _Params, name: str) -> str:
    return params.get(name, ("", False))[0]


def _param_text(params: _Params, name: str, defects: _Defects) -> str:
    value, is_text = params.get(name, ("", False))
    if is_text or not value:
        return value
    # Raw 8-bit (bytes mapped through latin-1) -> UTF-8/CP949, then the non-standard but
    # ubiquitous RFC 2047 words inside quoted parameters (RFC 2047 §5 forbids them).
    text = _header_text(value.encode("latin-1", "replace"), name, defects)
    return _decode_words(text, defects)


def _parse_content_type(
    value: bytes | None, default: str, defects: _Defects
) -> tuple[str, _Params]:
    if value is None:
        return default, {}
    text = value.decode("latin-1")
    main, _, rest = text.partition(";")
    ctype = _COMMENT_RE.sub("", main).strip().lower()
    params = _parse_params(";" + rest, defects) if rest else {}
    if not _TYPE_RE.fullmatch(ctype):
        # RFC 2045 §5.2: an invalid Content-Type means text/plain; charset=us-ascii.
        defects.add("invalid content-type")
        return "text/plain", params
    return ctype, params


def _parse_disposition(value: bytes | None, defects: _Defects) -> tuple[str, _Params]:
    if value is None:
        return "", {}
    text = value.decode("latin-1")
    main, _, rest = text.partition(";")
    params = _parse_params(";" + rest, defects) if rest else {}
    return _COMMENT_RE.sub("", main).strip().lower(), params


def _strip_id(text: str) -> str:
    m = _MSGID_RE.search(text)
    ident = m.group(1) if m else text
    ident = _WS_RUN_RE.sub("", ident)
    return _UNSAFE_CHARS_RE.sub("", ident)[:_MAX_ID]


# ----------------------------------------------------------------- structure


def _make_entity(
    raw: bytes,
    start: int,
    end: int,
    depth: int,
    parent_subtype: str,
    limits: ParseLimits,
    defects: _Defects,
    *,
    root: bool,
) -> _Entity:
    headers, body_start = _parse_headers(raw, start, end, limits, defects, root=root)
    # RFC 2046 §5.1.5: parts of multipart/digest default to message/rfc822.
    default = "message/rfc822" if parent_subtype == "digest" else "text/plain"
    ctype, params = _parse_content_type(_get(headers, "content-type"), default, defects)
    disp, dparams = _parse_disposition(_get(headers, "content-disposition"), defects)
    cte_raw = _get(headers, "content-transfer-encoding")
    cte = (
        cte_raw.decode("latin-1").strip().lower().split(None, 1)[0]
        if cte_raw and cte_raw.strip()
        else ""
    )
    cid_raw = _get(headers, "content-id")
    content_id = _strip_id(cid_raw.decode("latin-1")) if cid_raw is not None else ""
    return _Entity(
        start=start,
        end=end,
        body_start=min(body_start, end),
        headers=headers,
        content_type=ctype,
        params=params,
        disposition=disp,
        dparams=dparams,
        cte=cte,
        content_id=content_id,
        depth=depth,
        parent_subtype=parent_subtype,
    )


def _split_multipart(
    raw: bytes, start: int, end: int, boundary: bytes, max_spans: int, defects: _Defects
) -> list[tuple[int, int]]:
    """Spans of the body parts between RFC 2046 §5.1.1 delimiter lines.

    A delimiter line is '--' boundary at the start of a line, optionally '--' (close),
    then transport padding (LWSP) and the line end; the line break before it belongs to
    the delimiter. Preamble and epilogue are discarded. A missing close delimiter makes
    the last part run to the end of the enclosing span (security.md M7).
    Cost: the pattern starts with the literal '\n--boundary', so the regex engine scans
    with its fast literal-prefix search; false hits mid-line never reach Python. Lines
    ending in a bare CR are not delimiters (stored mail is CRLF-normalised, M14).
    """
    esc = re.escape(boundary)
    tail = rb"(--)?[ \t]*(?=[\r\n]|\Z)"
    first_re = re.compile(b"--" + esc + tail)
    next_re = re.compile(b"\n--" + esc + tail)
    spans: list[tuple[int, int]] = []
    part_start: int | None = None
    closed = False
    m = first_re.match(raw, start, end)  # a delimiter on the very first line of the body
    if m is None:
        m = next_re.search(raw, start, end)
    while m is not None:
        if part_start is not None:
            part_end = m.start()  # the '\n' that starts the delimiter line
            if part_end > part_start and raw[part_end - 1] == 13:
                part_end -= 1
            spans.append((part_start, max(part_start, part_end)))
        if m.group(1) is not None:
            closed = True
            break
        if len(spans) >= max_spans:
            return spans  # the caller records the part limit
        j = m.end()
        part_start = j + 2 if raw.startswith(b"\r\n", j, end) else min(j + 1, end)
        # Resume at the delimiter line's own '\n' so that an empty part directly
        # followed by the next delimiter line is still found; always past m.start().
        m = next_re.search(raw, max(start, part_start - 1), end)
    if part_start is not None and not closed:
        defects.add("missing closing boundary")
        spans.append((part_start, end))
    return spans


def _build(raw: bytes, limits: ParseLimits, defects: _Defects) -> tuple[_Entity, list[_Entity]]:
    """The entity tree (depth/part-capped) and its leaves in document order.

    Explicit stack, preorder: entities are counted in document order, so the part cap
    keeps exactly the first max_parts entities (security.md M2).
    """
    root: _Entity | None = None
    leaves: list[_Entity] = []
    count = 0
    # (start, end, depth, parent_subtype, parent)
    stack: list[tuple[int, int, int, str, _Entity | None]] = [(0, len(raw), 0, "", None)]
    while stack:
        start, end, depth, parent_subtype, parent = stack.pop()
        if count >= max(1, limits.max_parts):
            defects.add("part limit")
            break
        count += 1
        ent = _make_entity(
            raw, start, end, depth, parent_subtype, limits, defects, root=parent is None
        )
        if parent is None:
            root = ent
        elif parent.children is not None:
            parent.children.append(ent)
        if ent.maintype == "multipart":
            if depth >= limits.max_depth:
                defects.add("depth limit")
                ent.opaque = True
            else:
                boundary = _param_raw(ent.params, "boundary").rstrip()
                spans: list[tuple[int, int]] = []
                if not boundary or len(boundary) > _MAX_BOUNDARY:
                    defects.add("multipart without usable boundary")
                else:
                    spans = _split_multipart(
                        raw,
                        ent.body_start,
                        end,
                        boundary.encode("latin-1"),
                        max(1, limits.max_parts - count + 1),
                        defects,
                    )
                    if not spans:
                        defects.add("boundary not found")
                if spans:
                    ent.children = []
                    for s, e in reversed(spans):
                        stack.append((s, e, depth + 1, ent.subtype, ent))
                    continue
                # Recovery: show the body as text rather than lose it.
                ent.content_type = "text/plain"
        ent.index = len(leaves)
        leaves.append(ent)
    assert root is not None  # the first pop always creates it
    return root, leaves


# ----------------------------------------------------------------- payloads


def _payload(raw: bytes, ent: _Entity) -> bytes:
    """Decoded leaf payload; lenient, never raises (RFC 2045 §6, security.md M10)."""
    if ent.opaque:
        return raw[ent.start : ent.end]
    data = raw[ent.body_start : ent.end]
    if ent.cte == "base64":
        return _b64decode(data)
    if ent.cte == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    # 7bit/8bit/binary/unknown (RFC 2045 §6.4: treat unknown as opaque data).
    return data


def _ext_for(content_type: str) -> str:
    ext = _EXTENSIONS.get(content_type)
    if ext:
        return ext
    if content_type.startswith("text/"):
        return "txt"
    return "bin"


def _clean_filename(name: str) -> str:
    name = _FILENAME_BAD_RE.sub("", name)
    # RFC 2183 §2.3: the receiver should take the last path component only.
    name = re.split(r"[/\\]", name)[-1]
    name = name.strip().strip(".").strip()
    if len(name) > _MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[: _MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:_MAX_FILENAME]
    return name


def _attachment(ent: _Entity, size: int, defects: _Defects) -> Attachment:
    if ent.opaque:
        content_type = "application/octet-stream"
        filename = ""
    else:
        content_type = ent.content_type
        filename = _param_text(ent.dparams, "filename", defects) or _param_text(
            ent.params, "name", defects
        )
    filename = _clean_filename(filename)
    named = bool(filename)
    if not filename:
        filename = f"attachment-{ent.index}.{_ext_for(content_type)}"
    # Apple Mail sends PDFs as "inline; filename=…" with no Content-ID: nothing can reference
    # such a part from the HTML, so it is an attachment to the reader (as Gmail shows it).
    inline = (ent.disposition == "inline" and (bool(ent.content_id) or not named)) or (
        bool(ent.content_id) and ent.maintype == "image" and ent.parent_subtype == "related"
    )
    return Attachment(
        index=ent.index,
        filename=filename,
        content_type=content_type,
        size=size,
        content_id=ent.content_id,
        inline=inline,
    )


def _is_body_candidate(ent: _Entity) -> bool:
    return (
        ent.children is None
        and not ent.opaque
        and ent.content_type in ("text/plain", "text/html")
        and ent.disposition != "attachment"
    )


def _find_body(root: _Entity, subtype: str) -> _Entity | None:
    """First text/<subtype> body in display order (iterative; depth is already capped).

    Like email.message.get_body(): attachments are skipped; multipart/related shows its
    root part only (RFC 2387 §3.2: 'start', else the first part); multipart/alternative
    is searched last-to-first (RFC 2046 §5.1.4: the last alternative is preferred).
    """
    stack = [root]
    while stack:
        ent = stack.pop()
        if ent.children is None:
            if _is_body_candidate(ent) and ent.subtype == subtype:
                return ent
            continue
        if ent.disposition == "attachment":
            continue
        kids = ent.children
        if ent.subtype == "related" and kids:
            start = _strip_id(_param_raw(ent.params, "start"))
            chosen = next((k for k in kids if start and k.content_id == start), kids[0])
            kids = [chosen]
        elif ent.subtype == "alternative":
            kids = kids[::-1]
        stack.extend(reversed(kids))
    return None


def _decode_text(
    raw: bytes, ent: _Entity, limits: ParseLimits, defects: _Defects, *, is_html: bool
) -> str:
    data = _payload(raw, ent)
    max_chars = max(0, limits.max_text_chars)
    cap = max_chars * 4  # no supported charset needs more than 4 bytes per character
    truncated = len(data) > cap
    if truncated:
        data = data[:cap]
    label = _param_raw(ent.params, "charset").strip()
    codec = charsets.codec_name(label) if label else None
    if label and codec is None:
        defects.add(f"unknown charset {_printable_label(label)}")
        guessed = charsets.guess_encoding(data) if not data.isascii() else "ascii"
        text = charsets.decode_with(data, guessed or "utf-8")
    elif codec == "utf-7":
        if is_html:
            # security.md M8: never turn '+ADw-script+AD4-' into markup.
            defects.add("utf-7 html not decoded")
            text = data.decode("ascii", "replace")
        else:
            text = charsets.decode_with(data, "utf-7")
    elif codec is None or (codec == "ascii" and not data.isascii()):
        if codec == "ascii":
            defects.add("8-bit data in us-ascii part")
        hint: str | None = None
        if is_html:
            meta = _META_CHARSET_RE.search(data, 0, _META_SNIFF_BYTES)
            if meta is not None:
                hint = charsets.codec_name(meta.group(1).decode("ascii"))
                if hint in ("utf-7", "ascii"):
                    hint = None
        text = charsets.decode_unlabelled(data, truncated=truncated, hint=hint)
    else:
        text = charsets.decode_with(data, codec)
    # NUL is not valid in HTML and PostgreSQL text columns refuse it (security.md M8).
    text = _NEWLINES_RE.sub("\n", text).replace("\x00", "\ufffd")
    if truncated or len(text) > max_chars:
        defects.add("text truncated")
        text = text[:max_chars]
    return text


# ----------------------------------------------------------------- addresses


def _parse_addresses(
    values: list[str], limits: ParseLimits, defects: _Defects
) -> tuple[Address, ...]:
    """RFC 5322 §3.4 address lists, tolerant and linear (one regex token pass).

    Mailsploit (security.md M9): encoded-words are decoded in the display name and in
    comments only, never in the addr-spec, which is returned exactly as sent.
    """
    out: list[Address] = []
    phrase: list[str] = []
    raw_parts: list[str] = []
    comments: list[str] = []
    comment_buf: list[str] = []
    angle: list[str] | None = None
    angle_addr: str | None = None
    depth = 0

    def finish() -> None:
        nonlocal angle, angle_addr
        if angle is not None:  # '<' never closed
            angle_addr = "".join(angle)
        if angle_addr is not None:
            addr = angle_addr.strip()
            name = "".join(phrase)
        else:
            addr = "".join(raw_parts).strip()
            name = ""
        if not name.strip() and comments:
            name = " ".join(comments)
        name = _WS_RUN_RE.sub(" ", _decode_words(name, defects))
        name = _single_line(name, _MAX_SUBJECT)
        if _ADDR_BAD_RE.search(addr):
            defects.add("control characters in address")
            addr = ""
        if addr or name:
            out.append(Address(name=name, addr=addr[:_MAX_ADDR]))
        phrase.clear()
        raw_parts.clear()
        comments.clear()
        angle = None
        angle_addr = None

    for value in values:
        for m in _ADDR_TOKEN_RE.finditer(value):
            if len(out) >= limits.max_addresses:
                defects.add("address limit")
                return tuple(out)
            tok = m.group()
            if depth:  # RFC 5322 §3.2.2: comments nest
                if tok == "(":
                    depth += 1
                    comment_buf.append(tok)
                elif tok == ")":
                    depth -= 1
                    if depth:
                        comment_buf.append(tok)
                    else:
                        comments.append("".join(comment_buf).strip())
                        comment_buf.clear()
                else:
                    comment_buf.append(tok)
                continue
            if angle is not None:
                if tok == ">":
                    angle_addr = "".join(angle)
                    angle = None
                else:
                    angle.append(tok)
                continue
            if tok == "(":
                depth = 1
            elif tok == "<":
                angle = []
            elif tok in (",", ";"):
                finish()
            elif tok == ":":
                # RFC 5322 §3.4 group: "display-name:" is a label, not an address.
                phrase.clear()
                raw_parts.clear()
                comments.clear()
            elif tok in (">", ")"):
                continue
            elif angle_addr is None:
                raw_parts.append(tok)
                if tok.startswith('"'):
                    body = tok[1:-1] if len(tok) > 1 and tok.endswith('"') else tok[1:]
                    phrase.append(_QUOTED_PAIR_RE.sub(r"\1", body))
                else:
                    phrase.append(tok)
        if depth:
            comments.append("".join(comment_buf).strip())
            comment_buf.clear()
            depth = 0
        finish()
    return tuple(out)


# ----------------------------------------------------------------- ids, dates, snippet


def _msg_ids(text: str) -> list[str]:
    ids = [i for i in (_strip_id(m.group(1)) for m in _MSGID_RE.finditer(text)) if i]
    if not ids:
        ids = [_strip_id(t) for t in text.split() if "@" in t]
    return ids


def _parse_date(text: str, defects: _Defects) -> dt.datetime | None:
    text = text.strip()[:256]
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except Exception:  # ValueError/TypeError/IndexError/OverflowError depending on input
        defects.add("unparsable date")
        return None
    if value.tzinfo is None:
        # RFC 5322 §3.3: "-0000" means UTC with unknown local zone.
        value = value.replace(tzinfo=dt.UTC)
    return value


# Elements that end a line when rendered: they separate words. Any other tag (span, b, a,
# font…) is inline and joins the text on both sides, as a browser shows it.
_BLOCK_TAGS: Final = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "img",
        "input",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "option",
        "p",
        "pre",
        "section",
        "select",
        "summary",
        "table",
        "tbody",
        "td",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)


def _html_text(html: str, want: int, *, inline_joins: bool = False) -> str:
    """Visible text from the start of an HTML document (linear). With `inline_joins`, only
    block elements and <br> become spaces (the text as rendered, for search); without it,
    every tag does (snippets)."""
    out: list[str] = []
    got = 0
    i = 0
    n = len(html)
    while i < n and got < want:
        j = html.find("<", i)
        chunk = html[i:] if j < 0 else html[i:j]
        if chunk:
            out.append(chunk)
            got += len(chunk.strip())
        if j < 0:
            break
        if html.startswith("<!--", j):
            k = html.find("-->", j + 4)
            i = n if k < 0 else k + 3
            continue
        m = _TAG_RE.match(html, j)
        if m is None:
            if html.startswith(("<!", "<?"), j):
                k = html.find(">", j)
                i = n if k < 0 else k + 1
            else:
                out.append("<")
                i = j + 1
            continue
        k = html.find(">", m.end())
        if k < 0:
            break
        name = m.group(2).lower()
        if not m.group(1) and name in _CLOSE_TAG_RE:
            close = _CLOSE_TAG_RE[name].search(html, k + 1)
            i = n if close is None else close.end()
            continue
        if not inline_joins or name in _BLOCK_TAGS:
            out.append(" ")
        i = k + 1
    return html_lib.unescape("".join(out))


SEARCH_TEXT_CHARS: Final = 64 * 1024


def fold(text: str) -> str:
    """The search form of a text: NFKC, then Unicode case folding (so ＡＢＣ, ABC and abc
    are one, ÄRGER and ärger too), then NFKC again (folding can un-normalise)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def search_text(parsed: ParsedMessage, limit: int = SEARCH_TEXT_CHARS) -> str:
    """The body as plain text for substring search: the text/plain part, else the text of
    the HTML part as rendered (inline tags join words, block elements and <br> split them);
    whitespace runs collapsed to one space, folded (`fold`: a search compares with a plain
    substring test), at most `limit` characters."""
    if parsed.text.strip():
        source = parsed.text
    else:
        source = _html_text(parsed.html, limit, inline_joins=True)
    # Collapse a bounded prefix only: a 2 MB body costs the same as a 128 KB one.
    return " ".join(fold(source[: limit * 2]).split())[:limit].rstrip()


def _snippet(text: str, html: str) -> str:
    source = text if text.strip() else _html_text(html, _SNIPPET_CHARS * 2)
    words: list[str] = []
    total = 0
    for m in re.finditer(r"\S+", source):
        words.append(m.group())
        total += len(m.group()) + 1
        if total > _SNIPPET_CHARS:
            break
    return _UNSAFE_CHARS_RE.sub("", " ".join(words))[:_SNIPPET_CHARS]


# --------------------------------------------------------------------------- API


def _addresses_for(
    headers: list[tuple[str, bytes]], name: str, limits: ParseLimits, defects: _Defects
) -> tuple[Address, ...]:
    values = [_header_text(v, name, defects) for v in _get_all(headers, name)]
    if name == "from" and len(values) > 1:
        # Two From fields is a DMARC-evasion trick; show them all rather than pick one.
        defects.add("multiple From headers")
    return _parse_addresses(values, limits, defects)


def _parse(raw: bytes, limits: ParseLimits, defects: _Defects) -> ParsedMessage:
    headers: list[tuple[str, bytes]]
    text = html = ""
    attachments: list[Attachment] = []
    tree: ParseTree | None = None
    if len(raw) > limits.max_bytes:
        defects.add("size limit: body not parsed")
        headers, _ = _parse_headers(raw, 0, len(raw), limits, defects, root=True)
    else:
        root, leaves = _build(raw, limits, defects)
        tree = ParseTree(raw, root, limits)
        headers = root.headers
        plain_ent = _find_body(root, "plain")
        html_ent = _find_body(root, "html")
        if plain_ent is not None:
            text = _decode_text(raw, plain_ent, limits, defects, is_html=False)
        if html_ent is not None:
            html = _decode_text(raw, html_ent, limits, defects, is_html=True)
        for leaf in leaves:
            if leaf is plain_ent or leaf is html_ent:
                continue
            attachments.append(_attachment(leaf, len(_payload(raw, leaf)), defects))

    def first_text(name: str) -> str:
        value = _get(headers, name)
        return _header_text(value, name, defects) if value is not None else ""

    subject = _single_line(_decode_words(first_text("subject"), defects), _MAX_SUBJECT)
    message_ids = _msg_ids(first_text("message-id"))
    in_reply_to = _msg_ids(first_text("in-reply-to"))
    references = _msg_ids(
        " ".join(_header_text(v, "references", defects) for v in _get_all(headers, "references"))
    )
    if len(references) > _MAX_REFERENCES:
        # Threading needs the root (first) and the most recent (last) ids.
        defects.add("references limit")
        references = references[:1] + references[-(_MAX_REFERENCES - 1) :]
    header_items = tuple(
        (
            k.replace("\x00", "\ufffd"),
            _header_text(v, k.lower(), defects).strip().replace("\x00", "\ufffd"),
        )
        for k, v in headers
    )

    return ParsedMessage(
        message_id=message_ids[0] if message_ids else "",
        subject=subject,
        from_=_addresses_for(headers, "from", limits, defects),
        to=_addresses_for(headers, "to", limits, defects),
        cc=_addresses_for(headers, "cc", limits, defects),
        reply_to=_addresses_for(headers, "reply-to", limits, defects),
        date=_parse_date(first_text("date"), defects),
        in_reply_to=in_reply_to[0] if in_reply_to else "",
        references=tuple(references),
        text=text,
        html=html,
        snippet=_snippet(text, html),
        attachments=tuple(attachments),
        has_attachments=any(not a.inline for a in attachments),
        defects=defects.as_tuple(),
        header_items=header_items,
        tree=tree,
    )


def _empty(defects: tuple[str, ...]) -> ParsedMessage:
    return ParsedMessage(
        message_id="",
        subject="",
        from_=(),
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        in_reply_to="",
        references=(),
        text="",
        html="",
        snippet="",
        attachments=(),
        has_attachments=False,
        defects=defects,
    )


def parse_message(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedMessage:
    """Parse a stored message. Never raises; problems are reported in .defects."""
    defects = _Defects()
    try:
        return _parse(bytes(raw), limits, defects)
    except Exception as exc:  # contract: never raise, whatever the bytes
        # Only a bug in this module can get here; the tests assert it never happens.
        defects.add(f"internal parser error {type(exc).__name__}")
        return _empty(defects.as_tuple())


def _leaves(raw: bytes, limits: ParseLimits) -> list[_Entity]:
    """Same walk as parse_message, so indices agree; oversized messages have no parts."""
    if len(raw) > limits.max_bytes:
        return []
    _, leaves = _build(raw, limits, _Defects())
    return leaves


def get_attachment(
    raw: bytes, index: int, limits: ParseLimits = DEFAULT_LIMITS
) -> tuple[Attachment, bytes] | None:
    """The leaf part number `index` (ParsedMessage.attachments[i].index) and its decoded bytes."""
    try:
        data = bytes(raw)
        leaves = _leaves(data, limits)
        if not 0 <= index < len(leaves):
            return None
        ent = leaves[index]
        payload = _payload(data, ent)
        return _attachment(ent, len(payload), _Defects()), payload
    except Exception:  # same never-raise contract as parse_message
        return None


def get_part_by_cid(
    raw: bytes, content_id: str, limits: ParseLimits = DEFAULT_LIMITS
) -> tuple[Attachment, bytes] | None:
    """The first leaf whose Content-ID matches (RFC 2392: cid URLs are %-encoded)."""
    try:
        data = bytes(raw)
        wanted = _strip_id(content_id)
        if not wanted:
            return None
        candidates = [wanted, _strip_id(unquote(wanted))]
        leaves = _leaves(data, limits)
        for exact in (True, False):
            for ent in leaves:
                if not ent.content_id:
                    continue
                for c in candidates:
                    if ent.content_id == c or (not exact and ent.content_id.lower() == c.lower()):
                        payload = _payload(data, ent)
                        return _attachment(ent, len(payload), _Defects()), payload
        return None
    except Exception:  # same never-raise contract as parse_message
        return None
