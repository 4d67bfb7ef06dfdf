"""Resource limits of the MX listener (security.md S10, S13): overlong lines and command floods
end in an error reply, never in unbounded memory or a hung session."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

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


def _unread_by_server(server_port: int, client_port: int) -> int | None:
    """Bytes the kernel holds for the server's socket of this connection that the server has
    not read yet (Recv-Q, from /proc/net/tcp); None if the socket is not found."""
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
            if int(local, 16) == server_port and int(remote, 16) == client_port:
                return int(fields[4].split(":")[1], 16)
    return None


def test_a_client_that_does_not_read_its_replies_is_not_read_either(alice, smtp_factory) -> None:
    """Backpressure: a client that pipelines commands without reading the replies fills the
    server's output up to the transport's high-water mark, then the server stops reading its
    commands (they wait in the kernel) instead of buffering replies without bound; once the
    client reads, every reply comes, in order."""
    host, port = smtp_factory(command_call_limit=1_000_000)
    commands = 80_000
    flood = b"EHLO c\r\n" + b"VRFY <a@b.example>\r\n" * commands + b"QUIT\r\n"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sender = threading.Thread(target=_send_quietly, args=(sock, flood), daemon=True)
    try:
        sender.start()
        client_port = sock.getsockname()[1]
        unread: list[int | None] = []
        for _ in range(150):  # the server's reads stop while its replies wait for the client
            time.sleep(0.1)
            unread.append(_unread_by_server(port, client_port))
            if len(unread) >= 10 and unread[-1] and len(set(unread[-10:])) == 1:
                break
        # a second without a byte read, with commands waiting (an unbounded writer reads all)
        assert unread[-1] and len(set(unread[-10:])) == 1, unread

        sock.settimeout(30)
        received = bytearray()
        while not received.endswith(b"\r\n221 2.0.0 Bye\r\n"):
            data = sock.recv(1 << 20)
            assert data, received[-200:]
            received += data
        sender.join(10)
    finally:
        sock.close()
    lines = bytes(received).split(b"\r\n")[:-1]
    assert lines[0].startswith(b"220 ")
    vrfy = [line for line in lines if line.startswith(b"252 ")]
    assert len(vrfy) == commands
    assert lines[-1] == b"221 2.0.0 Bye"


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)


def test_an_idle_session_times_out_counted_from_its_last_command(smtp_factory) -> None:
    """The session timeout (SMTP_TIMEOUT) runs from the last valid command: a command moves
    the deadline, and a client silent for the whole timeout is hung up on."""
    addr = smtp_factory(timeout=1.0)
    with socket.create_connection(addr, timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(1024).startswith(b"220 ")
        time.sleep(0.6)
        sock.sendall(b"NOOP\r\n")
        assert sock.recv(1024).startswith(b"250 ")
        last_command = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server
        closed = time.monotonic()
    assert closed - last_command >= 0.9, (closed - started, closed - last_command)
    assert closed - last_command < 3.0
    with socket.create_connection(addr, timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(1024).startswith(b"220 ")
        assert sock.recv(1024) == b""
        assert 0.9 <= time.monotonic() - started < 3.0
