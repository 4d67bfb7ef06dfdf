"""Listing fields longer than their column (issue 9, item 17): the index keeps a visible mark
that they were cut, within the column; the message detail gives the whole value from the file."""

from __future__ import annotations

from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.actions import CUT_MARK
from mailcore.store.models import Message
from tests.api.helpers import build_message, folder, put

LONG_SUBJECT = "Quarterly report and invoice " * 45  # 1,305 characters > 998
LONG_NAME = "Sales Department of a Very Long Company Name " * 15  # 675 > 500


def test_cut_fields_are_marked_and_the_detail_has_them_whole(
    alice: Account, alice_api: APIClient
) -> None:
    data = build_message(
        subject=LONG_SUBJECT,
        sender=f'"{LONG_NAME}" <bob@remote.test>',
        to=f'"{LONG_NAME}" <carol@remote.test>, Alice <alice@example.com>',
    )
    message = put(alice, data)
    row = Message.objects.get(pk=message.pk)
    assert len(row.subject) == 998 and row.subject.endswith(CUT_MARK)
    assert row.subject[:-1] == LONG_SUBJECT.strip()[:997]
    assert len(row.from_name) == 500 and row.from_name.endswith(CUT_MARK)
    assert row.to_addrs[0][0].endswith(CUT_MARK) and len(row.to_addrs[0][0]) == 500
    assert row.to_addrs[1] == ["Alice", "alice@example.com"]  # short values stay as they are

    listed = alice_api.get(f"/api/v1/folders/{folder(alice).pk}/messages").json()["results"]
    [item] = [m for m in listed if m["id"] == message.pk]
    assert item["subject"].endswith(CUT_MARK) and len(item["subject"]) == 998
    assert item["from"]["name"].endswith(CUT_MARK)

    detail = alice_api.get(f"/api/v1/messages/{message.pk}").json()
    assert detail["subject"] == LONG_SUBJECT.strip()
    assert detail["from"] == {"name": LONG_NAME.strip(), "address": "bob@remote.test"}
    assert detail["to"][0] == {"name": LONG_NAME.strip(), "address": "carol@remote.test"}


def test_fields_that_fit_are_not_marked(alice: Account, alice_api: APIClient) -> None:
    exact = "x" * 998
    message = put(alice, build_message(subject=exact))
    assert Message.objects.get(pk=message.pk).subject == exact
    assert alice_api.get(f"/api/v1/messages/{message.pk}").json()["subject"] == exact
