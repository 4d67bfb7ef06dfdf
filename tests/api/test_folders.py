"""Folders over the API: counts in one query, and the write side through store actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Folder
from tests.api.helpers import folder, put

FOLDERS = "/api/v1/folders"


def _by_name(response: Any) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in response.json()["results"]}


def test_list_folders_with_counts(
    alice: Account, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    put(alice, subject="one")
    put(alice, subject="two", flags=["seen"])
    put(alice, subject="three")
    put(alice, into=folder(alice, "trash"), subject="gone")

    # Token lookup + one query for every folder with both counts.
    with django_assert_num_queries(2):
        response = alice_api.get(FOLDERS)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [f["special_use"] for f in results] == [
        "inbox",
        "sent",
        "drafts",
        "tome",
        "junk",
        "trash",
    ]
    inbox = results[0]
    assert set(inbox) == {"id", "name", "special_use", "total", "unread", "uidvalidity", "uidnext"}
    assert (inbox["name"], inbox["total"], inbox["unread"], inbox["uidnext"]) == ("INBOX", 3, 2, 4)
    assert (results[5]["total"], results[5]["unread"]) == (1, 1)
    assert results[1]["total"] == 0


def test_folder_list_query_count_does_not_grow(
    alice: Account, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    for n in range(5):
        alice_api.post(FOLDERS, {"name": f"Project {n}"}, format="json")
        put(alice, into=Folder.objects.get(account=alice, name=f"Project {n}"))
    with django_assert_num_queries(2):
        assert len(alice_api.get(FOLDERS).json()["results"]) == 11


def test_create_rename_delete_folder(alice: Account, alice_api: APIClient) -> None:
    created = alice_api.post(FOLDERS, {"name": "Work/Projects"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Work/Projects" and body["special_use"] == ""
    maildir = settings.MAIL_ROOT / alice.storage_path / "Maildir"
    assert (maildir / ".Work.Projects" / "cur").is_dir()

    renamed = alice_api.patch(f"{FOLDERS}/{body['id']}", {"name": "회사"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "회사"
    assert not (maildir / ".Work.Projects").exists()
    assert (maildir / ".&1ozArA-").is_dir()  # modified UTF-7 on disk (RFC 3501 §5.1.3)

    put(alice, into=Folder.objects.get(pk=body["id"]))
    assert alice_api.delete(f"{FOLDERS}/{body['id']}").status_code == 204
    assert not Folder.objects.filter(pk=body["id"]).exists()
    assert not (maildir / ".&1ozArA-").exists()


@pytest.mark.parametrize("name", ["a.b", "../etc", "x/", "", "   ", "\x01bell", "a" * 501])
def test_invalid_folder_names_are_400(alice_api: APIClient, name: str) -> None:
    response = alice_api.post(FOLDERS, {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_folder_name", "invalid"}


def test_duplicate_folder_is_409(alice_api: APIClient) -> None:
    assert alice_api.post(FOLDERS, {"name": "Work"}, format="json").status_code == 201
    response = alice_api.post(FOLDERS, {"name": "Work"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    inbox = alice_api.post(FOLDERS, {"name": "inbox"}, format="json")
    assert inbox.status_code == 409


def test_special_folders_cannot_be_renamed_or_deleted(alice: Account, alice_api: APIClient) -> None:
    trash = folder(alice, "trash")
    renamed = alice_api.patch(f"{FOLDERS}/{trash.pk}", {"name": "Bin"}, format="json")
    assert renamed.status_code == 400
    assert renamed.json()["error"] == "invalid"
    assert alice_api.delete(f"{FOLDERS}/{trash.pk}").status_code == 400
    assert Folder.objects.filter(pk=trash.pk, name="Trash").exists()


def test_folder_body_must_be_exact(alice_api: APIClient) -> None:
    response = alice_api.post(FOLDERS, {"name": "X", "special_use": "trash"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"special_use": ["Unknown field."]}
    assert alice_api.post(FOLDERS, ["X"], format="json").status_code == 400


def test_unknown_folder_is_404(alice_api: APIClient) -> None:
    responses = [
        alice_api.get(f"{FOLDERS}/999999/messages"),
        # Beyond bigint: still a plain 404, not a database error.
        alice_api.get(f"{FOLDERS}/99999999999999999999999/messages"),
        alice_api.patch(f"{FOLDERS}/999999", {"name": "X"}, format="json"),
        alice_api.delete(f"{FOLDERS}/999999"),
    ]
    for response in responses:
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": "Not found."}
