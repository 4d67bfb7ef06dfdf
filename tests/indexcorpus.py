"""Messages for the index-row tests (tests/unit/test_imapmeta_reuse.py,
tests/unit/test_search_keys.py, tests/store/test_indexrows.py): the .eml corpus of
tests/mail and made-up edge cases (line ends, header caps, nesting, no body), and the
search keys' reference implementation (the one before the faster document_keys)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mailcore.search.text import _RUN_RE, _segments_of

MAIL = Path(__file__).parent / "mail"

_PLAIN = (
    b"Authentication-Results: mail.example.com; spf=none smtp.mailfrom=sender.example\r\n"
    b"From: Load <load@sender.example>\r\nTo: bench@example.com\r\nSubject: ingest 1\r\n"
    b"Message-ID: <ingest-1@sender.example>\r\n\r\n"
    + b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    * 70
)


def _nested(depth: int) -> bytes:
    head = b"From: deep@example.com\r\nSubject: deep\r\n"
    out = b""
    for n in range(depth):
        out += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
    out += b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for n in reversed(range(depth)):
        out += b"--b%d--\r\n" % n
    return head + out


def _many_parts(count: int) -> bytes:
    parts = b"".join(
        b'--p\r\nContent-Type: text/plain; name="n%d.txt"\r\n\r\npart %d\r\n' % (n, n)
        for n in range(count)
    )
    return (
        b'From: parts@example.com\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n'
        + parts
        + b"--p--\r\n"
    )


def _headers(count: int, *, pad: int = 0) -> bytes:
    fields = b"".join(b"X-F%d: %s\r\n" % (n, b"v" * pad) for n in range(count))
    return b"From: many@example.com\r\n" + fields + b"Subject: last\r\n\r\nbody\r\n"


MADE_UP: dict[str, bytes] = {
    "plain": _PLAIN,
    "bare_lf_plain": _PLAIN.replace(b"\r\n", b"\n"),
    "cr_before_crlf": b"From: a@example.com\r\r\nSubject: x\r\n\r\nbody\r\r\nend\r\n",
    "lone_cr": b"From: a@example.com\r\nSubject: a\rb\r\n\r\nbody\rmore\r\n",
    "no_body": b"From: a@example.com\r\nSubject: no body\r\n\r\n",
    "headers_only_no_blank_line": b"From: a@example.com\r\nSubject: x",
    "empty_header_block": b"\r\nonly a body\r\n",
    "lone_cr_first": b"\rX-A: y\r\n\r\nbody\r\n",
    "continuation_first": b" folded\r\nFrom: a@example.com\r\n\r\nbody\r\n",
    "mbox_from_first": b"From a@example.com Mon Jan  1 00:00:00 2026\r\nFrom: a@example.com\r\n"
    b"Subject: mbox\r\n\r\nbody\r\n",
    "not_a_field_first": b"garbage line\r\nFrom: a@example.com\r\n\r\nbody\r\n",
    "return_path_inside": b"Return-Path: <old@example.com>\r\nFrom: a@example.com\r\n"
    b"Subject: rp\r\n\r\nbody\r\n",
    "content_type_first": b'Content-Type: multipart/alternative; boundary="z"\r\n'
    b"From: a@example.com\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nt\r\n--z\r\n"
    b"Content-Type: text/html\r\n\r\n<p>h</p>\r\n--z--\r\n",
    "nul_everywhere": b"From: a@example.com\r\nSubject: a\x00b\r\nX-\x00: y\r\n\r\nb\x00dy\r\n",
    "raw_utf8_subject": (
        "From: 홍길동 <hong@example.com>\r\nSubject: 회의 자료\r\n\r\n본문\r\n".encode()
    ),
    "euc_kr_subject": "From: a@example.com\r\nSubject: 회의 자료\r\n\r\n본문\r\n".encode("euc-kr"),
    "huge_subject": b"From: a@example.com\r\nSubject: " + b"w" * 70_000 + b"\r\n\r\nbody\r\n",
    "huge_folded_subject": b"From: a@example.com\r\nSubject: s\r\n"
    + b" fold fold fold\r\n" * 5_000
    + b"To: b@example.com\r\n\r\nbody\r\n",
    "header_block_over_cap": _headers(3_000, pad=100),
    "header_block_near_cap": _headers(1, pad=256 * 1024 - 120),
    "headers_999": _headers(997),
    "headers_1000": _headers(998),
    "headers_1100": _headers(1_100),
    "nested_60": _nested(60),
    "nested_49": _nested(49),
    "parts_1200": _many_parts(1_200),
    "rfc822_inside": b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="o"\r\n\r\n'
    b"--o\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: inner\r\n"
    b'Content-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\n'
    b"inner text\r\n--i--\r\n--o--\r\n",
}


def corpus() -> dict[str, bytes]:
    """Every message: tests/mail/*.eml and MADE_UP, by name."""
    out = {p.name: p.read_bytes() for p in sorted(MAIL.glob("*.eml"))}
    out.update(MADE_UP)
    return out


def reference_document_keys(fields: Iterable[str], *, cjk_trigrams: bool) -> set[str]:
    """mailcore.search.text.document_keys as it was before it split words first."""
    runs: set[str] = set()
    for text in fields:
        runs.update(_RUN_RE.findall(text))
    keys: set[str] = set()
    for run in runs:
        for seg, cjk in _segments_of(run):
            n = len(seg)
            if cjk:
                if n == 1:
                    keys.add(seg)
                    continue
                keys.update(seg[i : i + 2] for i in range(n - 1))
                if cjk_trigrams:
                    keys.update(seg[i : i + 3] for i in range(n - 2))
            elif n >= 3:
                keys.update(seg[i : i + 3] for i in range(n - 2))
    return keys
