"""Changing messages over the API: flags land in the Maildir file name, moves and deletes move
files, bulk operations are all-or-nothing on ownership."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.maildir import key_stem, split_filename
from mailcore.store.models import Message
from tests.api.helpers import folder, message_path, put


def _patch(client: APIClient, message: Message, body: Any) -> Any:
    return client.patch(f"/api/v1/messages/{message.pk}", body, format="json")


def test_patch_flags_renames_the_maildir_file(alice: Account, alice_api: APIClient) -> None:
    message = put(alice)
    assert message_path(alice, message).exists()  # new/<key>: no flags yet

    response = _patch(alice_api, message, {"seen": True})
    assert response.status_code == 200
    assert response.json()["flags"]["seen"] is True
    message.refresh_from_db()
    assert (message.seen, message.info, message.in_cur) == (True, "S", True)
    path = message_path(alice, message)
    assert path.name.endswith(":2,S") and path.parent.name == "cur"
    assert key_stem(split_filename(path.name)[0]) == key_stem(message.maildir_key)
    assert path.exists()

    response = _patch(alice_api, message, {"flagged": True, "answered": True})
    assert response.json()["flags"] == {
        "seen": True,
        "answered": True,
        "flagged": True,
        "deleted": False,
        "draft": False,
    }
    message.refresh_from_db()
    assert message.info == "FRS"  # maildir(5): letters in ASCII order
    assert message_path(alice, message).exists()

    _patch(alice_api, message, {"seen": False, "answered": False, "draft": True})
    message.refresh_from_db()
    assert message.info == "DF"
    assert message_path(alice, message).exists()
    assert len(list(message_path(alice, message).parent.iterdir())) == 1  # renamed, not copied


def test_patch_move_and_flags_together(alice: Account, alice_api: APIClient) -> None:
    message = put(alice)
    junk = folder(alice, "junk")
    response = _patch(alice_api, message, {"folder": junk.pk, "seen": True})
    assert response.status_code == 200
    assert response.json()["folder"] == junk.pk
    assert response.json()["uid"] == 1
    message.refresh_from_db()
    assert message.folder_id == junk.pk and message.seen
    path = message_path(alice, message)
    assert path.exists() and path.parent.parent.name == ".Junk"
    inbox_dir = path.parent.parent.parent
    assert not any((inbox_dir / "cur").iterdir()) and not any((inbox_dir / "new").iterdir())


@pytest.mark.parametrize(
    "body",
    [
        {"flaged": True},  # typo: must not silently do nothing
        {"seen": "yes"},  # JSON booleans only
        {"seen": 1},
        {"deleted": True},  # not part of PATCH: IMAP's expunge marker
        {"folder": {"id": 1}},  # W9 JSON tricks
        {"folder": [1, 2]},
        {"folder": True},
        {"folder": 0},
        ["seen"],
    ],
)
def test_patch_refuses_bad_bodies(alice: Account, alice_api: APIClient, body: Any) -> None:
    message = put(alice)
    response = _patch(alice_api, message, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    message.refresh_from_db()
    assert (message.info, message.folder_id) == ("", folder(alice).pk)


def test_patch_to_unknown_folder_is_404_and_changes_nothing(
    alice: Account, alice_api: APIClient
) -> None:
    message = put(alice)
    response = _patch(alice_api, message, {"folder": 999999, "seen": True})
    assert response.status_code == 404
    message.refresh_from_db()
    assert not message.seen


def test_delete_moves_to_trash_then_removes_for_good(alice: Account, alice_api: APIClient) -> None:
    message = put(alice)
    url = f"/api/v1/messages/{message.pk}"
    assert alice_api.delete(url).status_code == 204
    message.refresh_from_db()
    assert message.folder_id == folder(alice, "trash").pk
    trashed = message_path(alice, message)
    assert trashed.exists() and trashed.parent.parent.name == ".Trash"

    assert alice_api.delete(url).status_code == 204
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not trashed.exists()
    assert alice_api.get(url).status_code == 404
    assert alice_api.delete(url).status_code == 404


# --- bulk -------------------------------------------------------------------------------------


def test_bulk_move(alice: Account, alice_api: APIClient) -> None:
    messages = [put(alice, subject=f"m{n}") for n in range(3)]
    junk = folder(alice, "junk")
    ids = [messages[2].pk, messages[0].pk]
    response = alice_api.post(
        "/api/v1/messages/move", {"ids": ids, "folder": junk.pk}, format="json"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["id"] for m in results] == ids  # in request order, with their new uids
    assert {m["folder"] for m in results} == {junk.pk}
    assert sorted(m["uid"] for m in results) == [1, 2]
    assert set(Message.objects.filter(folder=junk).values_list("pk", flat=True)) == set(ids)
    for m in Message.objects.filter(pk__in=ids):
        assert message_path(alice, m).exists()


def test_bulk_flags(alice: Account, alice_api: APIClient) -> None:
    a, b = put(alice), put(alice, flags=["seen"])
    response = alice_api.post(
        "/api/v1/messages/flags",
        {"ids": [a.pk, b.pk], "add": ["flagged"], "remove": ["seen"]},
        format="json",
    )
    assert response.status_code == 200
    assert [m["flags"]["flagged"] for m in response.json()["results"]] == [True, True]
    for m in (a, b):
        m.refresh_from_db()
        assert (m.flagged, m.seen, m.info) == (True, False, "F")
        assert message_path(alice, m).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"ids": [], "add": ["seen"]},
        {"ids": [1], "add": ["bogus"]},
        {"ids": [1], "add": ["seen"], "remove": ["seen"]},
        {"ids": [1], "add": ["\\Seen"]},
        {"ids": "1", "add": ["seen"]},
        {"ids": [1], "add": ["seen"], "extra": 1},
        {"ids": list(range(1, 1002)), "add": ["seen"]},
    ],
)
def test_bulk_flags_refuses_bad_bodies(alice_api: APIClient, body: Any) -> None:
    response = alice_api.post("/api/v1/messages/flags", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


def test_bulk_cap_is_1000_ids(alice: Account, alice_api: APIClient) -> None:
    too_many = alice_api.post(
        "/api/v1/messages/delete", {"ids": list(range(1, 1002))}, format="json"
    )
    assert too_many.status_code == 400
    assert "ids" in too_many.json()["fields"]
    # 1000 is allowed (they are not alice's, so it is a 404, not a 400).
    at_cap = alice_api.post(
        "/api/v1/messages/delete", {"ids": list(range(10**6, 10**6 + 1000))}, format="json"
    )
    assert at_cap.status_code == 404


def test_bulk_delete(alice: Account, alice_api: APIClient) -> None:
    inbox_one, inbox_two = put(alice), put(alice)
    in_trash = put(alice, into=folder(alice, "trash"))
    trash_file = message_path(alice, in_trash)
    response = alice_api.post(
        "/api/v1/messages/delete", {"ids": [inbox_one.pk, inbox_two.pk, in_trash.pk]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"trashed": 2, "expunged": 1}
    assert not Message.objects.filter(pk=in_trash.pk).exists()
    assert not trash_file.exists()
    assert Message.objects.filter(folder=folder(alice, "trash")).count() == 2


def test_duplicate_ids_count_once(alice: Account, alice_api: APIClient) -> None:
    message = put(alice)
    response = alice_api.post(
        "/api/v1/messages/delete", {"ids": [message.pk, message.pk]}, format="json"
    )
    assert response.json() == {"trashed": 1, "expunged": 0}
