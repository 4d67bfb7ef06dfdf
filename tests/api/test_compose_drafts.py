"""Drafts over the API: create, autosave (replace), reopen, delete, and send from a draft."""

from __future__ import annotations

from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.mime import parse_message
from mailcore.store.models import Message
from tests.api.compose_helpers import messages_in, raw, send, upload, upload_dir
from tests.api.helpers import put
from tests.conftest import run_queue

__all__ = ["upload_dir"]


def test_create_reopen_replace_delete(alice: Account, alice_api: APIClient) -> None:
    pdf = b"%PDF" + bytes(range(256)) * 10
    att = upload(alice_api, pdf, name="계약서.pdf").json()
    body = {
        "to": ['"Kim, Bob" <bob@example.com>'],
        "bcc": ["carol@remote.test"],
        "subject": "초안 제목",
        "text": "첫 버전",
        "priority": "high",
        "attachments": [att["id"]],
    }
    response = alice_api.post("/api/v1/drafts", body, format="json")
    assert response.status_code == 201, response.json()
    first = response.json()
    assert first["flags"]["draft"] and first["flags"]["seen"]
    [stored] = messages_in(alice, "drafts")
    assert stored.pk == first["id"]

    fields = alice_api.get(f"/api/v1/drafts/{first['id']}").json()
    assert fields["to"] == ['"Kim, Bob" <bob@example.com>']
    assert fields["bcc"] == ["carol@remote.test"]
    # MIME text ends with a line break; it is added once and never accumulates.
    assert (fields["subject"], fields["text"], fields["priority"]) == (
        "초안 제목",
        "첫 버전\n",
        "high",
    )
    assert fields["mode"] == "new" and fields["in_reply_to_message"] is None
    assert [(a["filename"], a["size"]) for a in fields["draft_attachments"]] == [
        ("계약서.pdf", len(pdf))
    ]

    # Autosave: the draft's own attachment is kept by default, the text replaced.
    response = alice_api.put(
        f"/api/v1/drafts/{first['id']}",
        {**body, "text": "둘째 버전", "attachments": []},
        format="json",
    )
    assert response.status_code == 200, response.json()
    second = response.json()
    assert second["id"] != first["id"]
    assert [m.pk for m in messages_in(alice, "drafts")] == [second["id"]]
    assert not Message.objects.filter(pk=first["id"]).exists()
    reopened = alice_api.get(f"/api/v1/drafts/{second['id']}").json()
    assert reopened["text"] == "둘째 버전\n"
    assert [a["filename"] for a in reopened["draft_attachments"]] == ["계약서.pdf"]

    # Dropping it explicitly.
    response = alice_api.put(
        f"/api/v1/drafts/{second['id']}",
        {**body, "text": reopened["text"], "attachments": [], "draft_attachments": []},
        format="json",
    )
    third = response.json()
    reopened = alice_api.get(f"/api/v1/drafts/{third['id']}").json()
    assert reopened["draft_attachments"] == [] and reopened["text"] == "둘째 버전\n"

    assert alice_api.delete(f"/api/v1/drafts/{third['id']}").status_code == 204
    assert messages_in(alice, "drafts") == []
    assert alice_api.get(f"/api/v1/drafts/{third['id']}").status_code == 404


def test_empty_draft_is_fine_for_autosave(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.post("/api/v1/drafts", {}, format="json")
    assert response.status_code == 201, response.json()
    fields = alice_api.get(f"/api/v1/drafts/{response.json()['id']}").json()
    assert fields["to"] == [] and fields["subject"] == ""


def test_reply_draft_reopens_as_reply_and_sending_it_removes_it(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    original = put(alice, subject="질문", sender="bob@example.com", message_id="<q@example.com>")
    draft = alice_api.post(
        "/api/v1/drafts",
        {"mode": "reply", "in_reply_to_message": original.pk, "text": "답변 중"},
        format="json",
    ).json()
    fields = alice_api.get(f"/api/v1/drafts/{draft['id']}").json()
    assert fields["mode"] == "reply" and fields["in_reply_to_message"] == original.pk
    assert fields["subject"] == "Re: 질문" and fields["to"] == ["bob@example.com"]
    # The draft itself carries the threading headers too.
    assert parse_message(raw(messages_in(alice, "drafts")[0])).in_reply_to == "q@example.com"

    response = send(
        alice_api,
        to=fields["to"],
        subject=fields["subject"],
        text="답변입니다",
        mode=fields["mode"],
        in_reply_to_message=original.pk,
        draft_id=draft["id"],
    )
    assert response.status_code == 201, response.json()
    assert messages_in(alice, "drafts") == []
    original.refresh_from_db()
    assert original.answered
    sent = raw(messages_in(alice, "sent")[0])
    assert b"X-Mailroom" not in sent  # draft bookkeeping never goes out
    run_queue()
    got = parse_message(raw(messages_in(bob, "inbox")[0]))
    assert (got.subject, got.in_reply_to) == ("Re: 질문", "q@example.com")


def test_draft_of_another_folder_is_not_a_draft(alice: Account, alice_api: APIClient) -> None:
    inbox_message = put(alice)
    assert alice_api.get(f"/api/v1/drafts/{inbox_message.pk}").status_code == 404
    assert alice_api.delete(f"/api/v1/drafts/{inbox_message.pk}").status_code == 404
    assert Message.objects.filter(pk=inbox_message.pk).exists()


def test_draft_with_header_injection_is_refused(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.post("/api/v1/drafts", {"subject": "a\r\nBcc: x@evil.test"}, format="json")
    assert response.status_code == 400 and "subject" in response.json()["fields"]
    assert messages_in(alice, "drafts") == []
