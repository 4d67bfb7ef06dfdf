"""POST /api/v1/messages/send: local delivery through the real queue, the one Sent copy, Bcc,
reply/forward, write-to-myself, validation and the delivery report."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mailcore.delivery.models import QueueEntry
from mailcore.directory.actions import do_add_alias
from mailcore.directory.models import Account
from mailcore.mime import get_attachment, parse_message
from tests.api.compose_helpers import messages_in, raw, send, upload, upload_dir
from tests.api.helpers import build_message, put, token_client
from tests.conftest import run_queue

__all__ = ["upload_dir"]  # the autouse fixture


def test_send_to_local_user_is_delivered_and_read_by_bob(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    response = send(
        alice_api,
        to=["Bob <bob@example.com>"],
        subject="점심 약속 안내 회의",
        text="안녕하세요 밥,\n내일 봐요.\n",
        html="<p>안녕하세요 <b>밥</b></p>",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["queue_ids"]) == 1
    sent = messages_in(alice, "sent")
    assert len(sent) == 1 and body["message"]["id"] == sent[0].pk  # at once
    assert body["message"]["subject"] == "점심 약속 안내 회의"
    assert body["message"]["flags"]["seen"] is True

    assert run_queue() == ["done"]
    listing = bob_api.get(f"/api/v1/folders/{messages_in(bob, 'inbox')[0].folder_id}/messages")
    [item] = listing.json()["results"]
    assert item["subject"] == "점심 약속 안내 회의"
    assert item["from"] == {"name": "", "address": "alice@example.com"}
    detail = bob_api.get(f"/api/v1/messages/{item['id']}").json()
    assert detail["text"] == "안녕하세요 밥,\n내일 봐요.\n"
    assert "<b>밥</b>" in detail["html"]
    assert len(messages_in(alice, "sent")) == 1  # the worker never adds a second copy

    report = alice_api.get(f"/api/v1/messages/{sent[0].pk}/delivery").json()
    assert [(r["address"], r["state"]) for r in report["recipients"]] == [
        ("bob@example.com", "delivered")
    ]


def test_bcc_is_hidden_from_recipients_but_kept_in_sent(
    alice: Account,
    bob: Account,
    make_account,
    alice_api: APIClient,  # type: ignore[no-untyped-def]
) -> None:
    carol = make_account("carol@example.com")
    response = send(
        alice_api, to=["bob@example.com"], bcc=["carol@example.com"], subject="secret", text="x"
    )
    assert response.status_code == 201
    assert b"Bcc: carol@example.com\r\n" in raw(messages_in(alice, "sent")[0])
    run_queue()
    for account in (bob, carol):
        [got] = messages_in(account, "inbox")
        # Only carol's own copy names her, in the Delivered-To of final delivery.
        head = raw(got).removeprefix(
            f"Return-Path: <alice@example.com>\r\nDelivered-To: {account.address}\r\n".encode()
        )
        assert b"Bcc" not in head and b"carol" not in head


def test_remote_recipient_is_queued_outbound(alice: Account, alice_api: APIClient) -> None:
    response = send(
        alice_api,
        to=["Dave <Dave@Bücher.example>"],
        cc=["bob2@remote.test"],
        subject="hi",
        text="x",
    )
    assert response.status_code == 201, response.json()
    sent = messages_in(alice, "sent")[0]
    assert b"To: Dave <Dave@xn--bcher-kva.example>\r\n" in raw(sent)
    report = alice_api.get(f"/api/v1/messages/{sent.pk}/delivery").json()["recipients"]
    assert {(r["address"], r["state"]) for r in report} == {
        ("Dave@xn--bcher-kva.example", "queued"),
        ("bob2@remote.test", "queued"),
    }


def test_reply_sets_answered_and_threads(
    alice: Account,
    bob: Account,
    make_account,
    alice_api: APIClient,  # type: ignore[no-untyped-def]
) -> None:
    carol = make_account("carol@example.com")
    original = put(
        alice,
        subject="Re: 회의 안내",
        message_id="<m2@example.com>",
        references="<m0@example.com> <m1@example.com>",
        sender="Bob <bob@example.com>",
        to="alice@example.com",
        cc="carol@example.com",
        text="원문입니다\n",
    )
    response = send(
        alice_api, mode="reply_all", in_reply_to_message=original.pk, text="좋아요", quote=True
    )
    assert response.status_code == 201, response.json()
    original.refresh_from_db()
    assert original.answered
    parsed = parse_message(raw(messages_in(alice, "sent")[0]))
    assert parsed.subject == "Re: 회의 안내"
    assert parsed.in_reply_to == "m2@example.com"
    assert parsed.references == ("m0@example.com", "m1@example.com", "m2@example.com")
    assert [a.addr for a in parsed.to] == ["bob@example.com"]
    assert [a.addr for a in parsed.cc] == ["carol@example.com"]
    assert parsed.text.startswith("좋아요\n\nOn Wed, 01 May 2024 09:30:00 +0000, Bob wrote:\n")
    assert "> 원문입니다" in parsed.text
    assert run_queue() == ["done"]
    for account in (bob, carol):
        [got] = messages_in(account, "inbox")
        assert parse_message(raw(got)).in_reply_to == "m2@example.com"


def test_forward_carries_the_original_attachment_bytes(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    pdf = b"%PDF-1.7\x00\x01\xfe" * 3000
    original = put(alice, subject="견적서", attachments=[(pdf, "application/pdf", "견적서.pdf")])
    extra = upload(alice_api, b"more", name="note.txt", content_type="text/plain").json()
    response = send(
        alice_api,
        mode="forward",
        in_reply_to_message=original.pk,
        to=["bob@example.com"],
        text="참고하세요",
        attachments=[extra["id"]],
    )
    assert response.status_code == 201, response.json()
    original.refresh_from_db()
    assert "$Forwarded" in original.keywords and not original.answered
    run_queue()
    data = raw(messages_in(bob, "inbox")[0])
    parsed = parse_message(data)
    assert parsed.subject == "Fwd: 견적서"
    assert [a.filename for a in parsed.attachments] == ["note.txt", "견적서.pdf"]
    found = get_attachment(data, parsed.attachments[1].index)
    assert found is not None and found[1] == pdf


def test_to_me_is_stored_only_in_to_me(alice: Account, alice_api: APIClient) -> None:
    response = send(
        alice_api, to_me=True, subject="메모", text="우유 사기", bcc=["bob@example.com"]
    )
    assert response.status_code == 201, response.json()
    assert response.json()["queue_ids"] == []
    [memo] = messages_in(alice, "tome")
    assert response.json()["message"]["id"] == memo.pk
    assert messages_in(alice, "sent") == []
    parsed = parse_message(raw(memo))
    assert [a.addr for a in parsed.to] == ["alice@example.com"] and b"Bcc" not in raw(memo)
    assert run_queue() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": ["bob@example.com\r\nBcc: x@evil.test"]}, "to"),
        ({"to": ["not an address"]}, "to"),
        ({"to": ["bob@example.com"], "subject": "hi\nBcc: x@evil.test"}, "subject"),
        ({"to": ["bob@example.com"], "reply_to": ["a@b.test\r\n"]}, "reply_to"),
        ({"to": ["bob@example.com"], "from": "bob@example.com"}, "from"),  # no send-as
        ({"to": []}, "to"),
        ({"mode": "reply"}, "in_reply_to_message"),
    ],
)
def test_invalid_input_is_400_with_field_errors(
    alice: Account, bob: Account, alice_api: APIClient, body: dict[str, object], field: str
) -> None:
    response = send(alice_api, text="x", **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert messages_in(alice, "sent") == [] and run_queue() == []


def test_oversize_message_is_400_with_a_clear_error(
    settings,
    alice: Account,
    bob: Account,
    alice_api: APIClient,  # type: ignore[no-untyped-def]
) -> None:
    settings.COMPOSE_MAX_MESSAGE_BYTES = 100_000
    first = upload(alice_api, b"\x00" * 60_000).json()
    second = upload(alice_api, b"\x01" * 60_000, name="b.bin").json()
    response = send(
        alice_api, to=["bob@example.com"], text="x", attachments=[first["id"], second["id"]]
    )
    assert response.status_code == 400
    body = response.json()
    assert "limit is 0.1 MiB" in body["fields"]["attachments"][0]
    # Issue 12 item 5: a stable code and the sizes, so the page says it in its own words.
    assert body["error"] == "message_too_large"
    assert body["limit"] == 100_000 and body["size"] > 100_000
    assert messages_in(alice, "sent") == []


def test_sending_limits_carry_a_code_and_the_limit(
    settings,  # type: ignore[no-untyped-def]
    alice: Account,
    bob: Account,
    alice_api: APIClient,
) -> None:
    settings.SUBMISSION_MAX_RECIPIENTS = 1
    many = send(alice_api, to=["bob@example.com", "alice@example.com"], text="x")
    assert (many.status_code, many.json()["error"], many.json()["limit"]) == (
        400,
        "too_many_recipients",
        1,
    )
    settings.SUBMISSION_MAX_MESSAGES_PER_DAY = 1
    assert send(alice_api, to=["bob@example.com"], text="x").status_code == 201
    again = send(alice_api, to=["bob@example.com"], text="x")
    assert (again.status_code, again.json()["error"], again.json()["limit"]) == (
        429,
        "daily_limit",
        1,
    )


def test_unknown_local_recipient_is_refused(alice: Account, alice_api: APIClient) -> None:
    response = send(alice_api, to=["nobody@example.com"], text="x")
    assert response.status_code == 400
    assert response.json()["error"] == "recipient_rejected"
    assert messages_in(alice, "sent") == []


def test_bob_cannot_use_alices_messages_uploads_or_drafts(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    original = put(alice, data=build_message(attachments=[(b"secret", "text/plain", "s.txt")]))
    alice_upload = upload(alice_api, b"alice's").json()
    draft = alice_api.post("/api/v1/drafts", {"subject": "mine", "text": "x"}, format="json").json()
    for body in (
        {"mode": "forward", "in_reply_to_message": original.pk},
        {"mode": "reply", "in_reply_to_message": original.pk},
        {"attachments": [alice_upload["id"]]},
        {"draft_id": draft["id"]},
    ):
        response = send(bob_api, to=["bob@example.com"], text="x", **body)
        assert response.status_code == 404, (body, response.json())
    assert bob_api.get(f"/api/v1/messages/{original.pk}/delivery").status_code == 404
    assert bob_api.get(f"/api/v1/drafts/{draft['id']}").status_code == 404
    assert (
        bob_api.put(f"/api/v1/drafts/{draft['id']}", {"text": "x"}, format="json").status_code
        == 404
    )
    assert bob_api.delete(f"/api/v1/drafts/{draft['id']}").status_code == 404
    assert bob_api.delete(f"/api/v1/uploads/{alice_upload['id']}").status_code == 404
    assert token_client(alice).get(f"/api/v1/drafts/{draft['id']}").status_code == 200
    original.refresh_from_db()
    assert not original.answered and messages_in(bob, "sent") == []


def test_display_name_goes_into_from(make_account, bob: Account) -> None:  # type: ignore[no-untyped-def]
    kim = make_account("kim@example.com", display_name="김철수 (영업팀)")
    response = send(token_client(kim), to=["bob@example.com"], subject="견적", text="x")
    assert response.status_code == 201, response.json()
    assert response.json()["message"]["from"] == {
        "name": "김철수 (영업팀)",
        "address": "kim@example.com",
    }


def test_smtp_submitted_mail_has_a_delivery_report_too(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    from mailcore.delivery.submit import do_submit
    from mailcore.store.models import Source

    submission = do_submit(
        acting_account=alice,
        envelope_sender="alice@example.com",
        recipients=["bob@example.com"],
        data=b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: via 587\r\n\r\nhi\r\n",
        source=Source.SMTP,
    )
    assert submission.sent_message is not None
    url = f"/api/v1/messages/{submission.sent_message.pk}/delivery"
    assert [r["state"] for r in alice_api.get(url).json()["recipients"]] == ["queued"]
    run_queue()
    assert [r["state"] for r in alice_api.get(url).json()["recipients"]] == ["delivered"]


def test_send_as_an_alias_of_ones_own(alice: Account, bob: Account, alice_api: APIClient) -> None:
    """Gmail's "send mail as": From (and the envelope) may be an alias that delivers to the
    account; a draft written from it reopens from it."""
    do_add_alias("sales@example.com", ["alice@example.com"])
    response = send(
        alice_api, from_address="Sales@example.com", to=["bob@example.com"], subject="s", text="x"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["message"]["from"]["address"] == "Sales@example.com"
    assert run_queue() == ["done"]
    [got] = messages_in(bob, "inbox")
    assert b"From: Sales@example.com\r\n" in raw(got)
    assert QueueEntry.objects.get(queue_id=response.json()["queue_ids"][0]).sender == (
        "sales@example.com"
    )

    draft = alice_api.post(
        "/api/v1/drafts", {"from_address": "sales@example.com", "subject": "d"}, format="json"
    ).json()
    assert alice_api.get(f"/api/v1/drafts/{draft['id']}").json()["from_address"] == (
        "sales@example.com"
    )
    plain = alice_api.post("/api/v1/drafts", {"subject": "e"}, format="json").json()
    assert alice_api.get(f"/api/v1/drafts/{plain['id']}").json()["from_address"] == (
        "alice@example.com"
    )


@pytest.mark.parametrize(
    "address",
    ["bob@example.com", "info@example.com", "someone@remote.test", "not an address", ""],
)
def test_send_as_an_address_not_ones_own_is_400(
    alice: Account, bob: Account, alice_api: APIClient, address: str
) -> None:
    do_add_alias("info@example.com", ["bob@example.com"])
    response = send(alice_api, from_address=address, to=["bob@example.com"], text="x")
    assert response.status_code == 400
    assert "from_address" in response.json()["fields"], response.json()
    assert messages_in(alice, "sent") == [] and run_queue() == []
