"""Message listing: newest first, keyset cursor pages, limits (W15) and a fixed query count."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import override_settings
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Folder
from tests.api.helpers import build_message, folder, put


def _url(f: Folder, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/folders/{f.pk}/messages" + (f"?{query}" if query else "")


@pytest.fixture
def inbox_of_seven(alice: Account) -> Folder:
    for n in range(7):
        put(alice, subject=f"message {n}", message_id=f"<m{n}@remote.test>")
    return folder(alice)


def test_listing_item_shape(alice: Account, alice_api: APIClient) -> None:
    sent = datetime(2024, 3, 2, 1, 2, 3, tzinfo=UTC)
    message = put(
        alice,
        build_message(
            subject="Quarterly 보고",
            date=sent,
            cc="Carol <carol@remote.test>, dave@remote.test",
            attachments=[(b"x", "application/pdf", "a.pdf")],
        ),
        flags=["flagged"],
    )
    response = alice_api.get(_url(folder(alice)))
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item == {
        "id": message.pk,
        "folder": folder(alice).pk,
        "uid": 1,
        "subject": "Quarterly 보고",
        "from": {"name": "Bob Sender", "address": "bob@remote.test"},
        "to": [{"name": "Alice", "address": "alice@example.com"}],
        "cc": [
            {"name": "Carol", "address": "carol@remote.test"},
            {"name": "", "address": "dave@remote.test"},
        ],
        "date": "2024-03-02T01:02:03Z",
        "internal_date": item["internal_date"],
        "size": message.size,
        "snippet": "Hello Alice, see you.",
        "has_attachments": True,
        "flags": {
            "seen": False,
            "answered": False,
            "flagged": True,
            "deleted": False,
            "draft": False,
        },
        "keywords": [],
        "conversation_id": message.conversation_id,
        "conversation": None,
    }
    assert response.json()["next_cursor"] is None


def test_date_falls_back_to_arrival_time(alice: Account, alice_api: APIClient) -> None:
    raw = build_message().replace(b"Date: Wed, 01 May 2024 09:30:00 +0000\n", b"")
    assert b"Date:" not in raw
    put(alice, raw)
    (item,) = alice_api.get(_url(folder(alice))).json()["results"]
    assert item["date"] == item["internal_date"]


def test_three_pages_newest_first(inbox_of_seven: Folder, alice_api: APIClient) -> None:
    seen: list[int] = []
    pages = []
    url = _url(inbox_of_seven, limit=3)
    while True:
        body = alice_api.get(url).json()
        pages.append([m["subject"] for m in body["results"]])
        seen += [m["uid"] for m in body["results"]]
        if body["next_cursor"] is None:
            break
        url = _url(inbox_of_seven, limit=3, cursor=body["next_cursor"])
    assert pages == [
        ["message 6", "message 5", "message 4"],
        ["message 3", "message 2", "message 1"],
        ["message 0"],
    ]
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_exact_multiple_has_no_empty_last_page(
    inbox_of_seven: Folder, alice_api: APIClient
) -> None:
    body = alice_api.get(_url(inbox_of_seven, limit=7)).json()
    assert len(body["results"]) == 7 and body["next_cursor"] is None


def test_new_mail_between_pages_does_not_shift_them(
    alice: Account, inbox_of_seven: Folder, alice_api: APIClient
) -> None:
    first = alice_api.get(_url(inbox_of_seven, limit=3)).json()
    put(alice, subject="late arrival")
    second = alice_api.get(_url(inbox_of_seven, limit=3, cursor=first["next_cursor"])).json()
    assert [m["subject"] for m in second["results"]] == ["message 3", "message 2", "message 1"]


def test_default_limit_and_cap(inbox_of_seven: Folder, alice_api: APIClient) -> None:
    with override_settings(API_PAGE_SIZE=2, API_MAX_PAGE_SIZE=4):
        assert len(alice_api.get(_url(inbox_of_seven)).json()["results"]) == 2
        capped = alice_api.get(_url(inbox_of_seven, limit=10**9)).json()
        assert len(capped["results"]) == 4
        assert capped["next_cursor"] is not None


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", "1e3"])
def test_bad_limit_is_400(inbox_of_seven: Folder, alice_api: APIClient, limit: str) -> None:
    response = alice_api.get(_url(inbox_of_seven, limit=limit))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert "limit" in response.json()["fields"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%00",
        _b64("v1:1:2:3"),
        _b64("v1:abc:1"),
        _b64("v2:1:1"),
        "A" * 65,
        _b64("v1:1:0"),
    ],
)
def test_garbage_cursor_is_400(inbox_of_seven: Folder, alice_api: APIClient, cursor: str) -> None:
    response = alice_api.get(_url(inbox_of_seven, cursor=cursor))
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_cursor", "invalid"}


def test_cursor_of_another_folder_generation_is_refused(
    alice: Account, inbox_of_seven: Folder, alice_api: APIClient
) -> None:
    cursor = alice_api.get(_url(inbox_of_seven, limit=2)).json()["next_cursor"]
    junk = folder(alice, "junk")
    put(alice, into=junk)
    # Same UID space is meaningless across folders: UIDVALIDITY in the cursor catches it.
    response = alice_api.get(_url(junk, cursor=cursor))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_query_count_is_fixed(
    inbox_of_seven: Folder, alice_api: APIClient, django_assert_num_queries: Any, limit: int
) -> None:
    first = alice_api.get(_url(inbox_of_seven, limit=limit)).json()
    # Token, folder (access check), one page of messages; whatever the page size or depth.
    with django_assert_num_queries(3):
        alice_api.get(_url(inbox_of_seven, limit=limit))
    if first["next_cursor"]:
        with django_assert_num_queries(3):
            alice_api.get(_url(inbox_of_seven, limit=limit, cursor=first["next_cursor"]))


def test_the_listing_built_by_hand_is_the_serializers_shape(
    alice: Account, alice_api: APIClient
) -> None:
    """The folder listing builds its rows without DRF fields (issue 17 item 4): each row is
    MessageListItemSerializer's output, key for key and in the same order, plain or grouped."""
    from mailcore.store.models import Message
    from webmail.api.serializers import MessageListItemSerializer

    put(alice, build_message(subject="plain"))
    put(
        alice,
        build_message(
            subject="Re: plain",
            date=datetime(2024, 3, 2, 1, 2, 3, tzinfo=UTC),
            cc="Carol <carol@remote.test>",
        ),
        flags=["seen", "flagged", "$label1"],
    )
    Message.objects.filter(subject="plain").update(sent_date=None)
    inbox = folder(alice)
    for params in ({}, {"group": "conversation"}):
        rows = alice_api.get(_url(inbox, **params)).json()["results"]
        assert rows
        for row in rows:
            message = Message.objects.get(pk=row["id"])
            if "conversation" in params.values():
                from mailcore.store.queries import list_conversation_heads

                [message] = [
                    m
                    for m in list_conversation_heads(inbox, before_uid=None, limit=10)
                    if m.pk == row["id"]
                ]
            expected = dict(MessageListItemSerializer(message).data)
            expected = json.loads(json.dumps(expected, cls=DjangoJSONEncoder))
            assert list(row) == list(expected)
            assert row == expected
