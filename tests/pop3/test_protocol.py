"""The pure wire layer: command parser table, line reader caps, dot-stuffing and TOP."""

from __future__ import annotations

import pytest

from mailcore.pop3.protocol import (
    Command,
    DotStuffer,
    LineReader,
    Pop3SyntaxError,
    TooLong,
    line_count,
    message_number,
    parse_command,
    uidl_of,
)

GOOD = [
    (b"STAT", Command("STAT")),
    (b"stat", Command("STAT")),
    (b"LIST", Command("LIST")),
    (b"LIST 3", Command("LIST", ("3",))),
    (b"RETR 1", Command("RETR", ("1",))),
    (b"TOP 1 0", Command("TOP", ("1", "0"))),
    (b"UIDL", Command("UIDL")),
    (b"USER alice@example.com", Command("USER", ("alice@example.com",))),
    (b"PASS correct horse 1", Command("PASS", ("correct horse 1",))),  # spaces kept
    (b"AUTH", Command("AUTH")),
    (b"AUTH PLAIN", Command("AUTH", ("PLAIN",))),
    (b"AUTH PLAIN " + b"A" * 1000, Command("AUTH", ("PLAIN", "A" * 1000))),  # RFC 5034 §4
    (b"UTF8", Command("UTF8")),
    (b"CAPA", Command("CAPA")),
    (b"USER \xed\x95\x9c@example.com", Command("USER", ("한@example.com",))),
]

BAD = [
    (b"", "Unknown command"),
    (b" STAT", "Unknown command"),
    (b"XYZZY", "Unknown command"),
    (b"FOO", "Unknown command"),
    (b"STAT 1", "Wrong number"),
    (b"RETR", "Wrong number"),
    (b"TOP 1", "Wrong number"),
    (b"TOP 1 2 3", "Wrong number"),
    (b"LIST 1 2", "Wrong number"),
    (b"LIST  1", "Empty argument"),
    (b"USER", "needs an argument"),
    (b"PASS", "needs an argument"),
    (b"LIST " + b"1" * 41, "Argument too long"),
    (b"USER " + b"a" * 260, "too long"),  # RFC 2449 §4: 255 octets a line
    (b"STAT\x00", "NUL"),
    (b"USER \xff", "not UTF-8"),
]


@pytest.mark.parametrize(("line", "expected"), GOOD)
def test_parse_good(line: bytes, expected: Command) -> None:
    assert parse_command(line) == expected


@pytest.mark.parametrize(("line", "message"), BAD)
def test_parse_bad(line: bytes, message: str) -> None:
    with pytest.raises(Pop3SyntaxError, match=message):
        parse_command(line)


@pytest.mark.parametrize("arg", ["0", "-1", "x", "1.5", "+1", "99999999999", "١"])
def test_bad_message_numbers(arg: str) -> None:
    with pytest.raises(Pop3SyntaxError):
        message_number(arg)


def test_numbers() -> None:
    assert message_number("007") == 7
    assert line_count("0") == 0
    with pytest.raises(Pop3SyntaxError):
        line_count("-1")


def test_uidl_format() -> None:
    # Dovecot's %08Xu%08Xv.
    assert uidl_of(1700000000, 42) == "0000002A6553F100"
    assert uidl_of(0xFFFFFFFF, 1) == "00000001FFFFFFFF"


def test_line_reader_splits_and_caps() -> None:
    r = LineReader(max_line=20)
    r.feed(b"STAT\r\nLIST\nRE")
    assert r.next_line() == b"STAT"
    assert r.next_line() == b"LIST"
    assert r.next_line() is None
    r.feed(b"TR 1\r\n")
    assert r.next_line() == b"RETR 1"
    r.feed(b"X" * 50)
    assert isinstance(r.next_line(), TooLong)
    r.feed(b"Y" * 50)
    assert r.next_line() is None  # still inside the same long line: reported once
    r.feed(b"tail\r\nNOOP\r\n")
    assert r.next_line() == b"NOOP"
    assert r.buffered() == 0
    r.feed(b"Z" * 30 + b"\r\nSTAT\r\n")  # a long line and the next command in one read
    assert isinstance(r.next_line(), TooLong)
    assert r.next_line() == b"STAT"
    r.feed(b"QUIT\r\nSTAT\r\n")
    r.discard_buffer()
    assert r.next_line() is None


def stuff(data: bytes, body_lines: int | None = None, chunk: int = 3) -> bytes:
    s = DotStuffer(body_lines)
    out = b"".join(s.feed(data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + s.finish()


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_dot_stuffing_any_chunking(chunk: int) -> None:
    data = b"A: b\r\n\r\n.x\r\n..y\r\n.\r\nz.\r\n."
    assert stuff(data, chunk=chunk) == b"A: b\r\n\r\n..x\r\n...y\r\n..\r\nz.\r\n..\r\n.\r\n"
    assert stuff(b"", chunk=chunk) == b".\r\n"
    assert stuff(b".\r\n", chunk=chunk) == b"..\r\n.\r\n"


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_top(chunk: int) -> None:
    data = b"A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n"
    assert stuff(data, 0, chunk) == b"A: 1\r\nB: 2\r\n\r\n.\r\n"
    assert stuff(data, 2, chunk) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n"
    assert stuff(data, 99, chunk) == stuff(data, None, chunk)
    assert stuff(b"A: 1\r\nB: 2", 0, chunk) == b"A: 1\r\nB: 2\r\n.\r\n"  # header only
