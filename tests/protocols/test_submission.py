"""Submission on 587 (STARTTLS) and 465 (implicit TLS) driven by smtplib with a self-signed
certificate: AUTH only under TLS, the login limiter, send-as checks, limits, and the Sent copy
plus queue entries of an authenticated send."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import time
from pathlib import Path

import pytest

from mailcore.delivery.models import Direction, QueueEntry
from mailcore.directory.actions import do_add_alias
from mailcore.directory.models import Account
from mailcore.smtp.submission import SubmissionPolicy
from mailcore.store.models import Message, SpecialUse
from tests.conftest import run_queue

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse 1"


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    return ctx


@pytest.fixture(autouse=True)
def _fast_limiter(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_FAILURE_DELAY_SECONDS = 0


@pytest.fixture
def submission(smtp_factory) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    return smtp_factory("submission")


def starttls_client(addr: tuple[str, int], *, source: str = "127.0.0.1") -> smtplib.SMTP:
    c = smtplib.SMTP(*addr, timeout=10, source_address=(source, 0))
    c.ehlo("client.example")
    c.starttls(context=tls_context())
    c.ehlo("client.example")
    return c


def logged_in(addr: tuple[str, int], user: str = "alice@example.com") -> smtplib.SMTP:
    c = starttls_client(addr)
    c.login(user, PASSWORD)
    return c


def plain(user: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def message(
    sender: str = "alice@example.com", to: str = "bob@example.com", extra: str = ""
) -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: {to}\r\n{extra}Subject: hello\r\n\r\nHello there\r\n"
    ).encode()


def spooled(entry: QueueEntry, settings) -> bytes:  # type: ignore[no-untyped-def]
    return (Path(settings.SPOOL_DIR) / entry.spool_name).read_bytes()


def sent_messages(account: Account) -> list[Message]:
    return list(Message.objects.filter(account=account, folder__special_use=SpecialUse.SENT))


# --- TLS and AUTH -------------------------------------------------------------------------------


def test_587_auth_only_after_starttls(alice, submission) -> None:
    with smtplib.SMTP(*submission, timeout=10) as c:
        c.ehlo("client.example")
        assert c.has_extn("starttls") and not c.has_extn("auth")
        code, text = c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))
        assert code in {530, 538}, text
        assert c.docmd("MAIL FROM:<alice@example.com>")[0] == 530
        c.starttls(context=tls_context())
        c.ehlo("client.example")
        assert c.has_extn("auth")
        assert set(c.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        assert c.login("alice@example.com", PASSWORD)[0] == 235


def test_587_mail_needs_auth_even_under_tls(alice, submission) -> None:
    with starttls_client(submission) as c:
        code, text = c.docmd("MAIL FROM:<alice@example.com>")
    assert (code, text[:5]) == (530, b"5.7.0")


def test_mx_never_offers_or_takes_auth(alice, smtp_server) -> None:
    with smtplib.SMTP(*smtp_server, timeout=10) as c:
        c.ehlo("client.example")
        assert not c.has_extn("auth")
        assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))[0] in {530, 538}
        c.starttls(context=tls_context())
        c.ehlo("client.example")
        assert not c.has_extn("auth")
        code, _ = c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))
    assert code != 235 and code >= 500


def test_465_implicit_tls_login_and_send(alice, bob, smtp_factory) -> None:
    addr = smtp_factory("smtps")
    with smtplib.SMTP_SSL(*addr, timeout=10, context=tls_context()) as c:
        c.ehlo("client.example")
        assert c.has_extn("auth") and not c.has_extn("starttls")
        c.user, c.password = "alice@example.com", PASSWORD
        assert c.auth("LOGIN", c.auth_login)[0] == 235
        assert c.sendmail("alice@example.com", ["bob@example.com"], message()) == {}
    entry = QueueEntry.objects.get()
    assert entry.authenticated_as == alice and entry.direction == Direction.INBOUND
    assert len(sent_messages(alice)) == 1


def test_commands_pipelined_before_starttls_are_discarded(alice, submission) -> None:
    sock = socket.create_connection(submission, timeout=10)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    # CVE-2011-0411: an AUTH smuggled behind STARTTLS must not run inside the TLS session.
    sock.sendall(
        b"STARTTLS\r\nEHLO c\r\nAUTH PLAIN "
        + plain("alice@example.com", PASSWORD).encode()
        + b"\r\n"
    )
    assert f.readline().startswith(b"220")
    tls = tls_context().wrap_socket(sock)
    tls.sendall(b"MAIL FROM:<alice@example.com>\r\n")
    reply = tls.recv(1000)
    assert reply.startswith(b"503"), reply  # EHLO needed again: nothing pipelined ran
    tls.close()


def test_wrong_password_and_authzid_mismatch_are_535(alice, bob, submission) -> None:
    with starttls_client(submission) as c:
        code, text = c.docmd("AUTH", "PLAIN " + plain("alice@example.com", "wrong password"))
        assert (code, text[:5]) == (535, b"5.7.8")
        # RFC 4616 §2: bob's password does not let him act as alice.
        code, _ = c.docmd(
            "AUTH", "PLAIN " + plain("bob@example.com", PASSWORD, authzid="alice@example.com")
        )
        assert code == 535
    with starttls_client(submission) as c:
        assert c.docmd("AUTH", "PLAIN " + plain("nobody@example.com", PASSWORD))[0] == 535


def test_session_closed_after_repeated_failures(alice, submission) -> None:
    with starttls_client(submission) as c:
        for n in range(3):
            code, _ = c.docmd("AUTH", "PLAIN " + plain("alice@example.com", f"bad {n}"))
            assert code == (535 if n < 2 else 421)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            c.noop()


def test_failures_are_slowed_down(alice, submission, settings) -> None:
    settings.AUTH_FAILURE_DELAY_SECONDS = 0.3
    with starttls_client(submission) as c:
        started = time.monotonic()
        assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", "bad"))[0] == 535
        assert time.monotonic() - started >= 0.3


# --- the login limiter --------------------------------------------------------------------------


def test_limiter_per_ip_counts_distinct_passwords(alice, bob, smtp_factory, settings) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 3
    addr = smtp_factory("submission", submission_policy=SubmissionPolicy(100, 50))
    with starttls_client(addr) as c:
        for _ in range(5):  # one stale password retried by a phone counts once
            assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", "old pass"))[0] == 535
    with logged_in(addr):
        pass  # and it is not locked out
    with starttls_client(addr) as c:
        for n in range(3):
            assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", f"guess {n}"))[0] == 535
        code, text = c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))
        assert (code, text[:5]) == (454, b"4.7.0")  # the right password is not even checked
        assert c.docmd("AUTH", "PLAIN " + plain("bob@example.com", PASSWORD))[0] == 454
    with starttls_client(addr, source="127.0.0.2") as c:  # another client is not affected
        assert c.docmd("AUTH", "PLAIN " + plain("bob@example.com", PASSWORD))[0] == 235


def test_limiter_per_account_across_ips(alice, smtp_factory, settings) -> None:
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = 3
    addr = smtp_factory("submission")
    with logged_in(addr):  # alice's own machine has logged in before the attack
        pass
    for n, ip in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):
        with starttls_client(addr, source=ip) as c:
            assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", f"guess {n}"))[0] == 535
    with starttls_client(addr, source="127.0.0.5") as c:
        assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))[0] == 454
    with starttls_client(addr) as c:  # the trusted client still gets in
        assert c.docmd("AUTH", "PLAIN " + plain("alice@example.com", PASSWORD))[0] == 235


# --- sending ----------------------------------------------------------------------------------


def test_local_send_stores_sent_copy_once_and_delivers(alice, bob, submission) -> None:
    with logged_in(submission) as c:
        assert c.sendmail("alice@example.com", ["bob@example.com"], message()) == {}
    entry = QueueEntry.objects.get()
    assert entry.direction == Direction.INBOUND and entry.authenticated_as == alice
    assert list(entry.recipients.values_list("address", flat=True)) == ["bob@example.com"]
    [sent] = sent_messages(alice)
    assert sent.subject == "hello" and sent.seen and sent.source == "smtp"
    assert sent.message_id  # added by the server: the client sent none
    assert run_queue() == ["done"]
    [got] = Message.objects.filter(account=bob)
    assert got.folder.special_use == SpecialUse.INBOX and got.message_id == sent.message_id
    assert Message.objects.filter(account=alice).count() == 1  # no second copy anywhere


def test_mixed_send_queues_inbound_and_outbound_and_strips_bcc(
    alice, bob, submission, settings
) -> None:
    body = message(
        to="bob@example.com, carol@remote.example",
        extra="Bcc: dave@remote.example,\r\n bob@example.com\r\n",
    )
    with logged_in(submission) as c:
        refused = c.sendmail(
            "alice@example.com",
            ["bob@example.com", "Carol@Remote.Example", "dave@remote.example"],
            body,
        )
    assert refused == {}
    inbound = QueueEntry.objects.get(direction=Direction.INBOUND)
    outbound = QueueEntry.objects.get(direction=Direction.OUTBOUND)
    assert inbound.origin == outbound.origin and inbound.origin.startswith("submit:")
    assert list(inbound.recipients.values_list("address", flat=True)) == ["bob@example.com"]
    assert sorted(outbound.recipients.values_list("address", flat=True)) == [
        "Carol@remote.example",
        "dave@remote.example",
    ]
    for entry in (inbound, outbound):
        data = spooled(entry, settings)
        assert b"\r\nBcc:" not in data and b"dave@remote.example" not in data
        assert data.startswith(b"Received: ") and b"with ESMTPSA" in data
        assert b"Subject: hello" in data
    [sent] = sent_messages(alice)
    from mailcore.store.queries import read_message_bytes

    copy = read_message_bytes(sent)
    assert b"Bcc: dave@remote.example,\r\n bob@example.com\r\n" in copy
    assert b"Received:" not in copy


def test_send_as_another_user_is_refused(alice, bob, submission) -> None:
    with logged_in(submission) as c:
        code, text = c.docmd("MAIL FROM:<bob@example.com>")
        assert (code, text[:5]) == (553, b"5.7.1")
        c.rset()
        c.mail("alice@example.com")
        c.rcpt("bob@example.com")
        code, text = c.data(message(sender="bob@example.com"))
        assert (code, text[:5]) == (553, b"5.7.1")
        c.mail("alice@example.com")
        c.rcpt("bob@example.com")
        code, _ = c.data(b"From: alice@example.com\r\nFrom: bob@example.com\r\n\r\nx\r\n")
        assert code == 553
    assert QueueEntry.objects.count() == 0 and not sent_messages(alice)


def test_aliases_and_subaddresses_are_owned(alice, bob, submission) -> None:
    do_add_alias("sales@example.com", ["alice@example.com", "bob@example.com"])
    do_add_alias("bobs@example.com", ["bob@example.com"])
    with logged_in(submission) as c:
        assert (
            c.sendmail(
                "sales@example.com", ["bob@example.com"], message(sender="sales@example.com")
            )
            == {}
        )
        assert (
            c.sendmail(
                "alice+news@example.com",
                ["bob@example.com"],
                message(sender="Alice+News@Example.com"),
            )
            == {}
        )
        assert c.docmd("MAIL FROM:<bobs@example.com>")[0] == 553
    assert QueueEntry.objects.count() == 2


def test_per_account_limits(alice, bob, smtp_factory, settings) -> None:
    addr = smtp_factory("submission", submission_policy=SubmissionPolicy(2, 3))
    with logged_in(addr) as c:
        c.mail("alice@example.com")
        assert c.rcpt("bob@example.com")[0] == 250
        assert c.rcpt("x@remote.example")[0] == 250
        code, text = c.rcpt("y@remote.example")
        assert (code, text[:5]) == (452, b"4.5.3") and b"at most 2" in text
        assert c.data(message())[0] == 250
        settings.SUBMISSION_MAX_MESSAGES_PER_DAY = 1
        code, text = c.docmd("MAIL FROM:<alice@example.com>")
        assert (code, text[:5]) == (550, b"5.7.1") and b"daily sending limit" in text
    assert len(sent_messages(alice)) == 1


def test_unknown_local_recipient_refused_at_rcpt(alice, submission) -> None:
    with logged_in(submission) as c:
        c.mail("alice@example.com")
        assert c.rcpt("nobody@example.com")[0] == 550
        assert c.rcpt("relaytest@[1.2.3.4]")[0] == 553


def test_people_written_to_over_smtp_join_the_address_book(alice, bob, submission) -> None:  # type: ignore[no-untyped-def]
    """Issue 12 item 15: a client's sends add their recipients as webmail sends do; the
    account's auto-add setting turns it off."""
    from mailcore.contacts.actions import do_set_auto_add
    from mailcore.contacts.models import ContactAddress

    def known() -> list[tuple[str, str]]:
        rows = ContactAddress.objects.filter(account=alice).select_related("contact")
        return sorted((r.contact.name, r.address) for r in rows)

    body = message(to="Bob Kim <bob@example.com>, 김철수 <chulsoo@remote.example>")
    with logged_in(submission) as c:
        recipients = ["bob@example.com", "chulsoo@remote.example", "hidden@remote.example"]
        assert c.sendmail("alice@example.com", recipients, body) == {}
    assert known() == [
        ("", "hidden@remote.example"),
        ("Bob Kim", "bob@example.com"),
        ("김철수", "chulsoo@remote.example"),
    ]
    do_set_auto_add(acting_account=alice, enabled=False)
    with logged_in(submission) as c:
        c.sendmail("alice@example.com", ["new@remote.example"], message(to="new@remote.example"))
    assert "new@remote.example" not in [address for _, address in known()]


def test_mail_sent_by_a_mail_program_has_read_status_too(
    alice: Account,
    bob: Account,
    submission,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    """수신확인 for Thunderbird's or a phone's sends as for the webmail's: the Sent copy gets a
    status, bob's first \\Seen (here through the store, as IMAP STORE does) sets the read time,
    and a Disposition-Notification-To header is remembered as a receipt request. Never held."""
    from mailcore.outbox.models import OutboxItem, OutboxRecipient
    from mailcore.store.actions import do_set_flags

    with logged_in(submission) as c:
        c.sendmail(
            "alice@example.com",
            ["bob@example.com", "someone@remote.test"],
            message(extra="Disposition-Notification-To: alice@example.com\r\n"),
        )
    item = OutboxItem.objects.get(account=alice)
    [sent] = sent_messages(alice)
    assert item.sent_copy_id == sent.pk and item.receipt_requested and not item.scheduled
    kinds = dict(OutboxRecipient.objects.filter(item=item).values_list("address", "kind"))
    assert kinds == {"bob@example.com": "local", "someone@remote.test": "remote"}
    assert QueueEntry.objects.filter(next_attempt_at__gt=item.created_at).count() == 0
    run_queue()
    bob_copy = Message.objects.get(account=bob)
    do_set_flags(acting_account=bob, messages=[bob_copy], add=["seen"])
    bob_row = OutboxRecipient.objects.get(item=item, address="bob@example.com")
    assert bob_row.read_at is not None
