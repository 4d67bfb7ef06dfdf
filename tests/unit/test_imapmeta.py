"""mailcore.mime.imapmeta, table-driven over tests/mail/*.eml against what Debian's Dovecot
2.3.19 answered for the same files (tests/mail/dovecot-2.3.19-fetch.imap: `FETCH 1:*
(RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)` over a Maildir of the corpus, recorded once)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from mailcore.mime import imapmeta

MAIL = Path(__file__).parent.parent / "mail"
DOVECOT = MAIL / "dovecot-2.3.19-fetch.imap"

# Where we answer differently from Dovecot on purpose (the rest must be equal):
DEVIATIONS = {
    # Dovecot shows an empty multipart; we show the body as text, as the webmail does
    # (mailcore.mime.parse's recovery rule, security.md M7).
    "broken_boundary_absent.eml",
    # Dovecot takes the line without a colon as more header; our one rule (mime.headers)
    # makes it the first body line, so BODY[TEXT] and the webmail agree.
    "broken_no_blank_line.eml",
    # Dovecot counts the CRLF before the next boundary into a message/rfc822 part (371 vs
    # 369 bytes); RFC 2046 §5.1.1 gives it to the boundary, and so do we.
    "forwarded_rfc822.eml",
}


def _parse_imap(data: bytes, pos: int) -> tuple[Any, int]:
    """One IMAP value at data[pos:] (NIL, number, quoted, literal, list): bytes for strings."""
    while data[pos : pos + 1] == b" ":
        pos += 1
    c = data[pos : pos + 1]
    if c == b"(":
        items: list[Any] = []
        pos += 1
        while True:
            while data[pos : pos + 1] == b" ":
                pos += 1
            if data[pos : pos + 1] == b")":
                return items, pos + 1
            item, pos = _parse_imap(data, pos)
            items.append(item)
    if c == b'"':
        m = re.compile(rb'"((?:[^"\\]|\\.)*)"').match(data, pos)
        assert m is not None
        return re.sub(rb"\\(.)", rb"\1", m.group(1)), m.end()
    if c == b"{":
        end = data.index(b"}", pos)
        n = int(data[pos + 1 : end])
        return data[end + 3 : end + 3 + n], end + 3 + n
    m = re.compile(rb"[^ ()]+").match(data, pos)
    assert m is not None
    word = m.group()
    return (None if word == b"NIL" else int(word) if word.isdigit() else word), m.end()


def _dovecot() -> dict[str, dict[str, Any]]:
    raw = DOVECOT.read_bytes()
    out: dict[str, dict[str, Any]] = {}
    for m in re.finditer(rb"^\* (\S+) FETCH ", raw, re.M):
        items, _ = _parse_imap(raw, m.end())
        out[m.group(1).decode()] = {
            items[i].decode(): items[i + 1] for i in range(0, len(items), 2)
        }
    return out


def _as_bytes(value: Any) -> Any:
    """A stored value with strings as their wire bytes (what a client receives)."""
    if isinstance(value, list):
        return [_as_bytes(v) for v in value]
    if isinstance(value, (str, dict)):
        return imapmeta.leaf_bytes(value)
    return value


CORPUS = sorted(p.name for p in MAIL.glob("*.eml"))


def test_the_dovecot_record_covers_the_corpus() -> None:
    assert sorted(_dovecot()) == CORPUS


@pytest.mark.parametrize("name", CORPUS)
def test_matches_dovecot(name: str) -> None:
    meta = imapmeta.compute((MAIL / name).read_bytes())
    theirs = _dovecot()[name]
    ours = {
        "RFC822.SIZE": meta.size,
        "ENVELOPE": _as_bytes(meta.envelope),
        "BODYSTRUCTURE": _as_bytes(meta.bodystructure),
        "BODY": _as_bytes(imapmeta.body_of(meta.bodystructure)),
    }
    assert ours["RFC822.SIZE"] == theirs["RFC822.SIZE"]
    assert ours["ENVELOPE"] == theirs["ENVELOPE"]
    # The stored IMAP text parses back to the same values.
    assert _parse_imap(meta.envelope_imap, 0)[0] == ours["ENVELOPE"]
    assert _parse_imap(meta.bodystructure_imap, 0)[0] == ours["BODYSTRUCTURE"]
    if name in DEVIATIONS:
        assert ours["BODYSTRUCTURE"] != theirs["BODYSTRUCTURE"]  # still a deviation?
    else:
        assert ours["BODYSTRUCTURE"] == theirs["BODYSTRUCTURE"]
        assert ours["BODY"] == theirs["BODY"]


@pytest.mark.parametrize("name", CORPUS)
def test_stored_form_is_lossless_jsonb_safe_json(name: str) -> None:
    meta = imapmeta.compute((MAIL / name).read_bytes())
    for value in (meta.envelope, meta.bodystructure):
        text = json.dumps(value, ensure_ascii=False)
        assert "\\u0000" not in text and "\x00" not in text  # PostgreSQL jsonb refuses NUL
        text.encode("utf-8")  # no lone surrogates either
        assert json.loads(text) == value


def test_eight_bit_header_bytes_survive_exactly() -> None:
    data = (MAIL / "raw8bit_cp949_header.eml").read_bytes()
    meta = imapmeta.compute(data)
    subject = meta.envelope[1]
    assert isinstance(subject, dict)  # CP949 bytes are not UTF-8: kept as base64
    assert base64.b64decode(subject["b"]) in data
    utf8 = imapmeta.compute((MAIL / "raw8bit_utf8_header.eml").read_bytes())
    assert utf8.envelope[1] == "회의 안내 (raw UTF-8)"  # UTF-8 stays a plain string
    nul = imapmeta.compute((MAIL / "nul_bytes.eml").read_bytes())
    assert base64.b64decode(nul.envelope[1]["b"]) == b"nul\x00inside"
    assert imapmeta.leaf_bytes(nul.envelope[1]) == "nul\ufffdinside".encode()


def test_sizes_are_those_of_the_crlf_form() -> None:
    data = (MAIL / "bare_lf.eml").read_bytes()
    assert b"\r\n" not in data
    meta = imapmeta.compute(data)
    crlf = data.replace(b"\n", b"\r\n")
    assert meta.size == len(crlf)
    assert meta.header_size == crlf.index(b"\r\n\r\n") + 4
    assert meta.header_size + meta.body_size == meta.size
    assert meta.body_lines == crlf[meta.header_size :].count(b"\n")
    # CRs before a line end belong to it, as in the store (maildir.canonical_crlf).
    assert imapmeta.compute(b"Subject: x\r\r\n\r\nbody\r\r\n").size == len(
        b"Subject: x\r\n\r\nbody\r\n"
    )


def test_prefetched_header_fields() -> None:
    data = (MAIL / "alternative_text_html.eml").read_bytes()
    meta = imapmeta.compute(data)
    assert meta.header_fields_complete
    head = data[: data.index(b"\r\n\r\n") + 2]
    picked = imapmeta.pick_header_fields(meta.header_fields, ["subject", "FROM"])
    assert picked is not None
    lines = [ln for ln in head.split(b"\r\n") if ln.lower().startswith((b"from:", b"subject:"))]
    assert picked == b"".join(ln + b"\r\n" for ln in lines) + b"\r\n"
    # A field that was not prefetched: the caller reads the file.
    assert imapmeta.pick_header_fields(meta.header_fields, ["Received"]) is None
    # Folded fields keep their folds; an absent field gives just the empty line.
    folded = b"Subject: one\r\n two\r\nX-Other: y\r\nTo: a@b\r\n\r\nbody"
    block = imapmeta.compute(folded).header_fields
    assert block == b"Subject: one\r\n two\r\nTo: a@b\r\n"
    assert imapmeta.pick_header_fields(block, ["subject"]) == b"Subject: one\r\n two\r\n\r\n"
    assert imapmeta.pick_header_fields(block, ["cc"]) == b"\r\n"


def test_huge_prefetch_field_marks_the_block_incomplete() -> None:
    refs = b"References:" + b" <x@example.com>" * 8000 + b"\r\n"
    meta = imapmeta.compute(b"Subject: s\r\n" + refs + b"To: a@b\r\n\r\nbody")
    assert not meta.header_fields_complete
    assert b"References" not in meta.header_fields
    assert meta.header_fields == b"Subject: s\r\nTo: a@b\r\n"
    assert imapmeta.pick_header_fields(meta.header_fields, ["subject"], complete=False) is None


def test_hostile_nesting_is_bounded() -> None:
    depth = 3000
    parts = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    )
    meta = imapmeta.compute(b"Subject: deep\r\n" + parts + b"x\r\n")
    text = imapmeta.render_body(meta.bodystructure)
    assert text.count(b"(") <= 200  # MAX depth (50) levels, not 3000
    forwards = b"Content-Type: message/rfc822\r\n\r\n" * 3000 + b"Subject: end\r\n\r\nx"
    assert imapmeta.render_body(imapmeta.compute(forwards).bodystructure).count(b"(") < 2000


def test_rendering_follows_the_rfc_grammar() -> None:
    meta = imapmeta.compute((MAIL / "related_cid_image.eml").read_bytes())
    body = imapmeta.render_body(meta.bodystructure)
    assert body.startswith(b'(((("text" "plain"')
    assert b')("text" "html"' in body  # 1*body: no SP between parts
    env = imapmeta.compute((MAIL / "alternative_text_html.eml").read_bytes()).envelope
    rendered = imapmeta.render_envelope(env)
    assert b'(("Bob" NIL "bob" "example.org")(NIL NIL "carol" "example.net"))' in rendered
    raw8 = imapmeta.compute((MAIL / "raw8bit_cp949_header.eml").read_bytes())
    assert b"{29}\r\n" in imapmeta.render_envelope(raw8.envelope)  # 8-bit: a literal


def test_nested_messages_are_read_in_place() -> None:
    # 60 levels of message/rfc822 around 2.4 MB: each level is parsed where it lies (no copy
    # per level), and the depth limit ends the nesting with an empty message.
    data = b"Content-Type: message/rfc822\r\n\r\n" * 60 + b"Subject: end\r\n\r\n"
    data += (b"x" * 76 + b"\r\n") * 32000
    meta = imapmeta.compute(data)
    depth, node = 0, meta.bodystructure
    while node[0] == "message" and isinstance(node[8], list):
        depth, node = depth + 1, node[8]
    assert depth == 51  # max_depth (50) levels parsed, then the empty message
    assert meta.bodystructure[6] == len(data) - len(b"Content-Type: message/rfc822\r\n\r\n")
