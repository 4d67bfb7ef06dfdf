"""The outbox API (issue 14 §1-3): scheduled send, undo/cancel back to Drafts, send now,
reschedule, limits, recall of unread local copies, read status per recipient (any door sets
it, privacy honoured), MDN requests, incoming MDNs and the receipt prompt."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from mailcore.delivery.actions import do_dispatch_untried
from mailcore.delivery.models import QueueEntry
from mailcore.delivery.queueops import do_flush_queue
from mailcore.delivery.submit import do_enqueue_routed
from mailcore.directory.models import Account, AuditLog
from mailcore.mime import get_attachment, parse_message
from mailcore.outbox.actions import do_set_recall_policy
from mailcore.store.actions import do_set_flags
from mailcore.store.models import Message, Tombstone
from tests.api.compose_helpers import messages_in, raw, send, upload, upload_dir
from tests.conftest import run_queue

__all__ = ["upload_dir"]  # the autouse fixture
# Read status and MDN intake run after commit (mailcore.store.hooks), as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def later(seconds: float = 3600) -> str:
    return (timezone.now() + timedelta(seconds=seconds)).isoformat()


def status_of(client: APIClient, item: int) -> dict:  # type: ignore[type-arg]
    response = client.get(f"/api/v1/outbox/{item}")
    assert response.status_code == 200, response.json()
    return response.json()  # type: ignore[no-any-return]


def states(client: APIClient, item: int) -> dict[str, str]:
    return {r["address"]: r["state"] for r in status_of(client, item)["recipients"]}


def mailq() -> str:
    out = StringIO()
    call_command("mailq", stdout=out)
    return out.getvalue()


def make_due(item: int) -> None:
    """The clock reaches the scheduled time (the entries' and the item's)."""
    past = timezone.now() - timedelta(seconds=1)
    QueueEntry.objects.filter(origin__startswith="submit:").update(
        next_attempt_at=past, received_at=past
    )


# --- 예약발송 ---------------------------------------------------------------------------------


def test_scheduled_send_waits_then_goes_once(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    response = send(alice_api, to=["bob@example.com"], subject="예약", text="x", send_at=later())
    assert response.status_code == 201, response.json()
    body = response.json()
    item = body["outbox"]["id"]
    assert body["outbox"]["scheduled"] is True
    assert len(messages_in(alice, "sent")) == 1  # stored once, now
    # Waiting: listed, not tried, shown as scheduled (not deferred) in mailq.
    assert [i["id"] for i in alice_api.get("/api/v1/outbox").json()] == [item]
    assert states(alice_api, item) == {"bob@example.com": "scheduled"}
    assert status_of(alice_api, item)["waiting"] is True
    assert run_queue() == [] and do_dispatch_untried() == 0
    assert " scheduled " in mailq() and "deferred" not in mailq()
    assert do_flush_queue() == 0  # mailq flush leaves scheduled mail alone
    assert messages_in(bob, "inbox") == []

    make_due(item)
    assert run_queue() == ["done"]
    assert len(messages_in(bob, "inbox")) == 1
    assert alice_api.get("/api/v1/outbox").json() == []
    assert states(alice_api, item) == {"bob@example.com": "delivered"}
    assert run_queue() == []  # never twice
    assert alice_api.delete(f"/api/v1/outbox/{item}").json()["error"] == "already_sent"


def test_scheduled_message_carries_its_time_as_date(alice: Account, alice_api: APIClient) -> None:
    when = timezone.now().replace(microsecond=0) + timedelta(days=2)
    send(alice_api, to=["bob@remote.test"], subject="d", text="x", send_at=when.isoformat())
    assert parse_message(raw(messages_in(alice, "sent")[0])).date == when


def test_send_at_needs_a_zone_and_a_future_time_within_limits(
    alice: Account, bob: Account, alice_api: APIClient, settings
) -> None:  # type: ignore[no-untyped-def]
    naive = (timezone.now() + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    for value in (naive, later(-60)):
        response = send(alice_api, to=["bob@example.com"], text="x", send_at=value)
        assert response.status_code == 400 and "send_at" in response.json()["fields"]
    settings.OUTBOX_MAX_SCHEDULE_DAYS = 7
    response = send(alice_api, to=["bob@example.com"], text="x", send_at=later(8 * 86400))
    assert response.status_code == 400
    settings.OUTBOX_MAX_SCHEDULED = 1
    assert send(alice_api, to=["bob@example.com"], text="x", send_at=later()).status_code == 201
    response = send(alice_api, to=["bob@example.com"], text="x", send_at=later())
    assert response.status_code == 400 and "scheduled" in str(response.json()["fields"]["send_at"])
    assert len(messages_in(alice, "sent")) == 1


def test_cancel_scheduled_returns_it_to_drafts_exactly(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 20
    uploaded = upload(alice_api, pdf).json()
    item = send(
        alice_api,
        to=["Bob <bob@example.com>"],
        cc=["carol@remote.test"],
        bcc=["dave@remote.test"],
        subject="보고서",
        text="첨부 확인 부탁",
        attachments=[uploaded["id"]],
        request_receipt=True,
        send_at=later(),
    )
    assert item.status_code == 201, item.json()
    item = item.json()["outbox"]["id"]
    response = alice_api.delete(f"/api/v1/outbox/{item}")
    assert response.status_code == 200, response.json()
    draft = response.json()["draft"]
    assert messages_in(alice, "sent") == [] and QueueEntry.objects.count() == 0
    fields = alice_api.get(f"/api/v1/drafts/{draft}").json()
    assert fields["to"] == ['"Bob" <bob@example.com>'] and fields["cc"] == ["carol@remote.test"]
    assert fields["bcc"] == ["dave@remote.test"] and fields["subject"] == "보고서"
    assert fields["text"].startswith("첨부 확인 부탁") and fields["request_receipt"] is True
    [part] = fields["draft_attachments"]
    assert part["filename"] == "report.pdf"
    [stored] = messages_in(alice, "drafts")
    assert get_attachment(raw(stored), part["index"])[1] == pdf  # type: ignore[index]
    assert alice_api.get("/api/v1/outbox").json() == []
    assert states(alice_api, item) == {
        "bob@example.com": "cancelled",
        "carol@remote.test": "cancelled",
        "dave@remote.test": "cancelled",
    }
    assert alice_api.delete(f"/api/v1/outbox/{item}").json()["error"] == "already_cancelled"
    run_queue()
    assert messages_in(bob, "inbox") == []


def test_send_now_and_reschedule(alice: Account, bob: Account, alice_api: APIClient) -> None:
    item = send(alice_api, to=["bob@example.com"], text="x", send_at=later()).json()["outbox"]["id"]
    new_time = timezone.now() + timedelta(days=1)
    response = alice_api.patch(
        f"/api/v1/outbox/{item}", {"send_at": new_time.isoformat()}, format="json"
    )
    assert response.status_code == 200
    entry = QueueEntry.objects.get()
    assert abs((entry.next_attempt_at - new_time).total_seconds()) < 1
    assert run_queue() == []
    response = alice_api.patch(f"/api/v1/outbox/{item}", {"send_at": None}, format="json")
    assert response.status_code == 200
    assert run_queue() == ["done"] and len(messages_in(bob, "inbox")) == 1
    response = alice_api.patch(f"/api/v1/outbox/{item}", {"send_at": None}, format="json")
    assert response.status_code == 409


def test_another_users_item_is_not_found(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    item = send(alice_api, to=["bob@example.com"], text="x", send_at=later()).json()["outbox"]["id"]
    for call in (bob_api.get, bob_api.delete):
        assert call(f"/api/v1/outbox/{item}").status_code == 404
    assert bob_api.post(f"/api/v1/outbox/{item}/recall").status_code == 404
    assert bob_api.get("/api/v1/outbox").json() == []


# --- 보내기 취소 (undo) -------------------------------------------------------------------------


def test_undo_window_holds_the_message_and_undo_takes_it_back(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    assert alice_api.get("/api/v1/outbox/settings").json()["undo_seconds"] == 10
    body = send(alice_api, to=["bob@example.com"], subject="앗", text="x", undo=True).json()
    held = timezone.now() + timedelta(seconds=10)
    assert abs(QueueEntry.objects.get().next_attempt_at - held) < timedelta(seconds=2)
    assert run_queue() == [] and do_dispatch_untried() == 0
    assert alice_api.get("/api/v1/outbox").json() == []  # not a scheduled message
    draft = alice_api.delete(f"/api/v1/outbox/{body['outbox']['id']}").json()["draft"]
    assert alice_api.get(f"/api/v1/drafts/{draft}").json()["subject"] == "앗"
    run_queue()
    assert messages_in(bob, "inbox") == []


def test_undo_after_the_window_is_too_late(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    item = send(alice_api, to=["bob@example.com"], text="x", undo=True).json()["outbox"]["id"]
    make_due(item)
    assert run_queue() == ["done"]
    response = alice_api.delete(f"/api/v1/outbox/{item}")
    assert response.status_code == 409 and response.json()["error"] == "already_sent"
    assert len(messages_in(bob, "inbox")) == 1 and len(messages_in(alice, "sent")) == 1


def test_undo_setting_off_and_api_default_do_not_hold(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    response = alice_api.patch("/api/v1/outbox/settings", {"undo_seconds": 0}, format="json")
    assert response.json()["undo_seconds"] == 0
    assert (
        alice_api.patch("/api/v1/outbox/settings", {"undo_seconds": 7}, format="json").status_code
        == 400
    )
    send(alice_api, to=["bob@example.com"], text="x", undo=True)
    send(alice_api, to=["bob@example.com"], text="y")
    assert run_queue() == ["done", "done"]


# --- 수신확인 (read status) --------------------------------------------------------------------


def test_read_status_by_web_and_store_flags(
    alice: Account, bob: Account, make_account, alice_api: APIClient, bob_api: APIClient
) -> None:  # type: ignore[no-untyped-def]
    carol = make_account("carol@example.com")
    dave = make_account("dave@example.com")
    body = send(
        alice_api,
        to=["bob@example.com", "carol@example.com", "dave@example.com", "x@remote.test"],
        subject="회의",
        text="x",
    ).json()
    item = body["outbox"]["id"]
    sent_id = body["message"]["id"]
    run_queue()
    summary = alice_api.get(f"/api/v1/outbox/sent-status?ids={sent_id}").json()["items"]
    assert [(s["total"], s["read"]) for s in summary] == [(4, 0)]
    assert states(alice_api, item)["bob@example.com"] == "delivered"

    [bob_copy] = messages_in(bob, "inbox")
    assert (
        bob_api.patch(f"/api/v1/messages/{bob_copy.pk}", {"seen": True}, format="json").status_code
        == 200
    )
    [carol_copy] = messages_in(carol, "inbox")
    do_set_flags(acting_account=carol, messages=[carol_copy], add=["seen"])  # IMAP STORE's path
    [dave_copy] = messages_in(dave, "inbox")
    do_set_flags(acting_account=dave, messages=[dave_copy], add=["seen", "flagged"])
    status = status_of(alice_api, item)
    by = {r["address"]: r for r in status["recipients"]}
    assert {a: r["state"] for a, r in by.items()} == {
        "bob@example.com": "read",
        "carol@example.com": "read",
        "dave@example.com": "read",
        "x@remote.test": "deferred",  # no MX on the loopback resolver
    }
    first = by["bob@example.com"]["read_at"]
    assert first and status["read"] == 3 and status["total"] == 4
    # Unread and read again: the first time stays.
    bob_api.patch(f"/api/v1/messages/{bob_copy.pk}", {"seen": False}, format="json")
    bob_api.patch(f"/api/v1/messages/{bob_copy.pk}", {"seen": True}, format="json")
    assert status_of(alice_api, item)["recipients"][0]["read_at"] == first
    assert alice_api.get(f"/api/v1/messages/{sent_id}/read-status").json()["read"] == 3
    summary = alice_api.get(f"/api/v1/outbox/sent-status?ids={sent_id},999999").json()["items"]
    assert [(s["total"], s["read"]) for s in summary] == [(4, 3)]


def test_recipient_privacy_is_honoured(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    response = bob_api.patch("/api/v1/outbox/settings", {"share_read_status": False}, format="json")
    assert response.json()["share_read_status"] is False
    item = send(alice_api, to=["bob@example.com"], text="x").json()["outbox"]["id"]
    run_queue()
    [copy] = messages_in(bob, "inbox")
    do_set_flags(acting_account=bob, messages=[copy], add=["seen"])
    assert states(alice_api, item) == {"bob@example.com": "delivered"}


def test_other_domains_see_read_time_only_if_allowed(
    alice: Account, make_account, alice_api: APIClient, settings
) -> None:  # type: ignore[no-untyped-def]
    from mailcore.directory.actions import do_create_domain

    do_create_domain("other.test")
    erin = make_account("erin@other.test")
    item = send(alice_api, to=["erin@other.test"], text="x").json()["outbox"]["id"]
    run_queue()
    do_set_flags(acting_account=erin, messages=messages_in(erin, "inbox"), add=["seen"])
    assert states(alice_api, item) == {"erin@other.test": "delivered"}


def test_a_forged_message_id_does_not_mark_read(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    body = send(alice_api, to=["bob@example.com"], text="x", send_at=later()).json()
    sent = Message.objects.get(pk=body["message"]["id"])
    forged = f"From: x@remote.test\r\nMessage-ID: <{sent.message_id}>\r\nSubject: f\r\n\r\nz\r\n"
    do_enqueue_routed(
        sender="x@remote.test", local=["bob@example.com"], remote=[], data=forged.encode()
    )
    run_queue()
    do_set_flags(acting_account=bob, messages=messages_in(bob, "inbox"), add=["seen"])
    assert states(alice_api, body["outbox"]["id"]) == {"bob@example.com": "scheduled"}


# --- 발송취소 (recall) ---------------------------------------------------------------------------


def test_recall_removes_unread_local_copies_only(
    alice: Account, bob: Account, make_account, alice_api: APIClient
) -> None:  # type: ignore[no-untyped-def]
    carol = make_account("carol@example.com")
    item = send(
        alice_api, to=["bob@example.com", "carol@example.com", "x@remote.test"], text="x"
    ).json()["outbox"]["id"]
    run_queue()
    [carol_copy] = messages_in(carol, "inbox")
    do_set_flags(acting_account=carol, messages=[carol_copy], add=["seen"])
    [bob_copy] = messages_in(bob, "inbox")
    response = alice_api.post(f"/api/v1/outbox/{item}/recall")
    assert response.status_code == 200, response.json()
    assert {r["address"]: r["reason"] for r in response.json()["recipients"]} == {
        "bob@example.com": "",
        "carol@example.com": "opened",
        "x@remote.test": "remote",
    }
    assert messages_in(bob, "inbox") == [] and len(messages_in(carol, "inbox")) == 1
    # Through the store: a tombstone (IMAP VANISHED / web changes) and an audit row.
    assert Tombstone.objects.filter(account=bob, message_pk=bob_copy.pk).exists()
    audit = AuditLog.objects.get(action="message.recall")
    assert (audit.actor, audit.target) == ("alice@example.com", "bob@example.com")
    by = {r["address"]: r for r in status_of(alice_api, item)["recipients"]}
    assert by["bob@example.com"]["state"] == "recalled"
    assert by["carol@example.com"]["recall_blocked"] == "opened"
    assert by["x@remote.test"]["recall_blocked"] == "remote"
    again = alice_api.post(f"/api/v1/outbox/{item}/recall").json()["recipients"]
    assert again[0]["reason"] == "recalled_already"


def test_recall_can_be_turned_off_for_a_domain(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    item = send(alice_api, to=["bob@example.com"], text="x").json()["outbox"]["id"]
    run_queue()
    call_command("outbox", "recall", "example.com", "off", stdout=StringIO())
    assert AuditLog.objects.filter(action="outbox.recall_policy").exists()
    response = alice_api.post(f"/api/v1/outbox/{item}/recall")
    assert response.status_code == 409 and response.json()["error"] == "recall_disabled"
    assert status_of(alice_api, item)["recall_enabled"] is False
    assert len(messages_in(bob, "inbox")) == 1
    do_set_recall_policy(domain=alice.domain, enabled=True)
    assert alice_api.post(f"/api/v1/outbox/{item}/recall").status_code == 200
    assert messages_in(bob, "inbox") == []


# --- MDN (remote read receipts) -------------------------------------------------------------


def test_receipt_request_header_and_incoming_mdn(alice: Account, alice_api: APIClient) -> None:
    body = send(alice_api, to=["x@remote.test"], text="x", request_receipt=True).json()
    sent = Message.objects.get(pk=body["message"]["id"])
    assert b"Disposition-Notification-To: alice@example.com\r\n" in raw(sent)
    mdn = (
        "From: x@remote.test\r\nTo: alice@example.com\r\nSubject: Read: x\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nread it\r\n"
        "--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: mx.remote.test; Thunderbird\r\n"
        "Final-Recipient: rfc822;x@remote.test\r\n"
        f"Original-Message-ID: <{sent.message_id}>\r\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
        "--b--\r\n"
    )
    do_enqueue_routed(sender="", local=["alice@example.com"], remote=[], data=mdn.encode())
    run_queue()
    [rcpt] = status_of(alice_api, body["outbox"]["id"])["recipients"]
    assert (rcpt["state"], rcpt["mdn_disposition"]) == ("read", "displayed")
    assert rcpt["read_at"]


def test_receipt_prompt_is_answered_once_and_sends_an_mdn(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    send(alice_api, to=["bob@example.com"], subject="확인", text="x", request_receipt=True)
    run_queue()
    [copy] = messages_in(bob, "inbox")
    asked = bob_api.get(f"/api/v1/messages/{copy.pk}/receipt").json()
    assert asked == {
        "requested": True,
        "notify": "alice@example.com",
        "decision": "",
        "always": False,
    }
    assert QueueEntry.objects.filter(sender="bob@example.com").count() == 0  # never silently
    answer = bob_api.post(f"/api/v1/messages/{copy.pk}/receipt", {"choice": "send"}, format="json")
    assert answer.json()["decision"] == "sent"
    again = bob_api.post(f"/api/v1/messages/{copy.pk}/receipt", {"choice": "send"}, format="json")
    assert again.status_code == 409
    run_queue()
    [report] = messages_in(alice, "inbox")
    assert b"report-type=disposition-notification" in raw(report)
    [sent] = messages_in(alice, "sent")
    [rcpt] = alice_api.get(f"/api/v1/messages/{sent.pk}/read-status").json()["recipients"]
    assert rcpt["mdn_disposition"] == "displayed"


def test_receipt_always_for_a_sender_and_decline(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    for subject in ("a", "b"):
        send(alice_api, to=["bob@example.com"], subject=subject, text="x", request_receipt=True)
    run_queue()
    first, second = messages_in(bob, "inbox")
    bob_api.post(f"/api/v1/messages/{first.pk}/receipt", {"choice": "always"}, format="json")
    assert bob_api.get(f"/api/v1/messages/{second.pk}/receipt").json()["always"] is True
    send(alice_api, to=["bob@example.com"], subject="plain", text="x")
    run_queue()
    plain = messages_in(bob, "inbox")[-1]
    assert bob_api.get(f"/api/v1/messages/{plain.pk}/receipt").json()["requested"] is False
    response = bob_api.post(
        f"/api/v1/messages/{plain.pk}/receipt", {"choice": "decline"}, format="json"
    )
    assert response.status_code == 409


@pytest.mark.parametrize("door", ["fetch"])
def test_sent_status_query_budget(
    alice: Account, alice_api: APIClient, django_assert_max_num_queries, door: str
) -> None:  # type: ignore[no-untyped-def]
    ids = [
        send(alice_api, to=["x@remote.test"], text=str(n)).json()["message"]["id"] for n in range(5)
    ]
    with django_assert_max_num_queries(6):
        items = alice_api.get(f"/api/v1/outbox/sent-status?ids={','.join(map(str, ids))}")
    assert len(items.json()["items"]) == 5
