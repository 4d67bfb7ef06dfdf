"""The quick views (issue 12 item 11): GET messages over all folders but Trash/Junk with the
unread/flagged/has_attachments filters, GET messages/counts, and the same filters on a folder
listing and on search. Through the real API with token auth; another user's mail never shows."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Message
from tests.api.helpers import folder, put

pytestmark = pytest.mark.django_db

PDF = (b"%PDF-1.4 test", "application/pdf", "견적서.pdf")


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def seed(alice: Account) -> dict[str, Message]:
    return {
        "unread": put(alice, subject="unread one", message_id="<a@x>"),
        "read": put(alice, subject="read one", message_id="<b@x>", flags=["seen"]),
        "star": put(alice, subject="starred", message_id="<c@x>", flags=["seen", "flagged"]),
        "att": put(alice, subject="with file", message_id="<d@x>", attachments=[PDF]),
        "sent": put(
            alice,
            subject="sent with file",
            message_id="<e@x>",
            attachments=[PDF],
            flags=["seen"],
            into=folder(alice, "sent"),
        ),
        "trash": put(
            alice,
            subject="trashed star",
            message_id="<f@x>",
            flags=["flagged"],
            attachments=[PDF],
            into=folder(alice, "trash"),
        ),
        "junk": put(alice, subject="junk", message_id="<g@x>", into=folder(alice, "junk")),
    }


def test_views_span_folders_but_not_trash_or_junk(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    m = seed(alice)
    put(bob, subject="bob unread", message_id="<h@x>", flags=["flagged"])
    assert ids(alice_api.get("/api/v1/messages?unread=true")) == [m["att"].pk, m["unread"].pk]
    assert ids(alice_api.get("/api/v1/messages?flagged=true")) == [m["star"].pk]
    assert ids(alice_api.get("/api/v1/messages?has_attachments=true")) == [
        m["sent"].pk,
        m["att"].pk,
    ]
    # Filters combine; false means "without".
    assert ids(alice_api.get("/api/v1/messages?has_attachments=true&unread=false")) == [
        m["sent"].pk
    ]
    assert m["trash"].pk not in ids(alice_api.get("/api/v1/messages"))
    counts = alice_api.get("/api/v1/messages/counts").json()
    assert counts == {"unread": 2, "flagged": 1, "has_attachments": 2}
    assert bob_api.get("/api/v1/messages/counts").json() == {
        "unread": 1,
        "flagged": 1,
        "has_attachments": 0,
    }


def test_view_pages_follow_the_cursor(alice: Account, alice_api: APIClient) -> None:
    made = [put(alice, subject=f"u{i}", message_id=f"<u{i}@x>").pk for i in range(5)]
    put(alice, subject="read", message_id="<r@x>", flags=["seen"])
    got: list[int] = []
    params: dict[str, Any] = {"unread": "true", "limit": 2}
    while True:
        body = alice_api.get("/api/v1/messages?" + urlencode(params)).json()
        got += [item["id"] for item in body["results"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert got == sorted(made, reverse=True)


def test_view_query_count_is_fixed(
    alice: Account, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    for i in range(10):
        put(alice, subject=f"s{i}", message_id=f"<s{i}@x>", flags=["flagged"])
    with django_assert_num_queries(2):  # token, then the page (folders as a subquery)
        assert len(ids(alice_api.get("/api/v1/messages?flagged=true&limit=5"))) == 5


def test_filters_on_folder_list_and_search(alice: Account, alice_api: APIClient) -> None:
    m = seed(alice)
    inbox = folder(alice).pk
    assert ids(alice_api.get(f"/api/v1/folders/{inbox}/messages?unread=1")) == [
        m["att"].pk,
        m["unread"].pk,
    ]
    assert ids(alice_api.get(f"/api/v1/folders/{inbox}/messages?flagged=true")) == [m["star"].pk]
    assert ids(alice_api.get("/api/v1/messages/search?q=with&has_attachments=true")) == [
        m["sent"].pk,
        m["att"].pk,
    ]
    assert ids(alice_api.get("/api/v1/messages/search?q=one&unread=true")) == [m["unread"].pk]


@pytest.mark.parametrize("params", ["unread=maybe", "flagged=2", "cursor=bogus"])
def test_bad_filters_are_400(alice_api: APIClient, params: str) -> None:
    response = alice_api.get(f"/api/v1/messages?{params}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_views_need_sign_in() -> None:
    assert APIClient().get("/api/v1/messages?unread=true").status_code in (401, 403)
    assert APIClient().get("/api/v1/messages/counts").status_code in (401, 403)
