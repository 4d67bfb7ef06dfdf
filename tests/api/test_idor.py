"""Object-level permissions (security.md W9): bob gets a plain 404 for every id of alice's, on
every endpoint, including bulk ids and move targets, and nothing of either user changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Folder, Message
from tests.api.helpers import folder, message_path, png_bytes, put

NOT_FOUND = {"error": "not_found", "detail": "Not found."}


@dataclass
class World:
    alice: Account
    bob: Account
    alice_message: Message
    alice_folder: Folder
    bob_message: Message
    bob_folder: Folder


@pytest.fixture
def world(alice: Account, bob: Account) -> World:
    alice_message = put(
        alice,
        html='<img src="cid:logo@x">',
        inline_images=[(png_bytes(), "image/png", "logo@x")],
        attachments=[(b"%PDF-1.4", "application/pdf", "secret.pdf")],
    )
    alice_folder = Folder.objects.get(account=alice, name="INBOX")
    return World(alice, bob, alice_message, alice_folder, put(bob), folder(bob, "junk"))


def _state(message: Message) -> tuple[Any, ...]:
    message.refresh_from_db()
    return (message.folder_id, message.uid, message.info, message.seen, message.flagged)


def _requests(w: World) -> list[tuple[str, str, Any]]:
    am, af, bm, bf = w.alice_message.pk, w.alice_folder.pk, w.bob_message.pk, w.bob_folder.pk
    return [
        ("get", f"/api/v1/messages/{am}", None),
        ("patch", f"/api/v1/messages/{am}", {"seen": True}),
        ("patch", f"/api/v1/messages/{am}", {"folder": bf}),
        ("delete", f"/api/v1/messages/{am}", None),
        ("get", f"/api/v1/messages/{am}/raw", None),
        ("get", f"/api/v1/messages/{am}/attachments/1", None),
        ("get", f"/api/v1/messages/{am}/attachments/2", None),
        ("get", f"/api/v1/messages/{am}/cid/logo@x", None),
        ("get", f"/api/v1/folders/{af}/messages", None),
        ("patch", f"/api/v1/folders/{af}", {"name": "Mine now"}),
        ("delete", f"/api/v1/folders/{af}", None),
        # Bob's own message into alice's folder.
        ("patch", f"/api/v1/messages/{bm}", {"folder": af}),
        ("patch", f"/api/v1/messages/{bm}", {"folder": af, "seen": True}),
        ("post", "/api/v1/messages/move", {"ids": [bm], "folder": af}),
        # Alice's message into bob's folder, alone or hidden among bob's own ids.
        ("post", "/api/v1/messages/move", {"ids": [am], "folder": bf}),
        ("post", "/api/v1/messages/move", {"ids": [bm, am], "folder": bf}),
        ("post", "/api/v1/messages/flags", {"ids": [bm, am], "add": ["flagged"]}),
        ("post", "/api/v1/messages/delete", {"ids": [bm, am]}),
        ("post", "/api/v1/messages/spam", {"ids": [bm, am], "spam": True}),
        ("post", f"/api/v1/folders/{af}/empty", None),
        ("get", f"/api/v1/messages/search?q=a&folder={af}", None),
    ]


def test_bob_gets_404_for_everything_of_alices(world: World, bob_api: APIClient) -> None:
    before = (_state(world.alice_message), _state(world.bob_message))
    alice_file = message_path(world.alice, world.alice_message)
    for method, url, body in _requests(world):
        response = getattr(bob_api, method)(url, body, format="json")
        assert (response.status_code, response.json()) == (404, NOT_FOUND), (method, url, body)
    assert (_state(world.alice_message), _state(world.bob_message)) == before
    assert alice_file.exists()
    assert Folder.objects.filter(pk=world.alice_folder.pk, name="INBOX").exists()


def test_alice_reaches_the_same_urls(world: World, alice_api: APIClient) -> None:
    # The matrix above proves nothing if the URLs were wrong: alice's own reads succeed.
    am, af = world.alice_message.pk, world.alice_folder.pk
    for url in (
        f"/api/v1/messages/{am}",
        f"/api/v1/messages/{am}/raw",
        f"/api/v1/messages/{am}/attachments/2",
        f"/api/v1/messages/{am}/cid/logo@x",
        f"/api/v1/folders/{af}/messages",
    ):
        assert alice_api.get(url).status_code == 200, url


def test_foreign_ids_are_indistinguishable_from_missing(world: World, bob_api: APIClient) -> None:
    foreign = bob_api.get(f"/api/v1/messages/{world.alice_message.pk}")
    missing = bob_api.get("/api/v1/messages/987654321")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
