"""The DATA reader (mailcore/smtp/data.py): the end of the data, dot-unstuffing, lone LFs and
CRs, the line and size limits, wherever the client's writes split the stream. First the scanner
against a line-by-line reference (the reader it replaced) at every split point, then the MX
listener over raw sockets, the bytes sent in separate writes."""

from __future__ import annotations

import random
import smtplib
import socket
import time
from pathlib import Path

import pytest

from mailcore.delivery.models import QueueEntry
from mailcore.smtp.data import DataScanner

LINE_LIMIT = 20
SIZE_LIMIT = 60


def reference(stream: bytes, line_limit: int, size_limit: int | None):  # type: ignore[no-untyped-def]
    """Line by line, as the old reader: (content or the refusal, bytes consumed), or None when
    the stream holds no end of data."""
    pos, total, after_crlf = 0, 0, True
    lines: list[bytes] = []
    refusal = ""
    while True:
        lf = stream.find(b"\n", pos)
        if lf < 0:
            return None
        line = stream[pos : lf + 1]
        if after_crlf and line == b".\r\n":
            return (refusal or b"".join(lines)), lf + 1
        if not refusal:
            long_at = total + line_limit if len(line) > line_limit else None
            size_at = size_limit if size_limit and total + len(line) > size_limit else None
            if long_at is not None and (size_at is None or long_at < size_at):
                refusal = "too long"
            elif size_at is not None:
                refusal = "too much"
        total += len(line)
        lines.append(line[1:] if line.startswith(b".") else line)
        after_crlf = line.endswith(b"\r\n")
        pos = lf + 1


def scan(stream: bytes, cuts: list[int], line_limit: int, size_limit: int | None):  # type: ignore[no-untyped-def]
    """Feed `stream` as a reader would: the buffer grows at each cut, taken bytes leave it."""
    scanner = DataScanner(line_limit, size_limit)
    buffer = bytearray()
    consumed = 0
    edges = [*cuts, len(stream)]
    start = 0
    for edge in edges:
        buffer += stream[start:edge]
        start = edge
        taken = scanner.feed(buffer)
        del buffer[:taken]
        consumed += taken
        if scanner.done:
            break
    if not scanner.done:
        return None
    if scanner.too_long:
        return "too long", consumed
    if scanner.too_much:
        return "too much", consumed
    return scanner.content(), consumed


CASES = [
    (b".\r\nQUIT\r\n", b""),  # empty message: the DATA line's CRLF is the first CRLF
    (b"a\r\n.\r\n", b"a\r\n"),
    (b"..dot\r\n.x\r\n...\r\n.\r\n", b".dot\r\nx\r\n..\r\n"),  # dot-stuffing, every line
    (b"a\n.\nb\r\n.\r\n", b"a\n\nb\r\n"),  # lone LF: "." with LF only ends nothing
    (b"a\n.\r\nb\r\n.\r\n", b"a\n\r\nb\r\n"),  # LF "." CRLF: content, unstuffed
    (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\nb\r\n"),  # CRLF "." LF: content
    (b"a\r.\rb\r\n.\r\n", b"a\r.\rb\r\n"),  # bare CRs stay (the handler refuses them)
    (b"a\r\n..\r\n.\r\nNEXT", b"a\r\n.\r\n"),  # a stuffed "." line is not the end
    (b"a\r\n.\r\n.\r\n", b"a\r\n"),  # pipelined data after the end is not taken
    (b"x" * 18 + b"\r\n.\r\n", b"x" * 18 + b"\r\n"),  # a line of exactly 20 with CRLF
    (b"x" * 19 + b"\r\n.\r\n", "too long"),  # 21
    (b"x" * 20 + b"\n.\r\n" + b"y\r\n.\r\n", "too long"),  # LF-ended lines count too
    (b"x" * 19 + b"\n.\r\n" + b"y\r\n.\r\n", b"x" * 19 + b"\n\r\ny\r\n"),  # 20: fits
    ((b"x" * 8 + b"\r\n") * 6 + b".\r\n", b"xxxxxxxx\r\n" * 6),  # exactly 60 bytes
    ((b"x" * 8 + b"\r\n") * 6 + b"y\r\n.\r\n", "too much"),  # 63
    (b"x" * 8 + b"\r\n" + b"z" * 30 + b"\r\n.\r\nQUIT\r\n", "too long"),
    ((b"x" * 18 + b"\r\n") * 3 + b"y" * 30 + b"\r\n.\r\n", "too much"),  # size first
    (b"a\r\n.\r", None),  # no end yet
    (b"a\r\n", None),
]


@pytest.mark.parametrize(("stream", "expected"), CASES, ids=repr)
def test_scanner_at_every_split_point(stream: bytes, expected: object) -> None:
    ref = reference(stream, LINE_LIMIT, SIZE_LIMIT)
    assert (ref[0] if ref else None) == expected
    for cut in range(len(stream) + 1):
        assert scan(stream, [cut], LINE_LIMIT, SIZE_LIMIT) == ref, cut
    assert scan(stream, list(range(1, len(stream))), LINE_LIMIT, SIZE_LIMIT) == ref


def test_scanner_against_the_reference_on_random_streams() -> None:
    rnd = random.Random(17)
    alphabet = [b"\r\n", b"\n", b"\r", b".", b"..", b"x", b"yz", b"\r\n.\r\n", b"\r\n."]
    for _ in range(3000):
        stream = b"".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30)))
        stream += rnd.choice([b"\r\n.\r\n", b"", b".\r\n"]) + b"MAIL"
        cuts = sorted(rnd.sample(range(len(stream) + 1), min(len(stream), rnd.randint(0, 5))))
        limit = rnd.choice([None, 0, 10, 40])
        assert scan(stream, cuts, 12, limit) == reference(stream, 12, limit), (stream, cuts)


# --- over the wire ---------------------------------------------------------------------------

HEAD = b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"


def _session(addr: tuple[str, int], writes: list[bytes]) -> list[bytes]:
    """Each write sent on its own (Nagle off, a pause between) so the server reads them apart."""
    sock = socket.create_connection(addr, timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for data in writes:
        sock.sendall(data)
        time.sleep(0.05)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    sock.close()
    return b"".join(chunks).split(b"\r\n")


def _stored(settings) -> bytes:  # type: ignore[no-untyped-def]
    entry = QueueEntry.objects.get()
    data = (Path(settings.SPOOL_DIR) / entry.spool_name).read_bytes()
    return data.split(b"\r\n\r\n", 1)[1]  # past our Received: and the message's header


WIRE = [
    # (writes after the DATA line, reply code, stored body or None)
    ([b"S: x\r\n\r\n..a\r\n.b\r\n.\r\nQUIT\r\n"], b"250", b".a\r\nb\r\n"),
    ([b"S: x\r\n\r\nbody\r", b"\n.", b"\r", b"\nQUIT\r\n"], b"250", b"body\r\n"),  # split end
    ([b"S: x\r\n\r\nbody\r\n", b".\r\nQUIT\r\n"], b"250", b"body\r\n"),
    ([b"S: x\r\n\r\na\n.\nb\r\n.\r\nQUIT\r\n"], b"250", b"a\r\n\r\nb\r\n"),  # LF-only ".": no end
    ([b"S: x\r\n\r\nline\rmore\r\n.\r\nQUIT\r\n"], b"554", None),  # bare CR
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("writes", "code", "body"), WIRE, ids=repr)
def test_data_over_the_wire(alice, smtp_factory, settings, writes, code, body) -> None:  # type: ignore[no-untyped-def]
    addr = smtp_factory()
    lines = _session(addr, [HEAD, *writes])
    final = lines[lines.index(next(ln for ln in lines if ln.startswith(b"354"))) + 1]
    assert final.startswith(code), lines
    if body is None:
        assert QueueEntry.objects.count() == 0
    else:
        assert _stored(settings) == body
    assert lines[-2].startswith(b"221"), lines  # the pipelined QUIT was read as a command


@pytest.mark.django_db(transaction=True)
def test_size_limit_exactly_at_the_boundary(alice, smtp_factory) -> None:
    addr = smtp_factory(max_message_bytes=1000)
    header = b"Subject: s\r\n\r\n"
    body = header + b"x" * (1000 - len(header) - 2) + b"\r\n"  # 1000 bytes as sent
    assert len(body) == 1000
    with smtplib.SMTP(*addr, timeout=10) as c:
        c.ehlo("c")
        c.mail("a@r.example")
        c.rcpt("alice@example.com")
        assert c.data(body)[0] == 250
        c.mail("a@r.example")
        c.rcpt("alice@example.com")
        code, text = c.data(body[:-2] + b"x\r\n")  # 1001
        assert (code, text[:5]) == (552, b"5.3.4")
        # The limit is on the bytes as sent: a stuffed dot counts (999 + 1 fits, 1000 + 1 not).
        stuffed = b"Subject: s\r\n\r\n." + b"x" * 982 + b"\r\n"
        assert len(stuffed) == 999
        c.mail("a@r.example")  # the session goes on
        c.rcpt("alice@example.com")
        assert c.data(stuffed)[0] == 250
        c.mail("a@r.example")
        c.rcpt("alice@example.com")
        assert c.data(stuffed[:-2] + b"x\r\n")[0] == 552
    assert QueueEntry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_long_message_in_many_reads(alice, smtp_factory, settings) -> None:
    addr = smtp_factory()
    body = b"".join(b".%06d " % i + b"y" * 70 + b"\r\n" for i in range(20_000))  # 1.6 MB
    with smtplib.SMTP(*addr, timeout=30) as c:
        c.ehlo("c")
        c.sendmail("a@r.example", ["alice@example.com"], b"Subject: s\r\n\r\n" + body)
    assert _stored(settings) == body  # smtplib stuffs each "." and the reader unstuffs it


@pytest.mark.django_db(transaction=True)
def test_bdat_is_not_offered(alice, smtp_factory) -> None:
    addr = smtp_factory()
    with smtplib.SMTP(*addr, timeout=10) as c:
        c.ehlo("c")
        assert not c.has_extn("chunking")
        c.mail("a@r.example")
        c.rcpt("alice@example.com")
        assert c.docmd("BDAT", "5 LAST")[0] == 500
        assert c.data(b"Subject: s\r\n\r\nstill fine\r\n")[0] == 250
