"""Rules at delivery, through the real worker path (queue row -> do_process_entry -> Maildir
and rows): folders, flags, discard, reject, 수신차단, 자동전달 with SRS, 부재중 replies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailcore.delivery.actions import do_process_entry
from mailcore.delivery.entries import do_enqueue
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.rules import srs
from mailcore.rules.actions import (
    do_block_sender,
    do_save_rules,
    do_save_script,
    do_set_forwarding,
    do_set_vacation,
)
from mailcore.rules.apply import srs_secret
from mailcore.rules.models import DomainRulesPolicy, VacationReply
from mailcore.store.models import Folder, Message
from tests.conftest import run_queue


def mail(
    subject: str = "Lunch?",
    frm: str = "bob@remote.example",
    extra: str = "",
    to: str = "alice@example.com",
    mid: str = "m1@remote.example",
) -> bytes:
    return (
        f"From: Bob <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0900\r\n{extra}\r\n"
        "Noodles at noon.\r\n"
    ).encode()


def deliver(
    data: bytes, rcpts: list[str] | None = None, sender: str = "bob@remote.example"
) -> QueueEntry:
    entry = do_enqueue(
        sender=sender, recipients=rcpts or ["alice@example.com"], data=data, client_ip="127.0.0.1"
    )
    do_process_entry(entry.pk, worker="test")  # inbound only: no DNS for remote replies
    entry.refresh_from_db()
    return entry


def outbound() -> list[QueueEntry]:
    return list(QueueEntry.objects.filter(direction=Direction.OUTBOUND).order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_rule_moves_flags_and_creates_folder(alice) -> None:
    do_save_rules(
        acting_account=alice,
        rules=[
            {
                "name": "boss",
                "conditions": [{"field": "subject", "op": "contains", "value": "lunch"}],
                "actions": [
                    {"type": "move", "value": "Food"},
                    {"type": "star"},
                    {"type": "read"},
                    {"type": "keyword", "value": "$food"},
                ],
            }
        ],
    )
    entry = deliver(mail())
    assert entry.state == "done"
    msg = Message.objects.get()
    assert msg.folder.name == "Food"
    assert (msg.flagged, msg.seen, msg.keywords) == (True, True, ["$food"])
    # A message the rule does not match stays in INBOX, unflagged.
    deliver(mail("Other", mid="m2@remote.example"))
    other = Message.objects.get(subject="Other")
    assert other.folder.special_use == "inbox" and not other.flagged


@pytest.mark.django_db(transaction=True)
def test_missing_folder_without_create_goes_to_inbox(alice) -> None:
    do_save_script(acting_account=alice, script='require "fileinto"; fileinto "Nowhere";')
    deliver(mail())
    assert Message.objects.get().folder.special_use == "inbox"
    assert not Folder.objects.filter(account=alice, name="Nowhere").exists()


@pytest.mark.django_db(transaction=True)
def test_fileinto_copy_files_twice_and_a_retry_adds_nothing(alice) -> None:
    Folder.objects.none()
    do_save_script(
        acting_account=alice,
        script=('require ["fileinto", "copy", "mailbox"]; fileinto :copy :create "Archive/2026";'),
    )
    entry = deliver(mail())
    names = sorted(m.folder.name for m in Message.objects.all())
    assert names == ["Archive/2026", "INBOX"]
    QueueEntry.objects.filter(pk=entry.pk).update(state="queued", next_attempt_at=timezone.now())
    entry.recipients.update(state="pending")
    run_queue()
    assert Message.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_discard_and_reject(alice, bob) -> None:
    do_save_script(acting_account=alice, script='if header :contains "subject" "spam" { discard; }')
    do_save_script(
        acting_account=bob,
        script=('require "reject"; if header :contains "subject" "spam" { reject "No thanks."; }'),
    )
    entry = deliver(
        mail("cheap spam", to="alice@example.com, bob@example.com"),
        ["alice@example.com", "bob@example.com"],
    )
    assert Message.objects.count() == 0
    states = {r.address: (r.state, r.last_reply) for r in entry.recipients.all()}
    assert states["alice@example.com"][0] == "delivered"
    assert states["bob@example.com"] == ("bounced", "5.7.1 No thanks.")
    # The sender hears about the rejection (a DSN is queued to them).
    assert any(e.recipients.filter(address="bob@remote.example").exists() for e in outbound())


@pytest.mark.django_db(transaction=True)
def test_one_member_of_an_alias_refusing_does_not_bounce_the_others(alice, bob) -> None:
    """team@ reaches alice and bob; bob's rule rejects: alice still gets it, the recipient
    team@ is delivered, and the sender gets a DSN naming bob alone (once, retry or not).
    When every member refuses, team@ bounces with each reason."""
    from mailcore.directory.actions import do_add_alias

    do_add_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    do_save_script(
        acting_account=bob,
        script='require "reject"; if header :contains "subject" "offer" { reject "Not for me."; }',
    )
    entry = deliver(mail("An offer", to="team@example.com"), ["team@example.com"])
    (rcpt,) = entry.recipients.all()
    assert rcpt.state == "delivered"
    assert list(Message.objects.values_list("account__address", flat=True)) == ["alice@example.com"]
    (dsn,) = outbound()
    assert list(dsn.recipients.values_list("address", flat=True)) == ["bob@remote.example"]
    from mailcore.delivery import spool

    text = spool.read(dsn.spool_name, size=dsn.size, sha256=dsn.sha256)
    assert b"Final-Recipient: rfc822; bob@example.com" in text
    assert b"Original-Recipient: rfc822; team@example.com" in text
    assert b"Not for me." in text and b"Final-Recipient: rfc822; alice" not in text
    # A second attempt of the same entry (a crash before the bookkeeping) queues no second DSN.
    QueueEntry.objects.filter(pk=entry.pk).update(state="queued")
    entry.recipients.update(state="queued")
    do_process_entry(entry.pk, worker="test")
    assert len(outbound()) == 1 and Message.objects.count() == 1

    do_save_script(
        acting_account=alice,
        script='require "reject"; if header :contains "subject" "offer" { reject "No offers."; }',
    )
    second = deliver(mail("Another offer", to="team@example.com", mid="m9@x"), ["team@example.com"])
    (rcpt,) = second.recipients.all()
    assert rcpt.state == "bounced"
    assert "alice@example.com: No offers." in rcpt.last_reply
    assert "bob@example.com: Not for me." in rcpt.last_reply


@pytest.mark.django_db(transaction=True)
def test_blocked_sender_and_domain_are_discarded(alice) -> None:
    do_block_sender(acting_account=alice, value="bob@remote.example")
    deliver(mail())
    do_block_sender(acting_account=alice, value="@spam.example")
    deliver(mail(frm="x@mx.spam.example", mid="m3@x"), sender="x@mx.spam.example")
    assert Message.objects.count() == 0
    deliver(mail(frm="carol@remote.example", mid="m4@x"), sender="carol@remote.example")
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_forwarding_with_srs_keep_copy_or_not(alice) -> None:
    do_set_forwarding(
        acting_account=alice, enabled=True, address="me@elsewhere.example", keep_copy=False
    )
    deliver(mail())
    assert Message.objects.count() == 0
    [fwd] = outbound()
    assert list(fwd.recipients.values_list("address", flat=True)) == ["me@elsewhere.example"]
    assert fwd.sender.startswith("SRS0=") and fwd.sender.endswith("@example.com")
    assert srs.reverse(fwd.sender, srs_secret()) == "bob@remote.example"
    do_set_forwarding(
        acting_account=alice, enabled=True, address="me@elsewhere.example", keep_copy=True
    )
    deliver(mail(mid="m2@x"))
    assert Message.objects.count() == 1 and len(outbound()) == 2


@pytest.mark.django_db(transaction=True)
def test_forwarding_loop_between_two_accounts_is_cut(alice, bob) -> None:
    do_set_forwarding(
        acting_account=alice, enabled=True, address="bob@example.com", keep_copy=False
    )
    do_set_forwarding(
        acting_account=bob, enabled=True, address="alice@example.com", keep_copy=False
    )
    deliver(mail())
    for _ in range(6):
        run_queue()
    # alice -> bob -> alice stops at the Delivered-To check: a bounce, never a storm.
    assert QueueEntry.objects.count() < 8
    assert QueueEntry.objects.filter(recipients__state="bounced").exists()


@pytest.mark.django_db(transaction=True)
def test_domain_policy_forbids_forwarding_outside(alice, settings) -> None:
    DomainRulesPolicy.objects.create(domain=alice.domain, forward_outside=False)
    do_save_script(acting_account=alice, script='redirect "me@elsewhere.example";')
    deliver(mail())
    assert outbound() == [] and Message.objects.count() == 1  # kept, not forwarded


@pytest.mark.django_db(transaction=True)
def test_forwarding_rate_limit(alice, settings) -> None:
    settings.RULES_FORWARDS_PER_HOUR = 2
    do_set_forwarding(
        acting_account=alice, enabled=True, address="me@elsewhere.example", keep_copy=True
    )
    for n in range(4):
        deliver(mail(mid=f"r{n}@x"))
    assert len(outbound()) == 2 and Message.objects.count() == 4


def _vacation(account) -> None:  # type: ignore[no-untyped-def]
    do_set_vacation(
        acting_account=account,
        enabled=True,
        start=None,
        end=None,
        subject="부재중",
        body="I am away until Monday.",
        days=7,
    )


@pytest.mark.django_db(transaction=True)
def test_vacation_replies_once_per_sender_with_headers(alice) -> None:
    _vacation(alice)
    deliver(mail())
    deliver(mail(mid="m2@remote.example"))
    [reply] = outbound()
    assert reply.sender == "" and list(reply.recipients.values_list("address", flat=True)) == [
        "bob@remote.example"
    ]
    from mailcore.delivery import spool

    data = spool.read(reply.spool_name, size=reply.size, sha256=reply.sha256)
    assert b"Auto-Submitted: auto-replied" in data
    assert b"In-Reply-To: <m1@remote.example>" in data
    # After the period, the next message is answered again.
    VacationReply.objects.update(replied_at=timezone.now() - timedelta(days=8))
    deliver(mail(mid="m3@remote.example"))
    assert len(outbound()) == 2


@pytest.mark.parametrize(
    "extra,sender",
    [
        ("List-Id: <dev.lists.example>\r\n", "bob@remote.example"),
        ("Precedence: bulk\r\n", "bob@remote.example"),
        ("Auto-Submitted: auto-generated\r\n", "bob@remote.example"),
        ("", ""),
        ("", "MAILER-DAEMON@remote.example"),
        ("", "owner-dev@lists.example"),
        ("", "dev-request@lists.example"),
        ("", "alice@example.com"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_vacation_never_answers_lists_robots_or_ourselves(alice, extra: str, sender: str) -> None:
    _vacation(alice)
    deliver(mail(extra=extra), sender=sender)
    assert Message.objects.count() == 1 and outbound() == []


@pytest.mark.django_db(transaction=True)
def test_vacation_outside_its_dates_is_off(alice) -> None:
    today = timezone.localdate()
    do_set_vacation(
        acting_account=alice,
        enabled=True,
        start=today + timedelta(days=1),
        end=None,
        subject="",
        body="away",
        days=7,
    )
    deliver(mail())
    assert outbound() == []


@pytest.mark.django_db(transaction=True)
def test_two_accounts_on_vacation_never_loop(alice, bob) -> None:
    _vacation(alice)
    _vacation(bob)
    deliver(mail(frm="bob@example.com", to="alice@example.com"), sender="bob@example.com")
    for _ in range(5):
        run_queue()
    # alice answered bob once; bob's copy of that reply (null sender, auto-replied) is filed
    # and never answered.
    assert Message.objects.filter(account=alice).count() == 1
    bob_mail = list(Message.objects.filter(account=bob))
    assert len(bob_mail) == 1 and bob_mail[0].subject == "부재중"
    assert QueueEntry.objects.filter(direction=Direction.OUTBOUND).count() == 1


@pytest.mark.django_db(transaction=True)
def test_sieve_vacation_action_and_environment_facts(alice) -> None:
    do_save_script(
        acting_account=alice,
        script=(
            'require ["vacation", "environment", "fileinto", "copy"];\n'
            'if environment :is "vnd.mailroom.attachment" "no" { fileinto :copy "INBOX"; }\n'
            'vacation :days 1 :subject "Away" "Back soon";'
        ),
    )
    deliver(mail())
    assert len(outbound()) == 1 and Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_blocked_sender_is_refused_at_rcpt(alice, bob, smtp_server) -> None:
    import smtplib

    do_block_sender(acting_account=alice, value="spam.example")
    with smtplib.SMTP(*smtp_server) as c:
        c.ehlo("client.test")
        c.mail("x@mx.spam.example")
        code, reply = c.rcpt("alice@example.com")
        assert code == 550 and b"blocked" in reply
        # Another account of ours has not blocked them.
        assert c.rcpt("bob@example.com")[0] == 250
    # A sender that is not blocked passes.
    with smtplib.SMTP(*smtp_server) as c:
        c.ehlo("client.test")
        c.mail("friend@remote.example")
        assert c.rcpt("alice@example.com")[0] == 250


@pytest.mark.django_db(transaction=True)
def test_bounce_to_the_srs_address_goes_back_to_the_sender(alice, smtp_server) -> None:
    import smtplib

    do_set_forwarding(
        acting_account=alice, enabled=True, address="me@elsewhere.example", keep_copy=False
    )
    deliver(mail())
    [fwd] = outbound()
    bounce = b"From: MAILER-DAEMON@elsewhere.example\r\nSubject: failure\r\n\r\nno such user\r\n"
    with smtplib.SMTP(*smtp_server) as c:
        assert c.sendmail("", [fwd.sender.lower()], bounce) == {}  # canonical: lower case
        forged = "SRS0=AAAA=AB=remote.example=bob@example.com"
        c.ehlo("client.test")
        c.mail("")
        assert c.rcpt(forged)[0] == 550  # a hash we did not make is nobody
    bounced = QueueEntry.objects.filter(direction=Direction.INBOUND, sender="").get()
    do_process_entry(bounced.pk, worker="test")
    back = [e for e in outbound() if e.pk != fwd.pk]
    assert [list(e.recipients.values_list("address", flat=True)) for e in back] == [
        ["bob@remote.example"]
    ]
    assert back[0].sender == ""


@pytest.mark.django_db(transaction=True)
def test_vacation_does_not_answer_mail_filed_as_spam(alice) -> None:
    _vacation(alice)
    do_save_script(
        acting_account=alice,
        script='require "fileinto"; if header :contains "subject" "viagra" { fileinto "Junk"; }',
    )
    deliver(mail("cheap viagra"))
    assert Message.objects.get().folder.special_use == "junk"
    assert outbound() == []
    deliver(mail("hello", mid="m2@remote.example"))
    assert len(outbound()) == 1
