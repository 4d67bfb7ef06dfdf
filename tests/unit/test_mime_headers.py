"""mailcore.mime.headers: where the header block of raw bytes ends, its lines and fields, with
the same rule as the full parser and a hard cap on how far it scans (security.md M4, M6, M7,
M14)."""

from __future__ import annotations

import time

import pytest

from mailcore.mime import parse_message
from mailcore.mime.headers import (
    MAX_HEADER_BYTES,
    HeaderBlock,
    find_header_block,
    get_header,
    header_fields,
    header_lines,
)


def split(data: bytes, **kw: int) -> tuple[bytes, bytes]:
    block = find_header_block(data, **kw)
    assert not block.truncated
    return data[: block.end], data[block.body_start :]


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    data = b"From: a" + eol + b"Subject: s" + eol + eol + b"body" + eol + eol + b"more"
    head, body = split(data)
    assert head == b"From: a" + eol + b"Subject: s" + eol
    assert body == b"body" + eol + eol + b"more"
    assert list(header_fields(data)) == [(b"From", b" a"), (b"Subject", b" s")]


def test_mixed_line_endings() -> None:
    # LF then CRLF, CR then CRLF: each is one line end followed by an empty line.
    assert split(b"A: 1\n\r\nbody") == (b"A: 1\n", b"body")
    assert split(b"A: 1\r\r\nbody") == (b"A: 1\r", b"body")
    assert split(b"A: 1\r\nB: 2\n\nbody") == (b"A: 1\r\nB: 2\n", b"body")


def test_lf_only_body_fields_are_not_headers() -> None:
    data = b"Subject: x\n\nMessage-ID: <in-body@x>\n"
    assert get_header(data, "message-id") is None
    assert [n for n, _ in header_fields(data)] == [b"Subject"]


def test_no_blank_line_all_header() -> None:
    for data in (b"From: a\r\nTo: b\r\n", b"From: a\r\nTo: b", b"From: a\n b\n"):
        block = find_header_block(data)
        assert block == HeaderBlock(len(data), len(data))
    assert get_header(b"From: a\r\nTo: b", "to") == b" b"


def test_no_blank_line_body_starts_at_first_non_header_line() -> None:
    data = b"From: a\r\nhello world\r\nTo: b\r\n\r\nx"
    assert find_header_block(data) == HeaderBlock(9, 9)
    assert get_header(data, "to") is None
    # No header at all: everything is body.
    assert find_header_block(b"hello\r\n\r\nFrom: a\r\n") == HeaderBlock(0, 0)
    assert find_header_block(b":no name\r\n") == HeaderBlock(0, 0)


def test_empty_and_blank_first_line() -> None:
    assert find_header_block(b"") == HeaderBlock(0, 0)
    assert split(b"\r\nFrom: a\r\n") == (b"", b"From: a\r\n")
    assert split(b"\n\nx") == (b"", b"\nx")


def test_leading_whitespace_line_belongs_to_no_field() -> None:
    data = b" folded: at the top\r\nFrom: a\r\n cont\r\n\r\nbody"
    head, body = split(data)
    assert head == b" folded: at the top\r\nFrom: a\r\n cont\r\n" and body == b"body"
    assert list(header_fields(data)) == [(b"From", b" a cont")]
    assert get_header(data, "folded") is None


def test_folded_lookup_crlf_and_lf() -> None:
    for eol in (b"\r\n", b"\n"):
        data = b"X: 1" + eol + b"Message-ID:" + eol + b"\t<a@" + eol + b" b>" + eol + eol + b"x"
        assert get_header(data, "Message-ID") == b"\t<a@ b>"
        assert get_header(data, "MESSAGE-ID") == b"\t<a@ b>"


def test_first_of_repeated_fields_and_wsp_before_colon() -> None:
    data = b"Subject : one\r\nSubject: two\r\n\r\n"
    assert get_header(data, "subject") == b" one"
    assert [v for n, v in header_fields(data)] == [b" one", b" two"]


def test_mbox_from_line_is_skipped() -> None:
    data = b"From alice@example.com Mon Mar  2 10:00:00 2026\nSubject: s\n\nbody"
    assert split(data)[1] == b"body"
    assert list(header_fields(data)) == [(b"Subject", b" s")]


def test_nul_bytes() -> None:
    data = b"Subject: a\x00b\r\nFrom\x00: evil\r\nFrom: good\r\n\r\nbody\x00"
    assert get_header(data, "subject") == b" a\x00b"
    assert get_header(data, "from") == b" good"  # 'From\x00' is not 'From'
    assert [n for n, _ in header_fields(data)] == [b"Subject", b"From\x00", b"From"]
    # A line that starts with NUL and has no colon is no header: the body starts there.
    assert find_header_block(b"A: 1\r\n\x00\r\nB: 2\r\n\r\n") == HeaderBlock(6, 6)


def test_one_megabyte_header_without_end_is_capped() -> None:
    hostile = [
        b"X: " + b"a" * (1 << 20),  # one line, no line end
        b"X-Long: a\r\n" * 100_000,  # many fields, no blank line, then a Message-ID
        b"X: a\r\n" + b" folded\r\n" * 100_000,  # one field folded 10^5 times
        b"\x00" * (1 << 20),
    ]
    for data in hostile:
        data += b"Message-ID: <late@x>\r\n\r\nbody"
        start = time.perf_counter()
        block = find_header_block(data)
        assert block == HeaderBlock(MAX_HEADER_BYTES, MAX_HEADER_BYTES, truncated=True)
        assert get_header(data, "message-id") is None  # beyond the cap: never seen
        assert time.perf_counter() - start < 1.0


def test_header_that_ends_just_inside_the_cap_is_whole() -> None:
    head = b"X: " + b"a" * (MAX_HEADER_BYTES - 5) + b"\r\n"  # exactly MAX_HEADER_BYTES
    assert len(head) == MAX_HEADER_BYTES
    assert split(head + b"\r\nbody") == (head, b"body")
    assert find_header_block(head + b"Y: 1\r\n\r\n").truncated  # one more line: too big


@pytest.mark.parametrize("limit", range(24))
def test_cap_never_mistakes_a_cut_line_for_the_body(limit: int) -> None:
    data = b"Subject: s\r\nFrom: a\r\n\r\nbody"  # the blank line starts at 21
    block = find_header_block(data, limit=limit)
    if limit >= 21:
        assert block == HeaderBlock(21, 23)
    else:
        assert block.truncated and block.end == limit == block.body_start


def test_cap_cuts_a_line_that_is_not_a_field_only_when_seen_whole() -> None:
    # 'hello' ends within the cap: the body starts there. Cut before its end: unknown.
    data = b"A: 1\r\nhello\r\n" + b"x" * 100
    assert find_header_block(data, limit=20) == HeaderBlock(6, 6)
    assert find_header_block(data, limit=9).truncated


def test_header_lines() -> None:
    assert header_lines(b"") == []
    assert header_lines(b"A: 1\r\n b\nC: 2\r") == [b"A: 1", b" b", b"C: 2"]
    assert header_lines(b"A: 1") == [b"A: 1"]


@pytest.mark.parametrize(
    "data",
    [
        b"From: a@x\r\nSubject: s\r\n\r\nbody\r\n",
        b"From: a@x\nSubject: s\n\nbody\n",
        b"From: a@x\r\nhello\r\nSubject: s\r\n\r\nbody\r\n",
        b" top\r\nFrom: a@x\r\nSubject:\r\n  folded\r\n\r\nbody\r\n",
        b"From: a@x\r\nSubject: s",
        b"Subject: a\x00b\r\n\x00\r\n\r\n",
    ],
)
def test_same_fields_as_the_full_parser(data: bytes) -> None:
    """One rule everywhere (M7): the fields found here are those parse_message reports."""
    parsed = parse_message(data)
    ours = [
        (n.decode("latin-1"), v.decode("latin-1").strip().replace("\x00", "\ufffd"))
        for n, v in header_fields(data)
    ]
    assert ours == parsed.headers()
