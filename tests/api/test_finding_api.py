"""GET messages/search, GET contacts, POST folders/{id}/empty, POST messages/spam: shapes,
pagination, errors and other users' ids (404), through the real API with token auth."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_move
from mailcore.store.models import Message
from tests.api.helpers import folder, message_path, put

pytestmark = pytest.mark.django_db


def search(client: APIClient, **params: Any) -> Any:
    return client.get("/api/v1/messages/search?" + urlencode(params))


def test_search_item_shape_and_folder_id(alice: Account, alice_api: APIClient) -> None:
    msg = put(alice, subject="Invoice 2024년 3월", text="견적서를 첨부합니다")
    response = search(alice_api, q="견적서")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    (item,) = body["results"]
    assert item["id"] == msg.pk
    assert item["folder_id"] == item["folder"] == folder(alice).pk
    assert item["subject"] == "Invoice 2024년 3월"
    assert set(item) >= {"from", "to", "cc", "date", "snippet", "flags", "keywords", "uid"}


def test_search_pages_follow_the_cursor(alice: Account, alice_api: APIClient) -> None:
    ids = [put(alice, subject=f"report {i}", message_id=f"<r{i}@x>").pk for i in range(5)]
    put(alice, subject="unrelated", message_id="<u@x>")
    got: list[int] = []
    params: dict[str, Any] = {"q": "report", "limit": 2}
    pages = 0
    while True:
        body = search(alice_api, **params).json()
        got += [item["id"] for item in body["results"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == 3
    assert sorted(got) == sorted(ids) and len(got) == len(set(got))


def test_search_query_count_is_fixed(
    alice: Account, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    for i in range(20):
        put(alice, subject=f"budget {i}", to=f"p{i}@remote.test", message_id=f"<b{i}@x>")
    # token, the candidates (the newest window of the index), their rows (folders as a subquery)
    with django_assert_num_queries(3):
        response = search(alice_api, q="budget remote")
    assert response.status_code == 200 and len(response.json()["results"]) == 20


def test_search_input_errors(alice: Account, bob: Account, alice_api: APIClient) -> None:
    assert search(alice_api).status_code == 400
    assert search(alice_api, q="   ").status_code == 400
    too_long = search(alice_api, q="x" * 201)
    assert too_long.status_code == 400 and too_long.json()["error"] == "invalid"
    many = search(alice_api, q=" ".join(f"w{i}" for i in range(11)))
    assert many.status_code == 400 and many.json()["error"] == "invalid"
    bad_cursor = search(alice_api, q="x", cursor="bm90IGEgY3Vyc29y")
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"] == "invalid_cursor"
    other = search(alice_api, q="x", folder=folder(bob).pk)
    assert other.status_code == 404
    assert search(alice_api, q="x", folder="abc").status_code == 400
    assert APIClient().get("/api/v1/messages/search?q=x").status_code in (401, 403)


def test_search_never_returns_other_users_mail(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    put(bob, subject="bob secret", to="alice@example.com", text="secret")
    mine = put(alice, subject="alice secret")
    assert [i["id"] for i in search(alice_api, q="secret").json()["results"]] == [mine.pk]
    trash = folder(alice, "trash")
    do_move(acting_account=alice, messages=[mine], destination=trash)
    assert search(alice_api, q="secret").json()["results"] == []
    in_trash = search(alice_api, q="secret", folder=trash.pk).json()["results"]
    assert [i["id"] for i in in_trash] == [mine.pk]
    assert search(bob_api, q="secret", folder=trash.pk).status_code == 404


def test_like_wildcards_in_q(alice: Account, alice_api: APIClient) -> None:
    pct = put(alice, subject="50% off", message_id="<p@x>")
    put(alice, subject="500 off", message_id="<o@x>")
    assert [i["id"] for i in search(alice_api, q="50%").json()["results"]] == [pct.pk]
    assert search(alice_api, q="5_0").json()["results"] == []


NOT_IN_BOOK = {"contact_id": None, "group_id": None, "members": 0}


def test_contacts(alice: Account, bob: Account, alice_api: APIClient) -> None:
    sent = folder(alice, "sent")
    for i in range(2):
        put(
            alice,
            into=sent,
            sender="alice@example.com",
            to="수진 <sujin@remote.test>",
            message_id=f"<s{i}@x>",
        )
    put(alice, sender="Tom <tom@remote.test>", message_id="<t@x>")
    put(bob, sender="Hidden <hidden@remote.test>", message_id="<h@x>")
    response = alice_api.get("/api/v1/contacts?q=")
    assert response.status_code == 200
    assert response.json() == [
        {"name": "수진", "address": "sujin@remote.test", "count": 2, **NOT_IN_BOOK},
        {"name": "Tom", "address": "tom@remote.test", "count": 1, **NOT_IN_BOOK},
    ]
    assert alice_api.get("/api/v1/contacts").json()[0]["address"] == "sujin@remote.test"
    assert [c["address"] for c in alice_api.get("/api/v1/contacts?q=수").json()] == [
        "sujin@remote.test"
    ]
    assert alice_api.get("/api/v1/contacts?q=hidden").json() == []
    assert alice_api.get("/api/v1/contacts?" + urlencode({"q": "x" * 201})).status_code == 400


def test_empty_folder_endpoint(alice: Account, bob: Account, alice_api: APIClient) -> None:
    trash, inbox = folder(alice, "trash"), folder(alice)
    msgs = [put(alice, subject=f"t{i}", message_id=f"<t{i}@x>") for i in range(2)]
    do_move(acting_account=alice, messages=msgs, destination=trash)
    paths = [message_path(alice, m) for m in msgs]
    keep = put(alice, subject="keep")

    refused = alice_api.post(f"/api/v1/folders/{inbox.pk}/empty")
    assert refused.status_code == 400
    assert refused.json()["error"] == "folder_not_emptiable"
    assert alice_api.post(f"/api/v1/folders/{folder(bob, 'trash').pk}/empty").status_code == 404

    assert alice_api.post(f"/api/v1/folders/{trash.pk}/empty").status_code == 204
    assert not any(p.exists() for p in paths)
    listed = {f["id"]: f for f in alice_api.get("/api/v1/folders").json()["results"]}
    assert (listed[trash.pk]["total"], listed[trash.pk]["unread"]) == (0, 0)
    assert listed[inbox.pk]["total"] == 1
    assert Message.objects.filter(pk=keep.pk).exists()
    junk = folder(alice, "junk")
    assert alice_api.post(f"/api/v1/folders/{junk.pk}/empty").status_code == 204


def test_spam_endpoint(alice: Account, bob: Account, alice_api: APIClient) -> None:
    a = put(alice, subject="win money", message_id="<a@x>")
    b = put(alice, subject="cheap", message_id="<b@x>")
    bobs = put(bob, subject="bob's", message_id="<bb@x>")
    response = alice_api.post(
        "/api/v1/messages/spam", {"ids": [a.pk, b.pk], "spam": True}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"moved": 2}
    a.refresh_from_db()
    assert a.folder_id == folder(alice, "junk").pk and "$Junk" in a.keywords
    response = alice_api.post(
        "/api/v1/messages/spam", {"ids": [a.pk], "spam": False}, format="json"
    )
    assert response.json() == {"moved": 1}
    a.refresh_from_db()
    assert a.folder_id == folder(alice).pk and a.keywords == ["$NotJunk"]

    # One foreign id: 404 and nothing changed.
    response = alice_api.post(
        "/api/v1/messages/spam", {"ids": [a.pk, bobs.pk], "spam": True}, format="json"
    )
    assert response.status_code == 404
    a.refresh_from_db()
    bobs.refresh_from_db()
    assert a.folder_id == folder(alice).pk and bobs.folder_id == folder(bob).pk
    for bad in (
        {"ids": [a.pk]},
        {"ids": [a.pk], "spam": "yes"},
        {"ids": [], "spam": True},
        {"ids": [a.pk], "spam": True, "extra": 1},
    ):
        assert alice_api.post("/api/v1/messages/spam", bad, format="json").status_code == 400
