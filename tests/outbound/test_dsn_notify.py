"""Issue 9, items 9 and 11: the DSN extension (RFC 3461) from the client's MAIL/RCPT to the
notices Mailroom sends (failure, delay, success: delivered/relayed) and to the next hop, and the
content of those notices (RFC 3464/6522). Real listeners, smtplib, aiosmtpd "remote" servers and
the dnslib zone of conftest."""

from __future__ import annotations

import email
import io
import smtplib
from datetime import timedelta
from email import policy
from email.message import EmailMessage

import pytest

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.directory.actions import do_set_account_active
from tests.conftest import run_queue
from tests.outbound.conftest import Behaviour
from tests.outbound.test_relay import (
    MSG,
    deliver_dsns,
    delivery_status,
    inbox_messages,
    make_due,
)
from tests.protocols.test_submission import logged_in

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL_MSG = (
    b"From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: Status please\r\n"
    b"Message-ID: <dsn1@example.com>\r\n\r\nthe body text\r\n"
)


@pytest.fixture
def routed(zone, remote_port):  # type: ignore[no-untyped-def]
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    return zone


def client(addr: tuple[str, int]) -> smtplib.SMTP:
    c = smtplib.SMTP(*addr, timeout=10)
    c.ehlo("client.remote.example")
    return c


def send_out(rcpt: str, notify: str = "", orcpt: str = "", ret: str = "", envid: str = ""):  # type: ignore[no-untyped-def]
    from mailcore.delivery.dsnparams import MailDsn, RcptDsn

    return do_enqueue(
        sender="alice@example.com",
        recipients=[rcpt],
        data=MSG,
        direction=Direction.OUTBOUND,
        dsn=MailDsn(ret, envid),
        rcpt_dsn={rcpt: RcptDsn(notify, orcpt)},
    )


def part(msg: EmailMessage, content_type: str) -> EmailMessage:
    return next(p for p in msg.walk() if p.get_content_type() == content_type)  # type: ignore[misc]


def text_of(msg: EmailMessage) -> str:
    return str(part(msg, "text/plain").get_content())


def dsn_entries() -> list[QueueEntry]:
    return list(QueueEntry.objects.filter(origin__startswith="dsn:"))


# --- the SMTP side ---------------------------------------------------------------------------


def test_dsn_is_offered_on_mx_and_submission(alice, smtp_factory) -> None:
    with client(smtp_factory()) as c:
        assert c.has_extn("dsn")
    with logged_in(smtp_factory("submission")) as c:
        assert c.has_extn("dsn")


def test_dsn_parameters_are_kept_with_the_queue_entry(alice, smtp_server) -> None:
    with client(smtp_server) as c:
        refused = c.sendmail(
            "bob@remote.example",
            ["alice@example.com"],
            LOCAL_MSG,
            mail_options=["RET=HDRS", "ENVID=QQ+2B314"],
            rcpt_options=["NOTIFY=failure,success", "ORCPT=rfc822;Alice+2Bx@Example.com"],
        )
    assert refused == {}
    entry = QueueEntry.objects.get()
    assert (entry.dsn_ret, entry.dsn_envid) == ("HDRS", "QQ+314")
    rcpt = entry.recipients.get()
    assert (rcpt.dsn_notify, rcpt.dsn_orcpt) == ("SUCCESS,FAILURE", "rfc822;Alice+x@Example.com")


@pytest.mark.parametrize(
    ("mail", "rcpt"),
    [
        ("RET=BODY", ""),
        ("RET=FULL RET=HDRS", ""),
        ("ENVID=" + "a" * 101, ""),
        ("ENVID=bad+zz", ""),
        ("ENVID=a+0Ab", ""),  # decodes to a control character
        ("", "NOTIFY=NEVER,SUCCESS"),
        ("", "NOTIFY=SOMETIMES"),
        ("", "NOTIFY=SUCCESS NOTIFY=FAILURE"),
        ("", "ORCPT=alice@example.com"),
        ("", "ORCPT=rfc822;" + "a" * 500),
        ("", "ORCPT=rfc822;a+zz@example.com"),
        ("", "ORCPT=rfc822;a=b@example.com"),
    ],
)
def test_malformed_dsn_parameters_are_501(alice, smtp_server, mail: str, rcpt: str) -> None:
    with client(smtp_server) as c:
        code, reply = c.docmd(f"MAIL FROM:<bob@remote.example> {mail}".strip())
        if rcpt:
            assert code == 250
            code, reply = c.docmd(f"RCPT TO:<alice@example.com> {rcpt}")
        assert code == 501 and reply.startswith(b"5.5.4"), reply
        assert c.noop()[0] == 250


def test_longest_dsn_parameters_fit_the_command_line(alice, smtp_server) -> None:
    # RFC 3461 §5: MAIL grows by up to 110 characters, RCPT by up to 500.
    envid = "e" * 100
    orcpt = "rfc822;" + "a" * 480 + "@example.com"
    with client(smtp_server) as c:
        code, _ = c.docmd(f"MAIL FROM:<bob@remote.example> SIZE=100 RET=HDRS ENVID={envid}")
        assert code == 250
        code, _ = c.docmd(f"RCPT TO:<alice@example.com> NOTIFY=SUCCESS,DELAY,FAILURE ORCPT={orcpt}")
        assert code == 250
        assert c.data(LOCAL_MSG)[0] == 250
    rcpt = QueueEntry.objects.get().recipients.get()
    assert rcpt.dsn_orcpt == orcpt and rcpt.entry.dsn_envid == envid


# --- notices for local delivery ----------------------------------------------------------------


def test_notify_success_on_local_delivery_sends_delivered_notice(
    alice, bob, smtp_server, settings
) -> None:
    with client(smtp_server) as c:
        c.sendmail(
            "bob@example.com",
            ["alice@example.com"],
            LOCAL_MSG,
            mail_options=["ENVID=env-42"],
            rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;alice@example.com"],
        )
    run_queue()
    assert len(inbox_messages(settings, alice)) == 1
    [dsn] = dsn_entries()
    run_queue()
    [notice] = inbox_messages(settings, bob)
    assert notice["Subject"] == "Successful Mail Delivery Report"
    per_message, per_rcpt = delivery_status(notice)
    assert per_message["original-envelope-id"] == "env-42"
    assert per_rcpt["original-recipient"] == "rfc822; alice@example.com"
    assert per_rcpt["final-recipient"] == "rfc822; alice@example.com"
    assert (per_rcpt["action"], per_rcpt["status"]) == ("delivered", "2.0.0")
    assert "The headers of your message are attached below." in text_of(notice)
    assert "Subject: Status please" in part(notice, "text/rfc822-headers").get_content()
    assert dsn.sender == ""


def test_no_notice_without_notify_success(alice, bob, smtp_server, settings) -> None:
    with client(smtp_server) as c:
        c.sendmail("bob@example.com", ["alice@example.com"], LOCAL_MSG)
    run_queue()
    assert dsn_entries() == []


def test_local_failure_has_diagnostic_with_real_status(alice, bob, settings) -> None:
    entry = do_enqueue(sender="bob@example.com", recipients=["alice@example.com"], data=LOCAL_MSG)
    do_set_account_active("alice@example.com", False)
    assert do_process_entry(entry.pk) == "done"
    deliver_dsns()
    [notice] = inbox_messages(settings, bob)
    _, per_rcpt = delivery_status(notice)
    status = per_rcpt["status"]
    assert per_rcpt["action"] == "failed" and status.startswith("5.")
    kind, _, text = per_rcpt["diagnostic-code"].partition("; ")
    assert kind == "X-Mailroom" and text.startswith(status + " ") and len(text) > len(status) + 5
    assert "remote-mta" not in per_rcpt


def test_notify_never_suppresses_local_bounce(alice, bob, settings) -> None:
    from mailcore.delivery.dsnparams import RcptDsn

    entry = do_enqueue(
        sender="bob@example.com",
        recipients=["alice@example.com"],
        data=LOCAL_MSG,
        rcpt_dsn={"alice@example.com": RcptDsn("NEVER")},
    )
    do_set_account_active("alice@example.com", False)
    assert do_process_entry(entry.pk) == "done"
    assert entry.recipients.get().state == "bounced"
    assert dsn_entries() == []


# --- notices and parameters for relayed mail ---------------------------------------------------


def test_relayed_notice_when_next_hop_has_no_dsn(alice, routed, remote, settings) -> None:
    remote("127.0.0.2")
    entry = send_out("bob@remote.test", notify="SUCCESS", envid="E1")
    assert do_process_entry(entry.pk) == "done"
    deliver_dsns()
    [notice] = inbox_messages(settings, alice)
    assert notice["Subject"] == "Successful Mail Delivery Report"
    per_message, per_rcpt = delivery_status(notice)
    assert per_message["original-envelope-id"] == "E1"
    assert (per_rcpt["action"], per_rcpt["status"]) == ("relayed", "2.0.0")
    assert per_rcpt["remote-mta"] == "dns; mx1.remote.test"
    assert per_rcpt["diagnostic-code"].startswith("smtp; 250 ")
    assert "mx1.remote.test[127.0.0.2]" in text_of(notice)


def test_dsn_parameters_passed_to_next_hop_that_offers_dsn(alice, routed, remote) -> None:
    sink = remote("127.0.0.2", behaviour=Behaviour(dsn=True))
    entry = send_out(
        "bob@remote.test",
        notify="SUCCESS,FAILURE",
        orcpt="rfc822;bob+list@remote.test",
        ret="HDRS",
        envid="id with space",
    )
    assert do_process_entry(entry.pk) == "done"
    mail, rcpt = sink.commands
    assert mail.endswith(" RET=HDRS ENVID=id+20with+20space"), mail
    assert rcpt == "TO:<bob@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Blist@remote.test"
    assert len(sink.received) == 1
    assert dsn_entries() == []  # the next hop reports success itself


def test_no_dsn_parameters_to_next_hop_without_dsn(alice, routed, remote) -> None:
    sink = remote("127.0.0.2")
    entry = send_out("bob@remote.test", notify="FAILURE", ret="FULL", envid="x")
    assert do_process_entry(entry.pk) == "done"
    [got] = sink.received
    assert [o for o in got.mail_options if not o.startswith("SIZE=")] == []


@pytest.mark.parametrize("notify", ["NEVER", "SUCCESS", "DELAY"])
def test_bounce_only_when_failure_is_asked(alice, routed, remote, notify: str) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out("bob@remote.test", notify=notify)
    assert do_process_entry(entry.pk) == "done"
    assert entry.recipients.get().state == "bounced"
    assert dsn_entries() == []


def test_delay_notice_only_when_delay_is_asked(alice, routed, remote, settings) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_defer_times=10))
    quiet = send_out("bob@remote.test", notify="FAILURE")
    make_due(quiet, age=timedelta(hours=5))
    assert do_process_entry(quiet.pk) == "deferred"
    assert dsn_entries() == []
    asked = send_out("bob@remote.test", notify="DELAY")
    make_due(asked, age=timedelta(hours=5))
    assert do_process_entry(asked.pk) == "deferred"
    [delay] = dsn_entries()
    assert delay.origin.endswith(":delay")


def test_ret_full_returns_the_whole_message(alice, routed, remote, settings) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out("bob@remote.test", ret="FULL", orcpt="rfc822;Bob@Remote.test")
    assert do_process_entry(entry.pk) == "done"
    deliver_dsns()
    [notice] = inbox_messages(settings, alice)
    assert "Your message is attached below." in text_of(notice)
    kinds = [p.get_content_type() for p in notice.iter_parts()]  # type: ignore[attr-defined]
    assert kinds == ["text/plain", "message/delivery-status", "message/rfc822"]
    returned = part(notice, "message/rfc822").get_content()
    assert returned["Subject"] == "Hello there"
    assert "first line" in returned.get_content()
    _, per_rcpt = delivery_status(notice)
    assert per_rcpt["original-recipient"] == "rfc822; Bob@Remote.test"


def test_ret_hdrs_returns_headers_only(alice, routed, remote, settings) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out("bob@remote.test", ret="HDRS")
    assert do_process_entry(entry.pk) == "done"
    deliver_dsns()
    [notice] = inbox_messages(settings, alice)
    kinds = [p.get_content_type() for p in notice.iter_parts()]  # type: ignore[attr-defined]
    assert kinds == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert "The headers of your message are attached below." in text_of(notice)
    assert "first line" not in part(notice, "text/rfc822-headers").get_content()


def test_submission_notify_success_to_remote_gives_relayed_notice(
    alice, routed, remote, smtp_factory, settings
) -> None:
    remote("127.0.0.2")
    msg = b"From: alice@example.com\r\nTo: bob@remote.test\r\nSubject: sub\r\n\r\nhi\r\n"
    with logged_in(smtp_factory("submission")) as c:
        c.sendmail(
            "alice@example.com",
            ["Bob@Remote.TEST"],
            msg,
            mail_options=["ENVID=sub-1"],
            rcpt_options=["NOTIFY=SUCCESS"],
        )
    entry = QueueEntry.objects.get(direction=Direction.OUTBOUND)
    assert entry.dsn_envid == "sub-1"
    assert entry.recipients.get().dsn_notify == "SUCCESS"
    assert do_process_entry(entry.pk) == "done"
    deliver_dsns()
    notices = [m for m in inbox_messages(settings, alice) if "Delivery Report" in m["Subject"]]
    [notice] = notices
    _, per_rcpt = delivery_status(notice)
    assert per_rcpt["action"] == "relayed"


def test_dsn_message_parses_as_multipart_report(alice, routed, remote, settings) -> None:
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = send_out("bob@remote.test")
    do_process_entry(entry.pk)
    [dsn] = dsn_entries()
    from mailcore.delivery import spool

    raw = spool.read(dsn.spool_name, size=dsn.size, sha256=dsn.sha256)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert not msg.defects


def test_admin_bounce_honours_notify_never(alice) -> None:
    from django.core.management import call_command

    entry = send_out("bob@remote.test", notify="NEVER")
    call_command("queue", "bounce", entry.queue_id, stdout=io.StringIO())
    assert entry.recipients.get().state == "bounced"
    assert dsn_entries() == []
    other = send_out("carol@remote.test", orcpt="rfc822;carol@remote.test")
    call_command("queue", "bounce", other.queue_id, stdout=io.StringIO())
    [dsn] = dsn_entries()
    from mailcore.delivery import spool

    raw = spool.read(dsn.spool_name, size=dsn.size, sha256=dsn.sha256)
    assert b"Original-Recipient: rfc822; carol@remote.test" in raw


def test_alias_forward_reports_expanded_and_keeps_failure_notify(
    alice, bob, routed, remote, settings
) -> None:
    from mailcore.delivery.dsnparams import RcptDsn
    from mailcore.directory.actions import do_add_alias

    do_add_alias("team@example.com", ["alice@example.com", "carol@remote.test"])
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.1.1 no such user"))
    entry = do_enqueue(
        sender="bob@example.com",
        recipients=["team@example.com"],
        data=LOCAL_MSG,
        rcpt_dsn={"team@example.com": RcptDsn("SUCCESS,FAILURE")},
    )
    assert do_process_entry(entry.pk) == "done"
    forward = QueueEntry.objects.get(origin__startswith="fwd:")
    fwd_rcpt = forward.recipients.get()
    assert (fwd_rcpt.dsn_notify, fwd_rcpt.dsn_orcpt) == ("FAILURE", "rfc822;team@example.com")
    assert do_process_entry(forward.pk) == "done"  # carol@remote.test: 550
    deliver_dsns()
    notices = {m["Subject"]: m for m in inbox_messages(settings, bob)}
    _, expanded = delivery_status(notices["Successful Mail Delivery Report"])
    assert expanded["action"] == "expanded"
    _, failed = delivery_status(notices["Undelivered Mail Returned to Sender"])
    assert failed["final-recipient"] == "rfc822; carol@remote.test"
    assert failed["original-recipient"] == "rfc822; team@example.com"
