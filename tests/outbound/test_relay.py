"""Outbound delivery against real DNS (dnslib) and real "remote" SMTP servers on 127.0.0.x:
success, retries, bounces with DSNs, expiry, null MX, private targets, loops, STARTTLS, DKIM."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from django.utils import timezone

from mailcore.delivery.actions import do_enqueue, do_process_entry, due_entries
from mailcore.delivery.dkim import do_generate_dkim_key, txt_value
from mailcore.delivery.models import Direction, QueueEntry
from tests.outbound.conftest import Behaviour

pytestmark = pytest.mark.django_db(transaction=True)

MSG = (
    b"From: Alice <alice@example.com>\r\nTo: bob@remote.test\r\nSubject: Hello there\r\n"
    b"Message-ID: <out1@example.com>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0900\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    b"first line\n.a line that starts with a dot\r\n.\r\nbare cr\rhere\r\n..two dots\n"
)


def send_out(
    rcpts: list[str], data: bytes = MSG, sender: str = "alice@example.com", smtputf8: bool = False
) -> QueueEntry:
    return do_enqueue(
        sender=sender, recipients=rcpts, data=data, direction=Direction.OUTBOUND, smtputf8=smtputf8
    )


def make_due(entry: QueueEntry, *, age: timedelta | None = None) -> None:
    now = timezone.now()
    fields: dict[str, object] = {"next_attempt_at": now - timedelta(seconds=1)}
    if age is not None:
        fields["received_at"] = now - age
    QueueEntry.objects.filter(pk=entry.pk).update(**fields)


def rcpt_state(entry: QueueEntry) -> dict[str, tuple[str, str]]:
    return {r.address: (r.state, r.last_reply) for r in entry.recipients.all()}


def inbox_messages(settings, account) -> list[EmailMessage]:  # type: ignore[no-untyped-def]
    root = Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "new"
    if not root.is_dir():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(root.iterdir())
    ]


def deliver_dsns() -> list[QueueEntry]:
    dsns = list(QueueEntry.objects.filter(origin__startswith="dsn:"))
    for d in dsns:
        assert d.sender == ""
        do_process_entry(d.pk)
    return dsns


def delivery_status(msg: EmailMessage) -> list[dict[str, str]]:
    """The message/delivery-status blocks of a DSN as dicts (per-message block first)."""
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    part = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
    blocks: list[dict[str, str]] = []
    for sub in part.get_payload():  # type: ignore[union-attr]
        blocks.append({k.lower(): str(v) for k, v in sub.items()})
    return blocks


@pytest.fixture
def routed(zone, remote_port):  # type: ignore[no-untyped-def]
    """remote.test → MX mx1.remote.test → 127.0.0.2."""
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    return zone


def test_success_bytes_at_sink_crlf_and_dots(alice, routed, remote) -> None:
    sink = remote("127.0.0.2")
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "done"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "delivered" and "250" in reply and "mx1.remote.test[127.0.0.2]" in reply
    [got] = sink.received
    assert got.mail_from == "alice@example.com" and got.rcpt_tos == ["bob@remote.test"]
    assert not re.search(rb"\r(?!\n)|(?<!\r)\n", got.content), "bare CR or LF on the wire"
    body = got.content.split(b"\r\n\r\n", 1)[1]
    # Dot-stuffed on the wire, unstuffed by the server: every line arrives intact.
    assert body == (
        b"first line\r\n.a line that starts with a dot\r\n.\r\nbare cr\r\nhere\r\n..two dots\r\n"
    )
    assert entry.attempt_log.get().result == "done"


def test_defer_then_success(alice, routed, remote, settings) -> None:
    sink = remote("127.0.0.2", behaviour=Behaviour(rcpt_defer_times=1))
    entry = send_out(["bob@remote.test"])
    before = timezone.now()
    assert do_process_entry(entry.pk) == "deferred"
    entry.refresh_from_db()
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "deferred" and "451 4.7.1 greylisted" in reply
    # Outbound schedule: first retry after RELAY_RETRY_BASE_SECONDS (5 min), not the local one.
    delay = (entry.next_attempt_at - before).total_seconds()
    assert settings.RELAY_RETRY_BASE_SECONDS - 5 <= delay <= settings.RELAY_RETRY_BASE_SECONDS + 5
    assert entry.pk not in due_entries()  # the sweep leaves it alone until then
    # A second notice before then (a sweep that read the entry as due just before the first
    # attempt) does not retry early: CI once saw the greylisted retry 39 ms after the 451.
    assert do_process_entry(entry.pk) == "skipped" and len(sink.received) == 0
    make_due(entry)
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1 and rcpt_state(entry)["bob@remote.test"][0] == "delivered"
    assert not QueueEntry.objects.filter(origin__startswith="dsn:").exists()


def test_5xx_bounces_with_dsn_in_senders_inbox(alice, routed, remote, settings) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 <bob@remote.test>: no such user"))
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "done"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "bounced" and reply.startswith("5.1.1") and "no such user" in reply
    [dsn] = deliver_dsns()
    assert dsn.direction == Direction.INBOUND and list(
        dsn.recipients.values_list("address", flat=True)
    ) == ["alice@example.com"]
    [msg] = inbox_messages(settings, alice)
    assert msg["Auto-Submitted"] == "auto-replied" and "Undelivered" in msg["Subject"]
    per_message, per_rcpt = delivery_status(msg)
    assert per_message["reporting-mta"] == "dns; mx.test"
    assert per_rcpt["final-recipient"] == "rfc822; bob@remote.test"
    assert per_rcpt["action"] == "failed" and per_rcpt["status"] == "5.1.1"
    # RFC 3464 §2.3.5: a host name only; the address is in the text (as Postfix words it).
    assert per_rcpt["remote-mta"] == "dns; mx1.remote.test"
    assert per_rcpt["diagnostic-code"].startswith("smtp; 550 5.1.1")
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    assert "host mx1.remote.test[127.0.0.2] said: 550 5.1.1" in text
    # The text says what is attached, and that is what is attached (RFC 6522 §3).
    assert "The headers of your message are attached below." in text
    headers = next(p for p in msg.walk() if p.get_content_type() == "text/rfc822-headers")
    assert "Subject: Hello there" in headers.get_content()
    assert "first line" not in headers.get_content()
    # A second run of the same attempt (crash before bookkeeping) adds no second DSN.
    assert do_process_entry(dsn.pk) == "skipped"


def test_unreachable_retries_then_expires_with_dsn(alice, zone, remote_port, settings) -> None:
    zone.add("down.test", "MX", "10 mx.down.test.")
    zone.add("mx.down.test", "A", "127.0.0.4")  # nothing listens there
    entry = send_out(["carol@down.test"])
    for _ in range(3):
        assert do_process_entry(entry.pk) == "deferred"
        state, reply = rcpt_state(entry)["carol@down.test"]
        assert state == "deferred" and reply.startswith("4.4.1") and "refused" in reply
        make_due(entry)
    entry.refresh_from_db()
    assert entry.attempts == 3 and not QueueEntry.objects.filter(origin__startswith="dsn:").exists()
    make_due(entry, age=timedelta(days=5, minutes=1))
    assert do_process_entry(entry.pk) == "done"
    state, reply = rcpt_state(entry)["carol@down.test"]
    assert state == "bounced" and reply.startswith("5.4.7") and "refused" in reply
    # Only the failure DSN: the delay notice belongs to an attempt between 4 h and expiry.
    assert len(deliver_dsns()) == 1
    [msg] = inbox_messages(settings, alice)
    per_rcpt = delivery_status(msg)[1]
    assert per_rcpt["action"] == "failed" and per_rcpt["status"] == "5.4.7"


def test_delay_notice_once_after_four_hours(alice, zone, remote_port, settings) -> None:
    zone.add("down.test", "A", "127.0.0.4")  # no MX: the A record is the implicit MX
    entry = send_out(["carol@down.test"])
    make_due(entry, age=timedelta(hours=4, minutes=1))
    assert do_process_entry(entry.pk) == "deferred"
    make_due(entry)
    assert do_process_entry(entry.pk) == "deferred"
    assert len(deliver_dsns()) == 1
    [msg] = inbox_messages(settings, alice)
    assert msg["Subject"].startswith("Delayed Mail")
    per_rcpt = delivery_status(msg)[1]
    assert per_rcpt["action"] == "delayed" and per_rcpt["status"].startswith("4.")
    assert "will-retry-until" in per_rcpt


def test_null_mx_bounces_at_once(alice, zone, remote_port) -> None:
    zone.add("nullmx.test", "MX", "0 .")
    entry = send_out(["x@nullmx.test"])
    assert do_process_entry(entry.pk) == "done"
    state, reply = rcpt_state(entry)["x@nullmx.test"]
    assert state == "bounced" and reply.startswith("5.1.10") and "null MX" in reply
    assert len(deliver_dsns()) == 1


def test_nxdomain_bounces(alice, zone, remote_port) -> None:
    entry = send_out(["x@nowhere.test"])
    assert do_process_entry(entry.pk) == "done"
    assert rcpt_state(entry)["x@nowhere.test"][1].startswith("5.1.2")


def test_mx_preference_order_and_fallback(alice, zone, remote) -> None:
    zone.add("multi.test", "MX", "20 mx2.multi.test.")
    zone.add("multi.test", "MX", "10 mx1.multi.test.")
    zone.add("mx1.multi.test", "A", "127.0.0.4")  # preferred, but down
    zone.add("mx2.multi.test", "A", "127.0.0.3")
    sink = remote("127.0.0.3")
    entry = send_out(["dave@multi.test"])
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1
    assert "mx2.multi.test[127.0.0.3]" in rcpt_state(entry)["dave@multi.test"][1]


def test_implicit_mx_from_a_record(alice, zone, remote) -> None:
    zone.add("plain.test", "A", "127.0.0.3")
    sink = remote("127.0.0.3")
    entry = send_out(["erin@plain.test"])
    assert do_process_entry(entry.pk) == "done" and len(sink.received) == 1


def test_loopback_target_refused_unless_allowed(alice, routed, remote, settings) -> None:
    sink = remote("127.0.0.2")
    settings.RELAY_ALLOW_PRIVATE_TARGETS = False
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "deferred"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "deferred" and reply.startswith("4.4.4") and "non-public" in reply
    assert sink.received == []
    settings.RELAY_ALLOW_PRIVATE_TARGETS = True
    make_due(entry)
    assert do_process_entry(entry.pk) == "done" and len(sink.received) == 1


def test_mx_pointing_at_ourselves_bounces(alice, zone, remote_port, settings) -> None:
    zone.add("loop.test", "MX", "10 mx.test.")  # MAIL_HOSTNAME of the tests
    entry = send_out(["x@loop.test"])
    assert do_process_entry(entry.pk) == "done"
    assert "loops back to myself" in rcpt_state(entry)["x@loop.test"][1]
    zone.add("loop2.test", "A", "127.0.0.9")
    settings.SMTP_LISTEN = type(settings.SMTP_LISTEN)("127.0.0.9", settings.RELAY_SMTP_PORT)
    entry = send_out(["x@loop2.test"])
    assert do_process_entry(entry.pk) == "done"
    assert "loops back to myself" in rcpt_state(entry)["x@loop2.test"][1]


def test_starttls_used_when_offered(alice, routed, remote) -> None:
    sink = remote("127.0.0.2", starttls=True)
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "done"
    assert [r.tls for r in sink.received] == [True]


def test_require_tls_domain_deferred_without_tls(alice, routed, remote, settings) -> None:
    sink = remote("127.0.0.2")
    settings.RELAY_REQUIRE_TLS_DOMAINS = "other.test, remote.test"
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "deferred"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "deferred" and reply.startswith("4.7.5") and "TLS is required" in reply
    assert sink.received == []


def test_require_tls_domain_delivered_with_tls(alice, routed, remote, settings) -> None:
    sink = remote("127.0.0.2", starttls=True)
    settings.RELAY_REQUIRE_TLS_DOMAINS = "remote.test"
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "done" and sink.received[0].tls


def test_drop_after_data_is_retried(alice, routed, remote) -> None:
    b = remote("127.0.0.2", behaviour=Behaviour(drop_after_data=True))
    entry = send_out(["bob@remote.test"])
    assert do_process_entry(entry.pk) == "deferred"
    assert "connection lost after end of data" in rcpt_state(entry)["bob@remote.test"][1]
    b.drop_after_data = False
    make_due(entry)
    assert do_process_entry(entry.pk) == "done" and len(b.received) == 1


def test_data_5xx_bounces_only_that_domain(alice, zone, remote) -> None:
    zone.add("remote.test", "A", "127.0.0.2")
    zone.add("plain.test", "A", "127.0.0.3")
    remote("127.0.0.2", behaviour=Behaviour(data_reply="554 5.7.1 spam, go away"))
    good = remote("127.0.0.3")
    entry = send_out(["bob@remote.test", "erin@plain.test"])
    assert do_process_entry(entry.pk) == "done"
    states = rcpt_state(entry)
    assert states["bob@remote.test"][0] == "bounced" and "5.7.1" in states["bob@remote.test"][1]
    assert states["erin@plain.test"][0] == "delivered" and len(good.received) == 1


def test_smtputf8_message_to_server_without_it_bounces(alice, routed, remote) -> None:
    sink = remote("127.0.0.2", smtputf8=False)
    entry = send_out(["bob@remote.test"], smtputf8=True)
    assert do_process_entry(entry.pk) == "done"
    assert rcpt_state(entry)["bob@remote.test"][1].startswith("5.6.7") and sink.received == []


def test_smtputf8_and_8bitmime_announced(alice, routed, remote) -> None:
    sink = remote("127.0.0.2", smtputf8=True)
    data = MSG.replace(b"first line", "첫 줄".encode())
    entry = send_out(["bob@remote.test"], data=data, smtputf8=True)
    assert do_process_entry(entry.pk) == "done"
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(sink.received[0].mail_options)


def test_pipelined_transaction_with_mixed_recipients(alice, routed, remote) -> None:
    b = remote("127.0.0.2", behaviour=Behaviour(pipelining=True, rcpt_defer_times=1))
    entry = send_out(["bob@remote.test", "carol@remote.test"])
    assert do_process_entry(entry.pk) == "deferred"
    states = rcpt_state(entry)
    assert states["bob@remote.test"][0] == "deferred"  # the first RCPT got 451
    assert states["carol@remote.test"][0] == "delivered"
    assert b.received[0].rcpt_tos == ["carol@remote.test"]
    make_due(entry)
    assert do_process_entry(entry.pk) == "done"
    assert [r.rcpt_tos for r in b.received] == [["carol@remote.test"], ["bob@remote.test"]]


def test_no_dsn_for_null_sender(alice, routed, remote) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out(["bob@remote.test"], sender="")
    assert do_process_entry(entry.pk) == "done"
    assert rcpt_state(entry)["bob@remote.test"][0] == "bounced"
    assert not QueueEntry.objects.filter(origin__startswith="dsn:").exists()


def test_remote_sender_gets_dsn_outbound(alice, routed, remote) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out(["bob@remote.test"], sender="someone@far.test")
    assert do_process_entry(entry.pk) == "done"
    [dsn] = QueueEntry.objects.filter(origin__startswith="dsn:")
    assert dsn.direction == Direction.OUTBOUND and dsn.sender == ""


def test_local_recipients_of_outbound_entry_delivered_locally(
    alice, bob, routed, remote, settings
) -> None:
    sink = remote("127.0.0.2")
    entry = send_out(["bob@example.com", "bob@remote.test"])
    assert do_process_entry(entry.pk) == "done"
    assert len(inbox_messages(settings, bob)) == 1 and len(sink.received) == 1


def test_dkim_signatures_verify(alice, routed, remote) -> None:
    sink = remote("127.0.0.2")
    rsa_key = do_generate_dkim_key("example.com")
    ed_key = do_generate_dkim_key("example.com", algorithm="ed25519-sha256")
    records = {
        f"{k.selector}._domainkey.example.com.".encode(): txt_value(k).encode()
        for k in (rsa_key, ed_key)
    }

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name if name.endswith(b".") else name + b".")

    bare = re.sub(rb"(?m)^(Message-ID|Date): .*\r\n", b"", MSG)
    entry = send_out(["bob@remote.test"], data=bare)
    assert do_process_entry(entry.pk) == "done"
    content = sink.received[0].content
    assert content.count(b"DKIM-Signature:") == 2
    assert re.search(rb"^Message-ID: <.+@mx\.test>", content, re.M | re.I)
    assert re.search(rb"^Date: ", content, re.M)
    algorithms = []
    for idx in (0, 1):
        d = dkim.DKIM(content)
        assert d.verify(idx=idx, dnsfunc=dnsfunc), f"signature {idx} does not verify"
        algorithms.append(d.signature_fields[b"a"])
        tags = {k.strip(): v for k, v in d.signature_fields.items()}
        assert b"l" not in tags  # never a body length limit (security.md item 9)
        h = [x.strip() for x in tags[b"h"].lower().split(b":")]
        # Over-signed: each present header once more than it occurs; absent ones once.
        assert h.count(b"from") == 2 and h.count(b"subject") == 2 and h.count(b"cc") == 1
        assert h.count(b"message-id") == 2 and h.count(b"content-type") == 2
    assert algorithms == [b"rsa-sha256", b"ed25519-sha256"]
    tampered = content.replace(b"first line", b"FIRST LINE")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    added_from = b"From: Mallory <m@evil.test>\r\n" + content
    assert not dkim.verify(added_from, dnsfunc=dnsfunc)
