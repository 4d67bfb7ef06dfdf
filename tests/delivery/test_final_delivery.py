"""What final delivery writes on top of each mailbox's copy (RFC 5321 §4.4, Postfix local(8),
Dovecot LDA): Return-Path with the envelope sender, Delivered-To with the mailbox; a
Return-Path that came with the message is dropped, and a mail that comes back to an address
it was already delivered to or forwarded by is a loop (5.4.6), not another copy."""

from __future__ import annotations

import pytest

from mailcore.delivery import spool
from mailcore.delivery.actions import do_process_entry
from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient, RecipientState
from mailcore.directory.actions import do_add_alias
from mailcore.mime.headers import delivered_to, for_final_delivery
from mailcore.store.models import Message
from mailcore.store.queries import read_message_bytes
from tests.delivery.test_inbound import MSG, enqueue

pytestmark = pytest.mark.django_db(transaction=True)


def stored(account) -> bytes:  # type: ignore[no-untyped-def]
    return read_message_bytes(Message.objects.get(account=account))


def test_each_copy_gets_return_path_and_delivered_to(make_account) -> None:  # type: ignore[no-untyped-def]
    alice, bob = make_account("alice@example.com"), make_account("bob@example.com")
    forged = b"Return-Path: <ceo@bank.example>\r\n\tcontinued\r\n" + MSG
    assert do_process_entry(enqueue(["alice@example.com", "bob@example.com"], forged).pk) == "done"
    for account in (alice, bob):
        data = stored(account)
        assert data == (
            b"Return-Path: <bob@remote.example>\r\nDelivered-To: "
            + account.address.encode()
            + b"\r\n"
            + MSG
        )
        message = Message.objects.get(account=account)
        assert message.size == len(data) and message.maildir_key.endswith(f",S={len(data)}")


def test_null_sender_and_a_body_line_that_looks_like_a_header(alice) -> None:  # type: ignore[no-untyped-def]
    data = MSG + b"Return-Path: <kept@body.example>\r\n"
    assert do_process_entry(enqueue(["alice@example.com"], data, sender="").pk) == "done"
    assert stored(alice).startswith(b"Return-Path: <>\r\nDelivered-To: alice@example.com\r\n")
    assert stored(alice).endswith(b"Return-Path: <kept@body.example>\r\n")  # the body is not edited


def test_a_mail_back_at_an_address_it_was_delivered_to_is_a_loop(make_account) -> None:  # type: ignore[no-untyped-def]
    alice = make_account("alice@example.com")
    do_add_alias("team@example.com", ["alice@example.com"])
    back = b"Delivered-To: Team@example.com\r\n" + MSG
    entry = enqueue(["team@example.com"], back)
    assert do_process_entry(entry.pk) == "done"
    rcpt = QueueRecipient.objects.get(entry=entry)
    assert rcpt.state == RecipientState.BOUNCED and "5.4.6" in rcpt.last_reply
    back = b"Delivered-To: <alice@example.com>\r\n" + MSG
    entry = enqueue(["alice@example.com"], back)
    assert do_process_entry(entry.pk) == "done"
    assert QueueRecipient.objects.get(entry=entry).state == RecipientState.BOUNCED
    assert not Message.objects.filter(account=alice, folder__special_use="inbox").exists()


def test_a_forward_carries_the_alias_in_delivered_to(make_account) -> None:  # type: ignore[no-untyped-def]
    make_account("alice@example.com")
    do_add_alias("root@example.com", ["alice@example.com", "friend@elsewhere.example"])
    assert do_process_entry(enqueue(["root@example.com"]).pk) == "done"
    fwd = QueueEntry.objects.get(direction=Direction.OUTBOUND)
    data = spool.read(fwd.spool_name, size=fwd.size, sha256=fwd.sha256)
    assert data.startswith(b"Delivered-To: root@example.com\r\n") and data.endswith(MSG)
    assert delivered_to(data) == {"root@example.com"}


def test_a_header_past_the_cap_is_prefixed_not_edited() -> None:
    huge = b"".join(b"X-Pad: %06d\r\n" % i for i in range(30_000))
    data = huge + b"Return-Path: <x@y>\r\n\r\nbody"
    out = for_final_delivery(data, return_path="a@b", recipient="c@d")
    assert out == b"Return-Path: <a@b>\r\nDelivered-To: c@d\r\n" + data
