"""Issue 9, items 5–8 on real listeners with smtplib and raw sockets: command budgets per
transaction (many recipients, many messages per connection), CRLF-only command lines, line
limits that count LF-only lines, and the RFC 6531 protocol names in Received."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest

from mailcore.delivery.models import QueueEntry
from tests.protocols.test_submission import PASSWORD, logged_in

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


def client(addr: tuple[str, int]) -> smtplib.SMTP:
    c = smtplib.SMTP(*addr, timeout=20)
    c.ehlo("client.remote.example")
    return c


def spooled(entry: QueueEntry, settings) -> bytes:  # type: ignore[no-untyped-def]
    return (Path(settings.SPOOL_DIR) / entry.spool_name).read_bytes()


def raw_session(addr: tuple[str, int], payload: bytes) -> bytes:
    sock = socket.create_connection(addr, timeout=10)
    sock.sendall(payload)
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except TimeoutError:
        pass
    finally:
        sock.close()
    return b"".join(chunks)


# --- item 5: command budgets per transaction ------------------------------------------------


def test_150_recipients_in_one_transaction_are_all_accepted(alice, smtp_server) -> None:
    rcpts = [f"alice+{n}@example.com" for n in range(150)]
    with client(smtp_server) as c:
        refused = c.sendmail("bob@remote.example", rcpts, MSG)
        assert refused == {}
        assert c.noop()[0] == 250  # the session is still there
    assert QueueEntry.objects.get().recipients.count() == 150


def test_recipients_past_the_limit_get_452_and_the_session_survives(alice, smtp_factory) -> None:
    addr = smtp_factory(max_recipients=120)
    rcpts = [f"alice+{n}@example.com" for n in range(150)]
    with client(addr) as c:
        refused = c.sendmail("bob@remote.example", rcpts, MSG)
        assert len(refused) == 30
        assert all(code == 452 and text.startswith(b"4.5.3") for code, text in refused.values())
        # The sender retries the rest in a second transaction over the same connection.
        assert c.sendmail("bob@remote.example", list(refused), MSG) == {}
    assert QueueEntry.objects.count() == 2


def test_submission_recipients_past_the_limit_get_452(alice, bob, smtp_factory) -> None:
    addr = smtp_factory("submission")
    rcpts = [f"bob+{n}@example.com" for n in range(150)]
    msg = b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: x\r\n\r\nhi\r\n"
    with logged_in(addr) as c:
        refused = c.sendmail("alice@example.com", rcpts, msg)
        assert len(refused) == 50, PASSWORD
        assert {code for code, _ in refused.values()} == {452}
        assert c.noop()[0] == 250
    assert QueueEntry.objects.count() == 1


def test_many_messages_over_one_connection(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        for _ in range(150):
            assert c.sendmail("bob@remote.example", ["alice@example.com"], MSG) == {}
            c.rset()  # as a client reusing its connection does between messages
    assert QueueEntry.objects.count() == 150


def test_recipient_flood_in_one_transaction_is_still_cut_off(alice, smtp_factory) -> None:
    addr = smtp_factory(max_recipients=5, command_call_limit=20)
    rcpts = b"".join(b"RCPT TO:<alice+%d@example.com>\r\n" % n for n in range(40))
    reply = raw_session(addr, b"EHLO c\r\nMAIL FROM:<a@remote.example>\r\n" + rcpts)
    assert b"421 4.7.0 RCPT sent too many times" in reply, reply[-300:]
    assert reply.count(b"452 4.5.3") == 20  # 5 accepted, then 452 up to the overshoot of 20


def test_mail_rset_loop_without_data_is_cut_off(alice, smtp_factory) -> None:
    addr = smtp_factory(command_call_limit=20)
    reply = raw_session(addr, b"EHLO c\r\n" + b"MAIL FROM:<a@remote.example>\r\nRSET\r\n" * 30)
    assert b"421 4.7.0" in reply, reply[-300:]


# --- item 6: command lines end with CRLF ----------------------------------------------------


def test_bare_lf_command_lines_are_refused(alice, smtp_server) -> None:
    reply = raw_session(
        smtp_server,
        b"EHLO c\r\nMAIL FROM:<a@remote.test>\nRCPT TO:<alice@example.com>\nRSET\n",
    )
    after_ehlo = reply.split(b"250 HELP\r\n", 1)[1]
    assert after_ehlo == b"521 5.5.2 Error: bare <LF> received\r\n", reply


def test_bare_lf_cannot_smuggle_a_second_command(alice, smtp_server) -> None:
    reply = raw_session(
        smtp_server,
        b"EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.com>\r\nNOOP\nDATA\r\n",
    )
    assert b"354" not in reply and b"521 5.5.2" in reply, reply
    assert QueueEntry.objects.count() == 0


# --- item 7: LF-only messages over 64 KiB ---------------------------------------------------


def _lf_message(attachment: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "bob@remote.example"
    msg["To"] = "alice@example.com"
    msg["Subject"] = "report"
    msg.set_content("See the attachment.\n.a line that starts with a dot\n")
    msg.add_attachment(bytes(range(256)) * (attachment // 256), "application", "octet-stream")
    data = msg.as_bytes()
    assert b"\r\n" not in data  # as Python writes it: LF only
    return data


def test_lf_only_message_over_64_kib_is_accepted_and_normalised(
    alice, smtp_server, settings
) -> None:
    data = _lf_message(50 * 1024)
    assert len(data) > 66_000
    with client(smtp_server) as c:
        assert c.sendmail("bob@remote.example", ["alice@example.com"], data) == {}
    stored = spooled(QueueEntry.objects.get(), settings)
    assert b"\n" not in stored.replace(b"\r\n", b"")  # normalised to CRLF
    parsed = BytesParser(policy=default_policy).parsebytes(stored)
    [att] = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert att.get_content() == bytes(range(256)) * 200
    body = parsed.get_body().get_content()  # type: ignore[union-attr]
    assert "\r\n.a line that starts with a dot\r\n" in body  # dot-stuffed by smtplib, unstuffed


def test_lf_only_message_refused_under_bare_lf_reject(alice, smtp_factory) -> None:
    addr = smtp_factory(bare_lf="reject")
    with client(addr) as c, pytest.raises(smtplib.SMTPDataError) as err:
        c.sendmail("bob@remote.example", ["alice@example.com"], _lf_message(50 * 1024))
    assert err.value.smtp_code == 554


def test_one_overlong_lf_line_is_still_refused(alice, smtp_server) -> None:
    reply = raw_session(
        smtp_server,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\n\n" + b"y" * 100_000 + b"\n\r\n.\r\nQUIT\r\n",
    )
    assert b"500 5.5.2 Line too long" in reply, reply[-300:]
    assert QueueEntry.objects.count() == 0


def test_lf_dot_crlf_does_not_end_the_data(alice, smtp_server, settings) -> None:
    reply = raw_session(
        smtp_server,
        b"EHLO c\r\nMAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.com>\r\n"
        b"DATA\r\nSubject: x\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@r.example>\r\n\r\n.\r\nQUIT\r\n",
    )
    assert reply.count(b"250 2.0.0 Ok: queued") == 1, reply
    assert b"MAIL FROM:<evil@r.example>" in spooled(QueueEntry.objects.get(), settings)


# --- item 8: Received protocol of SMTPUTF8 sessions -----------------------------------------


def test_received_says_utf8smtp(alice, smtp_server, settings) -> None:
    with client(smtp_server) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG, mail_options=["SMTPUTF8"])
    assert b"with UTF8SMTP id" in spooled(QueueEntry.objects.get(), settings)


def test_received_says_utf8smtpsa_on_submission(alice, bob, smtp_factory, settings) -> None:
    addr = smtp_factory("submission")
    msg = "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: 안녕\r\n\r\nhi\r\n"
    with logged_in(addr) as c:
        c.sendmail("alice@example.com", ["bob@example.com"], msg.encode(), ["SMTPUTF8"])
    assert b"with UTF8SMTPSA id" in spooled(QueueEntry.objects.get(), settings)
