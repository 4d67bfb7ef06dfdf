"""A bounce that arrives over SMTP (`MAIL FROM:<>`, as Postfix sends its DSNs) keeps the null
reverse-path: aiosmtpd hands the handler the literal string "<>", which must not become the
queue entry's sender. Found by the outside test of issue 9 (Postfix's success DSN landed with
`Return-Path: <<>>`; a bounce forwarded by an alias was refused as "bad sender address
syntax" and bounced in turn to "<>", where RFC 5321 §4.5.5 and RFC 3461 §6.2 say a null
reverse-path never gets a notice)."""

from __future__ import annotations

import smtplib

import pytest

from mailcore.delivery.models import QueueEntry
from mailcore.directory.actions import do_add_alias
from tests.conftest import run_queue
from tests.outbound.test_relay import inbox_messages

pytestmark = pytest.mark.django_db(transaction=True)

BOUNCE = (
    b"From: Mail Delivery System <MAILER-DAEMON@remote.test>\r\nTo: alice@example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n\r\nyour mail bounced\r\n"
)


@pytest.fixture
def routed(zone, remote_port):  # type: ignore[no-untyped-def]
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    return zone


def send_null_sender(addr: tuple[str, int], rcpt: str) -> None:
    with smtplib.SMTP(*addr, timeout=10) as c:
        c.ehlo("mx.remote.test")
        assert c.mail("")[0] == 250  # smtplib sends MAIL FROM:<>
        assert c.rcpt(rcpt)[0] == 250
        assert c.data(BOUNCE)[0] == 250


def test_null_sender_is_stored_empty_and_return_path_is_angle_brackets(
    alice, smtp_server, settings
) -> None:
    send_null_sender(smtp_server, "alice@example.com")
    [entry] = QueueEntry.objects.all()
    assert entry.sender == ""
    run_queue()
    [copy] = inbox_messages(settings, alice)
    assert copy["Return-Path"] == "<>"


def test_null_sender_forwarded_by_alias_goes_out_with_null_sender_and_no_bounce(
    alice, smtp_server, routed, remote
) -> None:
    sink = remote("127.0.0.2")
    do_add_alias("fwd@example.com", ["bob@remote.test"])
    send_null_sender(smtp_server, "fwd@example.com")
    run_queue()  # local expansion: queues the forwarded copy
    run_queue()  # the relay
    [got] = sink.received
    assert got.mail_from in ("", "<>")  # aiosmtpd's spelling of the null reverse-path
    assert not QueueEntry.objects.filter(origin__startswith="dsn:").exists()
    assert not QueueEntry.objects.filter(recipients__address="<>").exists()
