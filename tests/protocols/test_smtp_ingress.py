"""The MX listener driven by smtplib and raw sockets: every reply code the issue names, and no
message lost or smuggled."""

from __future__ import annotations

import smtplib
import socket
import ssl
from pathlib import Path

import pytest

from mailcore.delivery.models import QueueEntry, QueueRecipient
from mailcore.directory.actions import do_add_alias, do_create_account, do_set_account_active

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


def client(addr: tuple[str, int]) -> smtplib.SMTP:
    c = smtplib.SMTP(*addr, timeout=10)
    c.ehlo("client.remote.example")
    return c


def spooled(entry: QueueEntry, settings) -> bytes:  # type: ignore[no-untyped-def]
    return (Path(settings.SPOOL_DIR) / entry.spool_name).read_bytes()


def test_ehlo_advertises_extensions_and_no_auth(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        for ext in (
            "size",
            "8bitmime",
            "pipelining",
            "smtputf8",
            "enhancedstatuscodes",
            "starttls",
        ):
            assert c.has_extn(ext), ext
        assert not c.has_extn("auth")


def test_accepted_message_is_spooled_and_queued_before_250(alice, smtp_server, settings) -> None:
    with client(smtp_server) as c:
        c.mail("bob@remote.example")
        c.rcpt("alice@example.com")
        code, reply = c.data(MSG)
    assert code == 250
    assert reply.startswith(b"2.0.0 Ok: queued as ")
    queue_id = reply.decode().rsplit(" ", 1)[1]
    entry = QueueEntry.objects.get(queue_id=queue_id)
    assert entry.state == "queued" and entry.sender == "bob@remote.example"
    assert list(entry.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    data = spooled(entry, settings)
    assert data.startswith(b"Received: from client.remote.example ([127.0.0.1])\r\n\tby mx.test")
    assert f"id {queue_id}".encode() in data and b"for <alice@example.com>" in data
    assert data.endswith(MSG) and entry.size == len(data)


@pytest.mark.parametrize(
    ("rcpt", "code", "enhanced"),
    [
        ("nobody@example.com", 550, b"5.1.1"),
        ("Alice@EXAMPLE.com", 250, b"2.1.5"),
        ("alice+news@example.com", 250, b"2.1.5"),
        ("postmaster@example.com", 250, b"2.1.5"),
        ("relaytest@external.example", 554, b"5.7.1"),
    ],
)
def test_rcpt_checks(alice, smtp_server, rcpt: str, code: int, enhanced: bytes) -> None:
    with client(smtp_server) as c:
        c.mail("bob@remote.example")
        got, text = c.rcpt(rcpt)
    assert (got, text[:5]) == (code, enhanced)


def test_disabled_account_is_refused(alice, smtp_server) -> None:
    do_set_account_active("alice@example.com", False)
    with client(smtp_server) as c:
        c.mail("bob@remote.example")
        assert c.rcpt("alice@example.com")[:2] == (
            550,
            b"5.2.1 <alice@example.com>: Mailbox disabled",
        )


def test_aliases_and_catchall_accepted(alice, smtp_server) -> None:
    do_add_alias("root@example.com", ["alice@example.com"])
    with client(smtp_server) as c:
        c.mail("")
        assert c.rcpt("root@example.com")[0] == 250
        assert c.rcpt("anything@example.com")[0] == 550
    do_add_alias("@example.com", ["alice@example.com"])
    with client(smtp_server) as c:
        c.mail("")
        assert c.rcpt("anything@example.com")[0] == 250


# security.md §R: nmap's smtp-open-relay list plus parser tricks; never relayed.
RELAY_CASES = [
    ("", "relaytest@external.example"),
    ("antispam@external.example", "relaytest@external.example"),
    ("antispam@mx.test", "relaytest@external.example"),
    ("antispam@[127.0.0.1]", "relaytest@external.example"),
    ("antispam@[127.0.0.1]", "relaytest%external.example@[127.0.0.1]"),
    ("antispam@[127.0.0.1]", '"relaytest@external.example"'),
    ("antispam@[127.0.0.1]", '"relaytest%external.example"'),
    ("antispam@[127.0.0.1]", "relaytest@external.example@[127.0.0.1]"),
    ("antispam@[127.0.0.1]", '"relaytest@external.example"@[127.0.0.1]'),
    ("antispam@[127.0.0.1]", "@[127.0.0.1]:relaytest@external.example"),
    ("antispam@[127.0.0.1]", "@mx.test:relaytest@external.example"),
    ("antispam@[127.0.0.1]", "external.example!relaytest"),
    ("antispam@[127.0.0.1]", "external.example!relaytest@[127.0.0.1]"),
    ("postmaster@example.com", "relaytest@external.example"),
    ("a@[127.0.0.1]", "relaytest@external.example."),
    ("a@[127.0.0.1]", "relaytest@EXTERNAL.EXAMPLE"),
    ("a@[127.0.0.1]", "relaytest@[1.2.3.4]"),
    ("a@[127.0.0.1]", "relaytest@example.com.external.example"),
]
LOCAL_WRAPPED = [
    "relaytest%external.example@example.com",
    "relaytest%external.example%example.com@example.com",
    '"relaytest@external.example"@example.com',
    "external.example!relaytest@example.com",
    "relaytest@external.example@example.com",
]


@pytest.mark.parametrize(("sender", "rcpt"), RELAY_CASES)
def test_never_an_open_relay(alice, smtp_server, sender: str, rcpt: str) -> None:
    with client(smtp_server) as c:
        c.mail(sender)
        code, _ = c.docmd(f"RCPT TO:<{rcpt}>")
    assert code in {501, 550, 553, 554}, (rcpt, code)
    assert QueueRecipient.objects.count() == 0


@pytest.mark.parametrize("rcpt", LOCAL_WRAPPED)
def test_local_domain_wrappers_are_not_forwarded(alice, smtp_server, rcpt: str) -> None:
    with client(smtp_server) as c:
        c.mail("a@remote.example")
        code, _ = c.docmd(f"RCPT TO:<{rcpt}>")
    assert code in {501, 550, 553}, (rcpt, code)


def test_source_route_to_local_user_is_delivered_locally(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        c.mail("a@remote.example")
        assert c.docmd("RCPT TO:<@relay.example,@other.example:alice@example.com>")[0] == 250
        assert c.data(MSG)[0] == 250
    assert QueueRecipient.objects.get().address == "alice@example.com"


def test_oversize_declared_and_actual(alice, smtp_factory) -> None:
    addr = smtp_factory(max_message_bytes=2000)
    with client(addr) as c:
        assert c.docmd("MAIL FROM:<a@remote.example> SIZE=5000")[0] == 552
        c.mail("a@remote.example")
        c.rcpt("alice@example.com")
        code, text = c.data(MSG + (b"x" * 70 + b"\r\n") * 40)
    assert code == 552 and text.startswith(b"5.3.4")
    assert QueueEntry.objects.count() == 0


def test_too_many_recipients(make_account, smtp_factory) -> None:
    for name in ("a", "b", "c", "d"):
        make_account(f"{name}@example.com")
    addr = smtp_factory(max_recipients=3)
    with client(addr) as c:
        c.mail("x@remote.example")
        for name in ("a", "b", "c"):
            assert c.rcpt(f"{name}@example.com")[0] == 250
        code, text = c.rcpt("d@example.com")
        assert (code, text[:5]) == (452, b"4.5.3")
        assert c.data(MSG)[0] == 250
    assert QueueRecipient.objects.count() == 3


def test_hop_limit(alice, smtp_server) -> None:
    trace = b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    with client(smtp_server) as c:
        c.mail("x@remote.example")
        c.rcpt("alice@example.com")
        assert c.data(trace * 50 + MSG)[0] == 250
        # "Received:" lines in the body (a forwarded bounce, say) are not hops.
        c.mail("x@remote.example")
        c.rcpt("alice@example.com")
        assert c.data(trace * 50 + MSG + trace * 10)[0] == 250
        c.mail("x@remote.example")
        c.rcpt("alice@example.com")
        code, text = c.data(trace * 51 + MSG)
    assert (code, text[:5]) == (554, b"5.4.6")
    assert QueueEntry.objects.count() == 2


def test_non_ascii_addresses_need_smtputf8(make_account, smtp_server) -> None:
    make_account("밥@example.com")
    head = b"EHLO c\r\n"
    plain = _raw_session(
        smtp_server,
        head + "MAIL FROM:<x@remote.example>\r\nRCPT TO:<밥@example.com>\r\nQUIT\r\n".encode(),
    )
    assert any(ln.startswith(b"553 5.6.7") for ln in plain), plain
    utf8 = _raw_session(
        smtp_server,
        head
        + "MAIL FROM:<x@remote.example> SMTPUTF8\r\nRCPT TO:<밥@example.com>\r\nQUIT\r\n".encode(),
    )
    assert any(ln.startswith(b"250 2.1.5") for ln in utf8), utf8


def _raw_session(addr: tuple[str, int], payload: bytes) -> list[bytes]:
    sock = socket.create_connection(addr, timeout=10)
    sock.sendall(payload)  # no half-close: aiosmtpd drops a session at EOF
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    sock.close()
    return b"".join(chunks).split(b"\r\n")


SMUGGLE_SEPARATORS = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n\x00.\r\n",
]


@pytest.mark.parametrize("sep", SMUGGLE_SEPARATORS, ids=repr)
def test_smtp_smuggling_never_yields_a_second_message(alice, smtp_server, sep: bytes) -> None:
    payload = (
        b"EHLO attacker.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nFrom: a@remote.example\r\nSubject: first\r\n\r\nfirst body"
        + sep
        + b"MAIL FROM:<ceo@victim.example>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
        b"From: ceo@victim.example\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n"
    )
    lines = _raw_session(smtp_server, payload)
    queued = [ln for ln in lines if b"queued as" in ln]
    assert len(queued) <= 1, lines
    assert not QueueEntry.objects.filter(sender="ceo@victim.example").exists()
    assert QueueEntry.objects.count() == len(queued)


def test_bare_cr_is_refused_and_bare_lf_normalised(alice, smtp_factory, settings) -> None:
    addr = smtp_factory()
    lines = _raw_session(
        addr,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\r\n\r\nline\rmore\r\n.\r\nQUIT\r\n",
    )
    assert any(ln.startswith(b"554 5.6.0") for ln in lines), lines
    lines = _raw_session(
        addr,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\r\n\r\nline\nmore\r\n.\r\nQUIT\r\n",
    )
    assert any(b"queued as" in ln for ln in lines), lines
    assert spooled(QueueEntry.objects.get(), settings).endswith(b"line\r\nmore\r\n")
    strict = smtp_factory(bare_lf="reject")
    lines = _raw_session(
        strict,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\r\n\r\nline\nmore\r\n.\r\nQUIT\r\n",
    )
    assert any(ln.startswith(b"554 5.6.0") for ln in lines), lines


def test_starttls_then_mail(alice, smtp_server, settings) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with client(smtp_server) as c:
        c.starttls(context=ctx)
        c.ehlo("client.remote.example")
        assert not c.has_extn("starttls")
        c.mail("bob@remote.example")
        c.rcpt("alice@example.com")
        assert c.data(MSG)[0] == 250
    assert b"with ESMTPS id" in spooled(QueueEntry.objects.get(), settings)


def test_starttls_plaintext_injection_is_discarded(alice, smtp_server) -> None:
    sock = socket.create_connection(smtp_server, timeout=10)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    # CVE-2011-0411: commands pipelined behind STARTTLS must not run inside TLS.
    sock.sendall(b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
    assert f.readline().startswith(b"220")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    tls = ctx.wrap_socket(sock)
    tls.sendall(b"RCPT TO:<alice@example.com>\r\n")
    reply = tls.recv(1000)
    assert reply.startswith(b"503"), reply  # no MAIL took effect, EHLO needed again
    tls.close()


def test_spool_failure_answers_451_and_queues_nothing(
    alice, smtp_server, settings, tmp_path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings.SPOOL_DIR = blocker
    with client(smtp_server) as c:
        c.mail("bob@remote.example")
        c.rcpt("alice@example.com")
        code, text = c.data(MSG)
    assert (code, text[:5]) == (451, b"4.3.0")
    assert QueueEntry.objects.count() == 0


def test_per_ip_connection_limit(alice, smtp_factory) -> None:
    addr = smtp_factory(max_connections_per_ip=2)
    held = [client(addr), client(addr)]
    sock = socket.create_connection(addr, timeout=10)
    assert sock.recv(200).startswith(b"421 4.7.0")
    sock.close()
    for c in held:
        c.quit()
    with client(addr) as c:  # slots are released
        assert c.noop()[0] == 250


def test_protocol_errors_carry_enhanced_codes(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        code, text = c.docmd("RCPT TO:<alice@example.com>")
        assert code == 503 and text.startswith(b"5.5.1")
        code, text = c.docmd("DATA")
        assert code == 503 and text.startswith(b"5.5.1")


def test_unicode_account_created(make_account) -> None:
    account = do_create_account("밥@example.com", password="x" * 10)
    assert account.storage_path == "example.com/_" + "밥".encode().hex()
