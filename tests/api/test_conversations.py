"""group=conversation listings and GET conversations/{id}: heads, summaries, cursor, owner
checks, and a fixed query count."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_move, do_set_flags
from mailcore.store.models import Folder, Message
from tests.api.helpers import folder, put


def _thread(alice: Account, n: int) -> list[Any]:
    root = put(alice, subject=f"topic {n}", message_id=f"<t{n}@remote.test>")
    reply = put(
        alice,
        subject=f"Re: topic {n}",
        message_id=f"<t{n}r@remote.test>",
        references=f"<t{n}@remote.test>",
    )
    return [root, reply]


def test_grouped_list_heads_counts_cursor_and_detail(
    alice: Account, alice_api: APIClient, bob_api: APIClient, django_assert_num_queries: Any
) -> None:
    threads = [_thread(alice, n) for n in range(3)]
    mine = put(
        alice,
        into=folder(alice, "sent"),
        subject="RE: topic 0",
        sender="alice@example.com",
        to="bob@remote.test",
        message_id="<a0@example.com>",
        references="<t0r@remote.test>",
    )
    do_set_flags(acting_account=alice, messages=[threads[1][0]], add=["seen"])
    inbox = folder(alice)
    url = f"/api/v1/folders/{inbox.pk}/messages?group=conversation&limit=2"
    plain = alice_api.get(f"/api/v1/folders/{inbox.pk}/messages").json()["results"]
    assert len(plain) == 6 and all(r["conversation"] is None for r in plain)
    # The grouped page's fixed SQL names these tables (mailcore.store.queries).
    assert (Message._meta.db_table, Folder._meta.db_table) == ("store_message", "store_folder")
    # Same cost as a plain page: the summaries come with the rows, in one query.
    with django_assert_num_queries(3):
        first = alice_api.get(url)
    assert first.status_code == 200
    page = first.json()
    assert [r["id"] for r in page["results"]] == [threads[2][1].pk, threads[1][1].pk]
    summary = page["results"][1]["conversation"]
    assert summary["count"] == 2 and summary["unread"] == 1
    second = alice_api.get(url + "&cursor=" + page["next_cursor"]).json()
    assert [r["id"] for r in second["results"]] == [threads[0][1].pk]
    assert second["next_cursor"] is None
    zero = second["results"][0]["conversation"]
    assert zero["count"] == 3  # the Sent answer counts
    assert zero["newest_date"] == mine.internal_date.isoformat().replace("+00:00", "Z")

    detail = alice_api.get(f"/api/v1/conversations/{zero['id']}").json()
    assert [m["id"] for m in detail["messages"]] == [threads[0][0].pk, threads[0][1].pk, mine.pk]
    assert detail["messages"][2]["folder"] == folder(alice, "sent").pk
    assert detail["count"] == 3 and detail["subject"] == "topic 0"
    # Another account's conversation is a 404, as is one that does not exist.
    assert bob_api.get(f"/api/v1/conversations/{zero['id']}").status_code == 404
    assert alice_api.get("/api/v1/conversations/12345").status_code == 404
    assert alice_api.get(url.replace("conversation", "thread")).status_code == 400


def test_trash_leaves_the_conversation_and_the_head_moves(
    alice: Account, alice_api: APIClient
) -> None:
    root, reply = _thread(alice, 9)
    do_move(acting_account=alice, messages=[reply], destination=folder(alice, "trash"))
    inbox = folder(alice)
    rows = alice_api.get(f"/api/v1/folders/{inbox.pk}/messages?group=conversation").json()
    (row,) = rows["results"]
    assert row["id"] == root.pk and row["conversation"]["count"] == 1
    trash = folder(alice, "trash")
    rows = alice_api.get(f"/api/v1/folders/{trash.pk}/messages?group=conversation").json()
    assert rows["results"][0]["conversation"]["count"] == 2  # listing Trash counts Trash
    detail = alice_api.get(f"/api/v1/conversations/{root.conversation_id}").json()
    assert [m["id"] for m in detail["messages"]] == [root.pk]


def test_grouping_setting(alice_api: APIClient) -> None:
    assert alice_api.get("/api/v1/settings").json()["group_by_conversation"] is False
    r = alice_api.patch("/api/v1/settings", {"group_by_conversation": True}, format="json")
    assert r.status_code == 200 and r.json()["group_by_conversation"] is True
    bad = alice_api.patch("/api/v1/settings", {"group_by_conversation": "yes"}, format="json")
    assert bad.status_code == 400
