"""GET messages/search with the query operators of detailed search (상세검색): from:, to:,
subject:, filename:, has:attachment, is:unread, is:starred, before:/after:, in:, the words to
highlight, and clear 400s for what cannot be searched."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from tests.api.helpers import put

pytestmark = pytest.mark.django_db


def ids(client: APIClient, q: str) -> list[int]:
    response = client.get("/api/v1/messages/search?" + urlencode({"q": q}))
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_operators_and_highlight(alice: Account, alice_api: APIClient) -> None:
    plan = put(
        alice,
        subject="분기 계획",
        sender="김민수 <minsu@corp.test>",
        text="회의를 합니다",
        attachments=[(b"x", "application/pdf", "실적보고서.pdf")],
        message_id="<p@x>",
    )
    note = put(
        alice, subject="Notes", text="회의 메모", flags=["seen", "flagged"], message_id="<n@x>"
    )
    assert ids(alice_api, "회의") == [note.pk, plan.pk]
    assert ids(alice_api, "from:민수 회의") == [plan.pk]
    assert ids(alice_api, "filename:보고서") == [plan.pk]
    assert ids(alice_api, "has:attachment") == [plan.pk]
    assert ids(alice_api, "is:unread 회의") == [plan.pk]
    assert ids(alice_api, "is:starred") == [note.pk]
    assert ids(alice_api, "subject:notes") == [note.pk]
    assert ids(alice_api, "in:inbox after:2000-01-01 회의") == [note.pk, plan.pk]
    assert ids(alice_api, "before:2000-01-01 회의") == []
    body = alice_api.get("/api/v1/messages/search?" + urlencode({"q": "from:민수 회의를"})).json()
    assert body["highlight"] == ["회의를", "민수"]


@pytest.mark.parametrize("q", ["before:someday x", "in:nowhere x", "after:2026-02-30 x"])
def test_bad_operators_are_400(alice: Account, alice_api: APIClient, q: str) -> None:
    response: Any = alice_api.get("/api/v1/messages/search?" + urlencode({"q": q}))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
