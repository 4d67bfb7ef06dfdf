"""Resource limits of the MX listener (security.md S10, S13): overlong lines and command floods
end in an error reply, never in unbounded memory or a hung session."""

from __future__ import annotations

import socket

import pytest

from mailcore.delivery.models import QueueEntry

pytestmark = pytest.mark.django_db(transaction=True)


def _session(addr: tuple[str, int], payload: bytes, timeout: float = 10) -> bytes:
    sock = socket.create_connection(addr, timeout=timeout)
    sock.sendall(payload)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except TimeoutError:
        pass
    finally:
        sock.close()
    return b"".join(chunks)


def test_overlong_command_line_is_refused(alice, smtp_server) -> None:
    reply = _session(
        smtp_server, b"EHLO c\r\nMAIL FROM:<" + b"a" * 200_000 + b"@x.example>\r\nQUIT\r\n"
    )
    assert b"\r\n500 " in reply, reply[-300:]


def test_overlong_data_line_is_refused_after_the_data(alice, smtp_server) -> None:
    reply = _session(
        smtp_server,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\r\n\r\n" + b"y" * 100_000 + b"\r\n.\r\nQUIT\r\n",
    )
    assert b"500 5.5.2 Line too long" in reply, reply[-300:]
    assert QueueEntry.objects.count() == 0


def test_command_flood_is_cut_off(alice, smtp_factory) -> None:
    addr = smtp_factory(command_call_limit=20)
    reply = _session(addr, b"EHLO c\r\n" + b"NOOP\r\n" * 50)
    assert b"421" in reply, reply[-300:]
    assert reply.count(b"250 2.0.0 OK") <= 21
