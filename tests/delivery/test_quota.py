"""Mailbox quotas: usage counters kept by the store, 452 4.2.2 at RCPT, deferral then bounce
(with a DSN) at delivery, the 90 % warning mail, refused uploads, and GET /api/v1/quota."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.delivery.models import QueueEntry, QueueRecipient
from mailcore.store.actions import do_append, do_expunge, do_move
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.quota import usage
from mailcore.store.reindex import recount_folders
from tests.api.helpers import token_client


def mail(n: int, size: int = 1000) -> bytes:
    head = (
        f"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: m{n}\r\n"
        f"Message-ID: <q{n}@remote.example>\r\n\r\n"
    ).encode()
    return head + b"x" * max(0, size - len(head) - 2) + b"\r\n"


def set_quota(account, limit: int) -> None:  # type: ignore[no-untyped-def]
    type(account).objects.filter(pk=account.pk).update(quota_bytes=limit)
    account.refresh_from_db()


def inbox(account) -> Folder:  # type: ignore[no-untyped-def]
    return Folder.objects.get(account=account, special_use=SpecialUse.INBOX)


@pytest.mark.django_db(transaction=True)
def test_folder_size_counters_follow_every_store_action(alice) -> None:
    box = inbox(alice)
    trash = Folder.objects.get(account=alice, special_use=SpecialUse.TRASH)
    first = do_append(acting_account=alice, folder=box, data=mail(1, 3000))
    do_append(acting_account=alice, folder=box, data=mail(2, 500))
    assert usage(alice).used == 3500
    do_move(acting_account=alice, messages=[first], destination=trash)
    box.refresh_from_db()
    trash.refresh_from_db()
    assert (box.size_bytes, trash.size_bytes) == (500, 3000)
    do_expunge(acting_account=alice, messages=[Message.objects.get(pk=first.pk)])
    trash.refresh_from_db()
    assert trash.size_bytes == 0 and usage(alice).used == 500
    # reindex's recount agrees with the counters kept by the actions.
    Folder.objects.filter(account=alice).update(size_bytes=12345)
    recount_folders(alice)
    assert usage(alice).used == 500


@pytest.mark.django_db(transaction=True)
def test_rcpt_answers_452_4_2_2_when_the_mailbox_is_full(alice, bob, smtp_server) -> None:
    set_quota(alice, 2000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 2000))
    with smtplib.SMTP(*smtp_server) as c:
        c.ehlo("client.example")
        c.mail("sender@remote.example")
        code, reply = c.rcpt("alice@example.com")
        assert (code, reply) == (452, b"4.2.2 <alice@example.com>: Mailbox full")
        assert c.rcpt("bob@example.com")[0] == 250  # others still receive


@pytest.mark.django_db(transaction=True)
def test_rcpt_refuses_a_declared_size_that_does_not_fit(alice, smtp_server) -> None:
    set_quota(alice, 10_000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 6000))
    with smtplib.SMTP(*smtp_server) as c:
        c.ehlo("client.example")
        c.mail("sender@remote.example", ["SIZE=5000"])
        assert c.rcpt("alice@example.com")[0] == 452
        c.rset()
        c.mail("sender@remote.example", ["SIZE=3000"])
        assert c.rcpt("alice@example.com")[0] == 250


@pytest.mark.django_db(transaction=True)
def test_over_quota_delivery_is_deferred_then_bounced_with_a_dsn(alice, settings) -> None:
    set_quota(alice, 5000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 4500))
    entry = do_enqueue(
        sender="bob@remote.example", recipients=["alice@example.com"], data=mail(2, 1000)
    )
    assert do_process_entry(entry.pk) == "deferred"
    rcpt = QueueRecipient.objects.get(entry=entry)
    assert rcpt.state == "deferred" and rcpt.last_reply.startswith("4.2.2 ")
    assert Message.objects.filter(account=alice).count() == 1
    # After QUOTA_BOUNCE_AFTER_SECONDS the sender gets a DSN; nothing is dropped silently.
    QueueEntry.objects.filter(pk=entry.pk).update(
        received_at=timezone.now() - timedelta(seconds=settings.QUOTA_BOUNCE_AFTER_SECONDS + 1),
        next_attempt_at=timezone.now(),
    )
    assert do_process_entry(entry.pk) == "done"
    rcpt.refresh_from_db()
    assert rcpt.state == "bounced" and rcpt.last_reply.startswith("5.2.2 ")
    dsn = QueueEntry.objects.get(origin__startswith=f"dsn:{entry.queue_id}:")
    assert dsn.sender == "" and list(dsn.recipients.values_list("address", flat=True)) == [
        "bob@remote.example"
    ]


@pytest.mark.django_db(transaction=True)
def test_room_made_by_the_user_lets_the_deferred_mail_in(alice) -> None:
    set_quota(alice, 5000)
    old = do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 4500))
    entry = do_enqueue(sender="bob@remote.example", recipients=["alice@example.com"], data=mail(2))
    assert do_process_entry(entry.pk) == "deferred"
    do_expunge(acting_account=alice, messages=[old])
    QueueEntry.objects.filter(pk=entry.pk).update(next_attempt_at=timezone.now())
    assert do_process_entry(entry.pk) == "done"
    assert Message.objects.get(account=alice).subject == "m2"


@pytest.mark.django_db(transaction=True)
def test_one_batch_cannot_overshoot_the_quota(alice) -> None:
    set_quota(alice, 2500)
    entries = [
        do_enqueue(sender="b@remote.example", recipients=["alice@example.com"], data=mail(n))
        for n in range(4)
    ]
    from mailcore.delivery.actions import do_process_entries

    results = do_process_entries([e.pk for e in entries])
    assert sorted(results.values()) == ["deferred", "deferred", "done", "done"]
    assert usage(alice).used <= 2500


@pytest.mark.django_db(transaction=True)
def test_crossing_90_percent_delivers_one_warning_a_day(alice) -> None:
    set_quota(alice, 20_000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 17_500))
    for n in (2, 3):
        entry = do_enqueue(
            sender="bob@remote.example", recipients=["alice@example.com"], data=mail(n, 600)
        )
        assert do_process_entry(entry.pk) == "done"
    warnings = Message.objects.filter(account=alice, subject__contains="%")
    assert warnings.count() == 1
    assert "90%" in warnings.get().subject or "91%" in warnings.get().subject


@pytest.mark.django_db(transaction=True)
def test_upload_is_refused_with_507_when_it_does_not_fit(alice) -> None:
    set_quota(alice, 3000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 2500))
    api = token_client(alice)
    big = SimpleUploadedFile("a.bin", b"z" * 1000, content_type="application/octet-stream")
    response = api.post("/api/v1/uploads", {"file": big}, format="multipart")
    assert response.status_code == 507 and response.json()["error"] == "over_quota"
    small = SimpleUploadedFile("b.bin", b"z" * 100, content_type="application/octet-stream")
    assert api.post("/api/v1/uploads", {"file": small}, format="multipart").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_quota_endpoint_reports_usage(alice, bob) -> None:
    set_quota(alice, 4000)
    do_append(acting_account=alice, folder=inbox(alice), data=mail(1, 1000))
    body = token_client(alice).get("/api/v1/quota").json()
    assert body == {"used_bytes": 1000, "limit_bytes": 4000, "percent": 25.0}
    assert token_client(bob).get("/api/v1/quota").json()["limit_bytes"] == 0
