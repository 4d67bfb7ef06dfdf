"""IMAP metadata of a message, computed once at delivery/APPEND and kept in the database
(store.MessageMeta), so FETCH ENVELOPE/BODYSTRUCTURE/BODY.PEEK[HEADER.FIELDS (…)] of a whole
folder never opens a message file (issue 10, item 5). Pure: bytes in, JSON-able values out;
no Django, no I/O.

Everything refers to the message's CRLF ("wire") form, as IMAP does (RFC 9051 §2.3.4): the
form store.maildir reads back (`crlf_form`: every line end, with any CRs before it, is CRLF).

Value model of `envelope` and `bodystructure` (nested lists, for one generic IMAP renderer):
  str   an IMAP string whose bytes are the str's UTF-8 (raw header text, unfolded; encoded
        words stay encoded: RFC 9051 §7.5.2 ENVELOPE gives raw values);
  {"b": base64}  an IMAP string of other bytes (8-bit header bytes that are not UTF-8, or a
        NUL): lossless, and storable as PostgreSQL jsonb (which refuses \\u0000 and lone
        surrogates). `leaf_bytes` gives the bytes; `to_wire` the whole value as str/bytes;
  int   a number;   None   NIL;   list   a parenthesised list.
ENVELOPE (RFC 9051 §7.5.2): [date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
message-id]; an address is [name, adl, mailbox, host]; a group is opened by
[None, None, group name, None] and closed by [None, None, None, None] (RFC 3501 §7.4.2);
sender and reply-to default to from. Like Dovecot, an address without local part or domain
gets "MISSING_MAILBOX" / "MISSING_DOMAIN" (so it never reads as a group marker). A header that
is present but empty is "" (absent: NIL), as in Dovecot.
BODYSTRUCTURE is the extensible form: a multipart is [part, part, …, subtype, params,
disposition, language, location]; a leaf is [type, subtype, params, id, description, encoding,
size, (lines | envelope, body, lines), md5, disposition, language, location]. `body_of`
strips the extension data for FETCH BODY. RFC 9051 writes `1*body` and `1*address` with no SP
between the parenthesised items; a renderer may join everything with SP (clients accept it)
or follow Dovecot and leave SP out between adjacent lists.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from . import parse as _parse
from .parse import DEFAULT_LIMITS, ParsedMessage, ParseLimits

VERSION: Final = 2  # bump when the output changes: `reindex --imap-meta` recomputes older rows

# The header fields clients prefetch (Thunderbird, iOS, K-9: issue 10 item 5), kept raw.
PREFETCH_FIELDS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "content-type",
        "list-id",
        "priority",
        "x-priority",
        "importance",
        "reply-to",
        "sender",
    }
)
MAX_HEADER_FIELDS_BYTES: Final = 64 * 1024  # past this the block is marked incomplete
MAX_ADDRESSES: Final = 1000  # per address field (security.md M3)
MAX_STRING: Final = 64 * 1024  # any one header value kept in ENVELOPE/BODYSTRUCTURE

Json = Any  # str | int | None | dict[str, str] | list[Json]

_LINE_END: Final = re.compile(rb"\r*\n")
_FIELD_LINE: Final = re.compile(rb"([^\s:]++)[ \t]*+:")
_FOLDS: Final = re.compile(rb"\r\n(?=[ \t])")


@dataclass(frozen=True, slots=True)
class ImapMeta:
    envelope: list[Json]
    bodystructure: list[Json]
    envelope_imap: bytes  # render_envelope(envelope)
    bodystructure_imap: bytes  # render_body(bodystructure)
    header_fields: bytes  # the PREFETCH_FIELDS lines of the top header, CRLF, in order
    header_fields_complete: bool
    size: int  # of the CRLF form (RFC822.SIZE)
    header_size: int  # the top header block with its empty line
    body_size: int
    body_lines: int


def _is_crlf(data: bytes) -> bool:
    """Whether crlf_form(data) == data: every LF has a CR before it, and no CR comes before a
    CRLF (bytes.count: a tenth of the substitution's time)."""
    return data.count(b"\n") == data.count(b"\r\n") and b"\r\r\n" not in data


def crlf_form(data: bytes) -> bytes:
    """`data` with every line end (LF, CRLF, CRs before an LF) as CRLF: what the store reads
    back (store.maildir.canonical_crlf), so sizes here are RFC822.SIZE."""
    if b"\n" not in data or _is_crlf(data):
        return data
    return _LINE_END.sub(b"\r\n", data)


def compute(
    data: bytes,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    parsed: ParsedMessage | None = None,
    crlf: bool = False,
) -> ImapMeta:
    """The metadata of raw message bytes (any line ends). Never raises on malformed mail:
    the parser's recovery rules apply (mailcore.mime.parse).

    `parsed`: parse_message of `data`, or of the bytes `data` ends with below a few header
    fields put on top (a delivery's copy: Return-Path, Delivered-To). Its entity tree is
    then read instead of parsing the bytes again, where that gives exactly the answer of a
    parse of `data` (`_from_parse` says when); otherwise `data` is parsed here.

    `crlf`: the caller knows that `data` is in CRLF form already (crlf_form(data) == data:
    store.maildir.canonical_crlf's output, as a delivery's copies are), so it is not
    scanned for that again."""
    raw = data if crlf else crlf_form(data)
    if parsed is not None and parsed.tree is not None:
        reused = _from_parse(raw, parsed.tree, limits)
        if reused is not None:
            return reused
    root = _build_span(raw, 0, len(raw), limits, max(0, limits.max_depth), max(1, limits.max_parts))
    return _of_tree(raw, root, limits)


def _of_tree(raw: bytes, root: Any, limits: ParseLimits) -> ImapMeta:
    """The metadata of the message `raw` (CRLF form) whose entity tree is `root`."""
    budget = [max(1, limits.max_parts)]
    structure = _part(raw, root, limits, limits.max_depth, budget)
    fields, complete = _prefetch_block(raw, root.body_start)
    envelope = _envelope(root.headers)
    return ImapMeta(
        envelope=envelope,
        bodystructure=structure,
        envelope_imap=render_envelope(envelope),
        bodystructure_imap=render_body(structure),
        header_fields=fields,
        header_fields_complete=complete,
        size=len(raw),
        header_size=root.body_start,
        body_size=len(raw) - root.body_start,
        body_lines=_lines(raw, root.body_start, len(raw)),
    )


# The fields this module reads from a header block (ENVELOPE, BODYSTRUCTURE, the prefetch
# block): fields put on top with other names change none of its answers.
_READ_FIELDS: Final = PREFETCH_FIELDS | {
    "content-description",
    "content-disposition",
    "content-id",
    "content-language",
    "content-location",
    "content-md5",
    "content-transfer-encoding",
}


def _from_parse(raw: bytes, tree: _parse.ParseTree, limits: ParseLimits) -> ImapMeta | None:
    """compute(raw) from the tree a parse found in the bytes `raw` ends with, or None when
    that could differ. `raw` (CRLF form) is `top` + those bytes (`tree.raw`), where:
      * tree.raw is in CRLF form itself (the tree's offsets are offsets of `raw`'s tail);
      * `top` is whole header fields (each line ended, no empty line, nothing this module
        reads), and tree.raw starts with a field line or with the empty line: the header
        block of `raw` is then `top`'s fields followed by the tree's, its body the tree's;
      * the header block stays under the size and count caps with `top` added, and the
        tree was built under the same limits (so it is the tree _build_span builds).
    Then every answer is the tree's own but the sizes, which grow by len(top)."""
    data, root = tree.raw, tree.root
    top = len(raw) - len(data)
    if (
        tree.limits != limits
        or limits.max_parts < 1
        or limits.max_depth < 0
        or top < 0
        or not raw.endswith(data)
    ):
        return None
    if top and not _plain_top(raw, top, data, root, limits):
        return None
    if tree.imap is None:
        # _is_crlf(data), without scanning it again: `raw` is in CRLF form (crlf_form's) and
        # ends with `data`, so every LF of `data` but a first byte has its CR, and no CR comes
        # before a CRLF.
        tree.imap = _of_tree(data, root, limits) if not data.startswith(b"\n") else False
    own = tree.imap
    if not isinstance(own, ImapMeta):
        return None
    if not top:
        return own
    return ImapMeta(  # dataclasses.replace, without its per-call look-up of the fields
        envelope=own.envelope,
        bodystructure=own.bodystructure,
        envelope_imap=own.envelope_imap,
        bodystructure_imap=own.bodystructure_imap,
        header_fields=own.header_fields,
        header_fields_complete=own.header_fields_complete,
        size=len(raw),
        header_size=own.header_size + top,
        body_size=own.body_size,
        body_lines=own.body_lines,
    )


def _plain_top(raw: bytes, top: int, data: bytes, root: Any, limits: ParseLimits) -> bool:
    """Whether raw[:top], put on top of `data` (whose parse's root entity is `root`), only
    adds header fields this module does not read (see _from_parse)."""
    if top + root.body_start >= limits.max_header_bytes:
        return False
    head = raw[:top]
    crlf = head.count(b"\r\n")
    if (
        not head.endswith(b"\r\n")  # whole lines, each ended by a CRLF (no lone CR)
        or head.count(b"\r") != crlf
        or head.count(b"\n") != crlf
        or head.startswith(b"\r\n")  # and no empty line among them
        or b"\r\n\r\n" in head
    ):
        return False
    defects = _parse._Defects()
    headers, body_start = _parse._parse_headers(raw, 0, top, limits, defects, root=True)
    if (
        body_start != top
        or defects.as_tuple()
        or len(headers) + len(root.headers) >= limits.max_headers
        or any(name.lower() in _READ_FIELDS for name, _ in headers)
    ):
        return False
    if not data:
        return True
    line = _parse._LINE_RE.match(data, 0)
    line_end = line.end() if line else 0
    content_end = line_end
    while content_end > 0 and data[content_end - 1] in (10, 13):
        content_end -= 1
    if content_end == 0:  # the empty line: no header fields of its own
        return True
    return data[0] not in (32, 9) and _parse._FIELD_RE.match(data, 0, content_end) is not None


# --- strings ------------------------------------------------------------------------------------


def imap_string(raw: bytes) -> Json:
    """The stored form of an IMAP string with bytes `raw` (see the module docstring)."""
    raw = raw[:MAX_STRING]
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b": base64.b64encode(raw).decode("ascii")}


def leaf_bytes(value: str | dict[str, str]) -> bytes:
    """The bytes of a stored string. A NUL becomes U+FFFD, as Dovecot 2.3 sends it: an IMAP
    string (even a literal) may not hold NUL (RFC 9051 §4.3)."""
    raw = base64.b64decode(value["b"]) if isinstance(value, dict) else value.encode("utf-8")
    return raw.replace(b"\x00", "\ufffd".encode())


def to_wire(value: Json) -> Any:
    """A stored ENVELOPE/BODYSTRUCTURE value with each {"b": …} string turned into bytes
    (send as a literal; NUL as U+FFFD); str, int, None and lists as they are."""
    if isinstance(value, dict):
        return leaf_bytes(value)
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def _nstring(raw: bytes | None) -> Json:
    """A header value as an nstring: NIL when absent, "" when present but empty (Dovecot)."""
    if raw is None:
        return None
    return imap_string(raw.strip(b" \t\r\n"))


def _token(raw: bytes | None) -> Json:
    """A value that must not be empty (encoding, disposition type): NIL when it is."""
    value = None if raw is None else raw.strip(b" \t\r\n")
    return imap_string(value) if value else None


# --- header block -------------------------------------------------------------------------------


def _prefetch_block(raw: bytes, end: int) -> tuple[bytes, bool]:
    """The raw lines (with folds) of the PREFETCH_FIELDS fields of raw[:end], in order."""
    out: list[bytes] = []
    size = 0
    complete = True
    keep = False
    pos = 0
    head = raw[:end]
    while pos < len(head):
        nl = head.find(b"\n", pos)
        line_end = len(head) if nl < 0 else nl + 1
        line = head[pos:line_end]
        pos = line_end
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] not in (b" ", b"\t"):
            m = _FIELD_LINE.match(line)
            keep = m is not None and m.group(1).decode("latin-1").lower() in PREFETCH_FIELDS
            if keep and size + len(line) > MAX_HEADER_FIELDS_BYTES:
                complete, keep = False, False
        if keep:
            if size + len(line) > MAX_HEADER_FIELDS_BYTES:  # a huge folded field: drop it
                complete, keep = False, False
                _drop_last_field(out)
                continue
            if not line.endswith(b"\r\n"):
                line = line.rstrip(b"\r\n") + b"\r\n"
            out.append(line)
            size += len(line)
    block = b"".join(out)
    if not complete:
        size = len(block)
    return block, complete


def _drop_last_field(out: list[bytes]) -> None:
    while out:
        line = out.pop()
        if line[:1] not in (b" ", b"\t"):
            return


def pick_header_fields(
    block: bytes, names: Iterable[str], *, complete: bool = True
) -> bytes | None:
    """BODY[HEADER.FIELDS (names)] (RFC 9051 §6.4.5) from a stored prefetch block: the
    matching fields in order plus the empty line; None when the block cannot answer (a name
    not in PREFETCH_FIELDS, or an incomplete block): then read the message file."""
    wanted = _wanted(tuple(names))
    if not complete or wanted is None:
        return None
    if wanted is _ALL_FIELDS:  # every field the block holds: the block as it is
        return block + b"\r\n"
    # The block holds only whole fields (as header_fields_block wrote them, CRLF): each
    # starts at a line that is not a fold.
    out: list[bytes] = []
    keep = False
    for line in block.split(b"\r\n")[:-1]:
        if line[:1] not in (b" ", b"\t"):
            keep = line[: line.find(b":")].rstrip(b" \t").lower() in wanted
        if keep:
            out.append(line)
    out.append(b"\r\n")
    return b"\r\n".join(out)


_ALL_FIELDS: Final = frozenset(n.encode() for n in PREFETCH_FIELDS)


@functools.lru_cache(maxsize=256)
def _wanted(names: tuple[str, ...]) -> frozenset[bytes] | None:
    """The field names of a HEADER.FIELDS list as the block spells them (lower case), or None
    when one is not kept in the block; _ALL_FIELDS itself when they are all of them."""
    wanted = frozenset(n.lower() for n in names)
    if not wanted <= PREFETCH_FIELDS:
        return None
    return _ALL_FIELDS if wanted == PREFETCH_FIELDS else frozenset(n.encode() for n in wanted)


# --- structure ----------------------------------------------------------------------------------


def _message(
    raw: bytes, start: int, end: int, limits: ParseLimits, depth: int, budget: list[int]
) -> tuple[Any, list[Json]]:
    """(root entity, BODYSTRUCTURE) of the message at raw[start:end] (CRLF form)."""
    root = _build_span(raw, start, end, limits, max(0, depth), budget[0])
    return root, _part(raw, root, limits, depth, budget)


def _build_span(
    raw: bytes, start: int, end: int, limits: ParseLimits, max_depth: int, max_parts: int
) -> Any:
    """The entity tree of the message at raw[start:end]: mailcore.mime.parse's _build (same
    rules, same limits, explicit stack) over a span, so an encapsulated message/rfc822 is read
    in place: no copy per nesting level (50 levels of a 25 MB message would be 1.25 GB)."""
    defects = _parse._Defects()
    root: Any = None
    count = 0
    stack: list[tuple[int, int, int, str, Any]] = [(start, end, 0, "", None)]
    while stack:
        s, e, depth, parent_subtype, parent = stack.pop()
        if count >= max(1, max_parts):
            break
        count += 1
        ent = _parse._make_entity(
            raw, s, e, depth, parent_subtype, limits, defects, root=parent is None
        )
        if parent is None:
            root = ent
        elif parent.children is not None:
            parent.children.append(ent)
        if ent.maintype != "multipart":
            continue
        if depth >= max_depth:
            ent.opaque = True
            continue
        boundary = _parse._param_raw(ent.params, "boundary").rstrip()
        spans: list[tuple[int, int]] = []
        if boundary and len(boundary) <= _parse._MAX_BOUNDARY:
            spans = _parse._split_multipart(
                raw,
                ent.body_start,
                e,
                boundary.encode("latin-1"),
                max(1, max_parts - count + 1),
                defects,
            )
        if spans:
            ent.children = []
            for a, b in reversed(spans):
                stack.append((a, b, depth + 1, ent.subtype, ent))
            continue
        ent.content_type = "text/plain"  # recovery, as parse.py: the body shown as text
    assert root is not None  # the first pop always creates it
    return root


def _part(raw: bytes, ent: Any, limits: ParseLimits, depth: int, budget: list[int]) -> list[Json]:
    budget[0] -= 1
    get = _first_values(ent.headers).get
    ctype_raw = get("content-type")
    params = _params(ctype_raw)
    ext_tail = [
        _disposition(get("content-disposition")),
        _language(get("content-language")),
        _nstring(get("content-location")),
    ]
    if ent.maintype == "multipart" and ent.children and not ent.opaque:
        kids = [_part(raw, child, limits, depth - 1, budget) for child in ent.children]
        return [*kids, ent.subtype, params, *ext_tail]
    maintype, subtype = ent.maintype, ent.subtype
    if ent.opaque:  # a subtree past the depth limit: one opaque part
        maintype, subtype, params = "application", "octet-stream", None
    if maintype == "text" and not _has_param(params, "charset"):
        # RFC 2045 §5.2 default; Dovecot reports it too.
        params = ["charset", "us-ascii", *(params or [])]
    cte = get("content-transfer-encoding")
    encoding = _token(cte) or "7bit"
    size = ent.end - ent.body_start
    out: list[Json] = [
        maintype,
        subtype,
        params,
        _nstring(get("content-id")),
        _nstring(get("content-description")),
        encoding,
        size,
    ]
    lines = _lines(raw, ent.body_start, ent.end)
    if (
        maintype == "message"
        and subtype == "rfc822"
        and ent.cte in ("", "7bit", "8bit", "binary")
        and depth > 0
        and budget[0] > 0
    ):
        inner, inner_structure = _message(raw, ent.body_start, ent.end, limits, depth - 1, budget)
        out += [_envelope(inner.headers), inner_structure, lines]
    elif maintype == "text":
        out.append(lines)
    elif maintype == "message" and subtype == "rfc822":
        # Encoded (or past the limits): RFC 9051 still wants envelope and body; Dovecot
        # gives an empty envelope and an empty text part, and so do we.
        empty = ["text", "plain", ["charset", "us-ascii"], None, None, "7bit", 0, 0]
        out += [[None] * 10, [*empty, None, None, None, None], lines]
    out += [_nstring(get("content-md5")), *ext_tail]
    return out


def _lines(raw: bytes, start: int, end: int) -> int:
    """Lines of raw[start:end] (CRLF form), counted as Dovecot does: its line ends (a part's
    last line, whose CRLF belongs to the boundary that follows, does not count)."""
    return raw.count(b"\n", start, end) if end > start else 0


def _children(multipart: list[Json]) -> int:
    """How many parts a stored multipart BODYSTRUCTURE has (the lists before its subtype)."""
    n = 0
    while n < len(multipart) and isinstance(multipart[n], list):
        n += 1
    return n


def body_of(structure: list[Json]) -> list[Json]:
    """FETCH BODY (RFC 9051 §7.5.2, non-extensible) from a stored BODYSTRUCTURE."""
    if structure and isinstance(structure[0], list):  # multipart
        n = _children(structure)
        return [*(body_of(k) for k in structure[:n]), structure[n]]
    maintype, subtype = structure[0], structure[1]
    basic = structure[:7]
    if maintype == "message" and subtype == "rfc822" and len(structure) >= 10:
        return [*basic, structure[7], body_of(structure[8]), structure[9]]
    if maintype == "text" and len(structure) >= 8:
        return [*basic, structure[7]]
    return basic


# --- parameters ---------------------------------------------------------------------------------

_PARAM: Final = re.compile(
    rb'\s*([^\s=;"]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)(?:"|\\?\Z)|([^;]*)))?', re.S
)
_QPAIR: Final = re.compile(rb"\\(.)", re.S)
_MAX_PARAMS: Final = 100


def _params(value: bytes | None) -> Json:
    """["name", "value", …] of a Content-Type/-Disposition value, raw (RFC 2231 sections kept
    as sent: clients decode them), or None."""
    if value is None:
        return None
    out: list[Json] = []
    pairs: list[tuple[bytes, bytes]] = []
    semi = value.find(b";")
    count = 0
    while semi >= 0 and count < _MAX_PARAMS:
        m = _PARAM.match(value, semi + 1)
        nxt = value.find(b";", semi + 1)
        if m is None or not m.group(1):
            semi = nxt
            continue
        if m.group(2) is not None:
            val = _QPAIR.sub(rb"\1", m.group(2))
        elif m.group(3) is not None:
            val = m.group(3).strip()
        else:
            semi = value.find(b";", max(m.end(), semi + 1))
            continue  # a name without "=": not a parameter
        pairs.append((m.group(1), val))
        count += 1
        # A quoted value may hold ';': continue after what this match consumed.
        semi = value.find(b";", max(m.end(), semi + 1))
    for name, val in _merge_2231(pairs):
        out += [imap_string(name), imap_string(val)]
    return out or None


_SECTION: Final = re.compile(rb"(.+?)\*(\d{1,3})(\*?)")
_ATTR_CHAR: Final = re.compile(rb"[^A-Za-z0-9!#$&+\-.^_`|~]")


def _merge_2231(pairs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """RFC 2231 §3 continuations (name*0, name*1*, …) joined into one parameter, as Dovecot
    does: `name*` (charset'lang'%XX form, plain sections percent-encoded) when a section is
    encoded, else `name`. Values stay encoded: clients decode them."""
    sections: dict[bytes, dict[int, tuple[bytes, bool]]] = {}
    order: list[tuple[bytes, bytes | None]] = []
    for name, val in pairs:
        m = _SECTION.fullmatch(name)
        if m is None:
            order.append((name, val))
            continue
        base = m.group(1).lower()
        if base not in sections:
            sections[base] = {}
            order.append((m.group(1), None))
        sections[base].setdefault(int(m.group(2)), (val, bool(m.group(3))))
    out: list[tuple[bytes, bytes]] = []
    for name, plain in order:
        if plain is not None:
            out.append((name, plain))
            continue
        secs = sections[name.lower()]
        encoded = any(e for _, e in secs.values())
        joined = b"".join(
            v if e or not encoded else _ATTR_CHAR.sub(lambda c: b"%%%02X" % c.group()[0], v)
            for _, (v, e) in sorted(secs.items())
        )
        out.append((name + b"*" if encoded else name, joined))
    return out


def _has_param(params: Json, name: str) -> bool:
    if not params:
        return False
    return any(isinstance(k, str) and k.lower() == name for k in params[0::2])


def _disposition(value: bytes | None) -> Json:
    if value is None:
        return None
    kind = value.split(b";", 1)[0].strip(b" \t\r\n")
    if not kind:
        return None
    return [imap_string(kind), _params(value)]


def _language(value: bytes | None) -> Json:
    if value is None:
        return None
    tags = [t.strip() for t in re.sub(rb"\([^()]*\)", b"", value).split(b",") if t.strip()]
    if not tags:
        return None
    if len(tags) == 1:
        return imap_string(tags[0])
    return [imap_string(t) for t in tags[:_MAX_PARAMS]]


# --- envelope -----------------------------------------------------------------------------------


def _first_values(headers: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The first value of each field name (lower case): _parse._get for every name at once."""
    out: dict[str, bytes] = {}
    for key, value in headers:
        out.setdefault(key.lower(), value)
    return out


def _envelope(headers: list[tuple[str, bytes]]) -> list[Json]:
    first = _first_values(headers).get
    from_ = _addresses(first("from"))
    sender = _addresses(first("sender")) or from_
    reply_to = _addresses(first("reply-to")) or from_
    return [
        _nstring(first("date")),
        _nstring(first("subject")),
        from_,
        sender,
        reply_to,
        _addresses(first("to")),
        _addresses(first("cc")),
        _addresses(first("bcc")),
        _nstring(first("in-reply-to")),
        _nstring(first("message-id")),
    ]


_TOKEN: Final = re.compile(
    rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)'  # quoted string (closed, or cut at the end)
    rb"|\[(?:[^\[\]\\]|\\.)*+(?:\]|\Z)"  # domain literal
    rb"|[()<>,:;@]"
    rb"|[ \t\r\n]++"
    rb"|\\."
    rb'|[^ \t\r\n"()<>,:;@\[\\]++',
    re.S,
)


def _addresses(value: bytes | None) -> Json:
    """RFC 5322 §3.4 address list → ENVELOPE address list (None when empty). Tolerant and
    linear: one token pass; names stay raw (encoded words encoded, quotes removed)."""
    if value is None:
        return None
    out: list[Json] = []
    tokens = [m.group() for m in _TOKEN.finditer(value)]
    item: list[bytes] = []  # tokens of the current address outside comments
    comments: list[bytes] = []
    in_group = False
    i = 0

    def flush() -> None:
        if len(out) < MAX_ADDRESSES:
            address = _address(item, comments)
            if address is not None:
                out.append(address)
        item.clear()
        comments.clear()

    while i < len(tokens):
        tok = tokens[i]
        if tok == b"(":
            depth, buf = 1, []
            i += 1
            while i < len(tokens) and depth:
                t = tokens[i]
                depth += (t == b"(") - (t == b")")
                if depth:
                    buf.append(t)
                i += 1
            comments.append(b"".join(buf).strip())
            continue
        if tok == b"<":
            close = i + 1
            while close < len(tokens) and tokens[close] != b">":
                close += 1
            item.extend(tokens[i : close + 1])
            i = close + 1
            continue
        if tok == b",":
            flush()
        elif tok == b":" and not in_group and not _has_angle(item):
            name = _phrase(item)
            item.clear()
            comments.clear()
            if len(out) < MAX_ADDRESSES:
                out.append([None, None, imap_string(name) if name else "", None])
            in_group = True
        elif tok == b";" and in_group:
            flush()
            if len(out) < MAX_ADDRESSES:
                out.append([None, None, None, None])
            in_group = False
        else:
            item.append(tok)
        i += 1
    flush()
    if in_group and len(out) < MAX_ADDRESSES:
        out.append([None, None, None, None])  # an unclosed group still ends
    return out or None


def _has_angle(item: list[bytes]) -> bool:
    return b"<" in item


def _address(item: list[bytes], comments: list[bytes]) -> Json:
    if not any(t.strip() for t in item):
        return None
    if b"<" in item:
        at = item.index(b"<")
        name = _phrase(item[:at])
        inner = [t for t in item[at + 1 :] if t != b">"]
        adl: bytes | None = None
        if b":" in inner:  # obs-route: "@a,@b:" before the addr-spec
            colon = inner.index(b":")
            adl = b"".join(t for t in inner[:colon] if t.strip()) or None
            inner = inner[colon + 1 :]
        spec = inner
    else:
        name, adl, spec = b"", None, item
    mailbox, host = _addr_spec(spec)
    return [
        imap_string(name) if name else None,
        imap_string(adl) if adl else None,
        imap_string(mailbox) if mailbox else "MISSING_MAILBOX",
        imap_string(host) if host else "MISSING_DOMAIN",
    ]


def _addr_spec(tokens: list[bytes]) -> tuple[bytes, bytes]:
    words = [t for t in tokens if t.strip()]
    if b"@" in words:
        at = len(words) - 1 - words[::-1].index(b"@")
        local, domain = words[:at], words[at + 1 :]
    else:
        local, domain = words, []
    return b"".join(_unquote(t) for t in local), b"".join(domain)


def _phrase(tokens: list[bytes]) -> bytes:
    words = [_unquote(t) for t in tokens if t.strip() and t not in (b"<", b">")]
    return b" ".join(words).strip()


def _unquote(token: bytes) -> bytes:
    if token.startswith(b'"'):
        body = token[1:-1] if len(token) > 1 and token.endswith(b'"') else token[1:]
        return _QPAIR.sub(rb"\1", body)
    return token


# --- rendering ----------------------------------------------------------------------------------

_QUOTABLE: Final = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*+")
_MAX_QUOTED: Final = 1024


def render_string(value: str | dict[str, str] | None) -> bytes:
    """A stored string as an IMAP string: quoted when 7-bit and short, else a literal."""
    if value is None:
        return b"NIL"
    if isinstance(value, str):  # leaf_bytes, inlined: most strings are
        raw = value.encode("utf-8")
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", "\ufffd".encode())
    else:
        raw = leaf_bytes(value)
    if len(raw) < _MAX_QUOTED and _QUOTABLE.fullmatch(raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def _render(value: Json) -> bytes:
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("booleans have no IMAP form")
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, (str, dict)):
        return render_string(value)
    return b"(" + b" ".join(_render(v) for v in value) + b")"


def _render_addresses(value: Json) -> bytes:
    # RFC 9051 §9: env-from = "(" 1*address ")" / nil: no SP between the addresses.
    if value is None:
        return b"NIL"
    return b"(" + b"".join(_render(a) for a in value) + b")"


def render_envelope(envelope: list[Json]) -> bytes:
    """ENVELOPE in the exact RFC 9051 grammar (as Dovecot sends it)."""
    parts = [
        _render(v) if i not in (2, 3, 4, 5, 6, 7) else _render_addresses(v)
        for i, v in enumerate(envelope)
    ]
    return b"(" + b" ".join(parts) + b")"


def render_body(structure: list[Json]) -> bytes:
    """BODYSTRUCTURE (or BODY, given body_of()) in the exact RFC 9051 grammar: `1*body` with
    no SP between the parts of a multipart, as Dovecot sends it."""
    if structure and isinstance(structure[0], list):
        n = _children(structure)
        return (
            b"("
            + b"".join(render_body(k) for k in structure[:n])
            + b" "
            + b" ".join(_render(v) for v in structure[n:])
            + b")"
        )
    out: list[bytes] = []
    for i, v in enumerate(structure):
        if i == 7 and isinstance(v, list) and len(structure) > 9 and structure[0] == "message":
            out.append(render_envelope(v))
        elif i == 8 and isinstance(v, list) and structure[0] == "message":
            out.append(render_body(v))
        else:
            out.append(_render(v))
    return b"(" + b" ".join(out) + b")"
