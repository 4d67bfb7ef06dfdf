"""Relay access (sendmail's /etc/mail/access) on the MX listener: the open-relay list refused,
RELAY/OK/REJECT/DISCARD rules managed with `manage.py access`, and the width guard."""

from __future__ import annotations

import logging
import smtplib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient
from mailcore.directory.actions import do_add_relay_rule
from mailcore.directory.models import RelayRule
from mailcore.store.models import Message
from tests.conftest import run_queue
from tests.protocols.test_smtp_ingress import LOCAL_WRAPPED, RELAY_CASES

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: a@remote.example\r\nTo: relaytest@external.example\r\nSubject: r\r\n\r\nbody\r\n"


def client(addr: tuple[str, int]) -> smtplib.SMTP:
    c = smtplib.SMTP(*addr, timeout=10)
    c.ehlo("client.example")
    return c


def rcpt(addr: tuple[str, int], recipient: str, sender: str = "a@remote.example") -> int:
    with client(addr) as c:
        c.mail(sender)
        return c.docmd(f"RCPT TO:<{recipient}>")[0]


def access(*args: str) -> str:
    out = StringIO()
    call_command("access", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("sender", "recipient"), RELAY_CASES)
def test_open_relay_list_refused_then_relay_rule_then_removed(
    alice, smtp_server, sender: str, recipient: str
) -> None:
    assert rcpt(smtp_server, recipient, sender) in {501, 550, 553, 554}
    access("add", "127.0.0.1/32", "relay")
    # With the rule, plain remote addresses relay; the tricks still never do.
    code = rcpt(smtp_server, recipient, sender)
    if "@" in recipient and recipient.rsplit("@", 1)[1].lower().endswith("external.example"):
        assert code == 250, recipient
    else:
        assert code in {501, 550, 553, 554}, (recipient, code)
    access("remove", "127.0.0.1/32")
    assert rcpt(smtp_server, recipient, sender) in {501, 550, 553, 554}
    assert not QueueRecipient.objects.exists()


@pytest.mark.parametrize("recipient", LOCAL_WRAPPED)
def test_local_wrappers_not_forwarded_even_with_relay_rule(
    alice, smtp_server, recipient: str
) -> None:
    do_add_relay_rule("127.0.0.1", "RELAY")
    assert rcpt(smtp_server, recipient) in {501, 550, 553}


def test_relay_rule_queues_outbound_entry(alice, smtp_server, settings) -> None:
    access("add", "127.0.0.1", "RELAY", "--comment", "backup MX")
    with client(smtp_server) as c:
        c.mail("a@remote.example")
        assert c.rcpt("alice@example.com")[0] == 250
        assert c.rcpt("RelayTest@External.Example")[0] == 250
        code, text = c.data(MSG)
    assert code == 250
    queue_id = text.decode().rsplit(" ", 1)[1]
    inbound = QueueEntry.objects.get(direction=Direction.INBOUND)
    outbound = QueueEntry.objects.get(direction=Direction.OUTBOUND)
    assert inbound.queue_id == queue_id
    assert list(inbound.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    assert list(outbound.recipients.values_list("address", flat=True)) == [
        "RelayTest@external.example"
    ]
    assert (Path(settings.SPOOL_DIR) / outbound.spool_name).read_bytes().endswith(MSG)
    assert "127.0.0.1/32\tfrom=*\tto=*\tRELAY\tbackup MX" in access("list")


def test_unauthenticated_submission_cannot_relay(alice, smtp_factory) -> None:
    import ssl

    do_add_relay_rule("127.0.0.1", "RELAY")  # a relay rule does not replace AUTH on 587
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP(*smtp_factory("submission"), timeout=10) as c:
        c.starttls(context=ctx)
        c.ehlo("client.example")
        assert c.docmd("MAIL FROM:<alice@example.com>")[0] == 530
        assert c.docmd("RCPT TO:<relaytest@external.example>")[0] == 503


def test_wide_rules_need_force(db: None) -> None:
    with pytest.raises(CommandError, match="wider than /24"):
        access("add", "10.0.0.0/16", "relay")
    with pytest.raises(CommandError, match="wider than /56"):
        access("add", "2001:db8::/48", "relay")
    with pytest.raises(CommandError, match="wider than /24"):
        access("add", "::ffff:10.0.0.0/104", "relay")  # IPv4 in IPv6 clothing
    access("add", "2001:db8::/56", "relay")
    access("add", "192.0.2.77/24", "ok")  # host bits are dropped
    access("add", "10.0.0.0/16", "relay", "--force")
    assert sorted(RelayRule.objects.values_list("network", flat=True)) == [
        "10.0.0.0/16",
        "192.0.2.0/24",
        "2001:db8::/56",
    ]
    with pytest.raises(CommandError, match="no access rule"):
        access("remove", "198.51.100.1")


def test_reject_refuses_even_local_recipients(alice, smtp_server) -> None:
    assert rcpt(smtp_server, "alice@example.com") == 250
    access("add", "127.0.0.0/24", "RELAY")
    access("add", "127.0.0.1", "REJECT")  # the more specific rule wins
    with client(smtp_server) as c:
        c.mail("a@remote.example")
        code, text = c.rcpt("alice@example.com")
        assert (code, text[:5]) == (554, b"5.7.1")
        assert c.rcpt("relaytest@external.example")[0] == 554


def test_domain_conditions(alice, smtp_server) -> None:
    access("add", "127.0.0.1", "relay", "--to", "partner.example")
    access("add", "127.0.0.1", "reject", "--from", "spammer.example")
    assert rcpt(smtp_server, "x@partner.example") == 250
    assert rcpt(smtp_server, "x@mail.partner.example") == 250
    assert rcpt(smtp_server, "x@notpartner.example") == 554
    assert rcpt(smtp_server, "relaytest@external.example") == 554
    assert rcpt(smtp_server, "alice@example.com", sender="x@spammer.example") == 554
    assert rcpt(smtp_server, "alice@example.com") == 250


def test_discard_accepts_and_drops_and_logs(alice, smtp_server, caplog) -> None:
    access("add", "127.0.0.1", "discard")
    with caplog.at_level(logging.WARNING, logger="mailroom"), client(smtp_server) as c:
        c.mail("a@remote.example")
        assert c.rcpt("alice@example.com")[0] == 250
        assert c.rcpt("relaytest@external.example")[0] == 250
        code, text = c.data(MSG)
    assert code == 250 and b"queued as" in text
    assert QueueEntry.objects.count() == 0
    assert any("discarded by access rule" in r.getMessage() for r in caplog.records)


def test_ok_rule_does_not_open_relay(alice, smtp_server) -> None:
    access("add", "127.0.0.1", "ok")
    assert rcpt(smtp_server, "alice@example.com") == 250
    assert rcpt(smtp_server, "relaytest@external.example") == 554


def test_source_route_to_local_user_delivered_locally(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        c.mail("a@remote.example")
        assert c.docmd("RCPT TO:<@relay.example,@other.example:alice@example.com>")[0] == 250
        assert c.data(MSG)[0] == 250
    entry = QueueEntry.objects.get()
    assert entry.direction == Direction.INBOUND
    assert run_queue() == ["done"]
    assert Message.objects.filter(account=alice, folder__special_use="inbox").count() == 1
