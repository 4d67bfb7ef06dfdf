"""The delivery memo (mailcore.delivery.memo): a batch's alias expansion, INBOX and rules
profile come from a per-process memo, and a change made through the admin API or the user's
settings API (alias added, rule added, account disabled, quota changed) is honoured at the
very next delivery; a change that sends no signal (another process's) within TTL_SECONDS."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection

from mailcore.delivery import memo
from mailcore.delivery.entries import do_enqueue
from mailcore.delivery.models import QueueRecipient, RecipientState
from mailcore.directory.actions import do_create_account, do_create_domain, do_set_alias
from mailcore.directory.models import Account
from mailcore.store.models import Message
from tests.api.helpers import token_client
from tests.conftest import run_queue

pytestmark = pytest.mark.django_db
ADMIN = "/api/v1/admin/"


@pytest.fixture
def site(settings: Any) -> dict[str, Any]:
    settings.INBOUND_AUTH = False  # the checks are not what this tests
    do_create_domain("a.example")
    user = do_create_account("user@a.example", password="correct horse 1")
    second = do_create_account("second@a.example", password="correct horse 1")
    do_set_alias("@a.example", ["user@a.example"])  # a catch-all
    do_create_domain("ops.example")
    root = do_create_account("root@ops.example", password="correct horse 1", is_staff=True)
    return {"user": user, "second": second, "admin": token_client(root)}


def send(to: str, subject: str = "hello") -> QueueRecipient:
    entry = do_enqueue(
        sender="someone@remote.test",
        recipients=[to],
        data=f"From: someone@remote.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhi\r\n".encode(),
        client_ip="192.0.2.1",
    )
    run_queue()
    return QueueRecipient.objects.get(entry=entry)


def mailbox(account: Account) -> list[tuple[str, str]]:
    return list(
        Message.objects.filter(account=account)
        .order_by("pk")
        .values_list("subject", "folder__special_use")
    )


def test_an_alias_added_is_honoured_at_the_next_delivery(site: dict[str, Any]) -> None:
    assert send("sales@a.example", "first").state == RecipientState.DELIVERED  # the catch-all
    assert "sales@a.example" in memo._expansions  # the next batch would ask the memo
    got = site["admin"].post(
        ADMIN + "aliases",
        {"source": "sales@a.example", "targets": ["second@a.example"]},
        format="json",
    )
    assert got.status_code == 201, got.content
    assert send("sales@a.example", "second").state == RecipientState.DELIVERED
    assert [s for s, _ in mailbox(site["user"])] == ["first"]
    assert [s for s, _ in mailbox(site["second"])] == ["second"]


def test_a_rule_added_is_honoured_at_the_next_delivery(site: dict[str, Any]) -> None:
    send("user@a.example", "newsletter 1")
    assert site["user"].pk in memo._profiles and site["user"].pk in memo._inboxes
    rule = {
        "name": "news",
        "conditions": [{"field": "subject", "op": "contains", "value": "newsletter"}],
        "actions": [{"type": "move", "value": "News"}],
    }
    got = token_client(site["user"]).put("/api/v1/settings/rules", {"rules": [rule]}, format="json")
    assert got.status_code == 200, got.content
    send("user@a.example", "newsletter 2")
    filed = Message.objects.filter(account=site["user"]).order_by("pk")
    assert [(m.subject, m.folder.name) for m in filed] == [
        ("newsletter 1", "INBOX"),
        ("newsletter 2", "News"),
    ]


def test_an_account_disabled_gets_nothing_at_the_next_delivery(site: dict[str, Any]) -> None:
    assert send("second@a.example").state == RecipientState.DELIVERED
    assert "second@a.example" in memo._expansions
    url = ADMIN + f"accounts/{site['second'].pk}"
    assert site["admin"].patch(url, {"is_active": False}, format="json").status_code == 200
    rcpt = send("second@a.example", "after")
    # A disabled account is not a mailbox any more: the catch-all takes it.
    assert rcpt.state == RecipientState.DELIVERED
    assert [s for s, _ in mailbox(site["second"])] == ["hello"]
    assert [s for s, _ in mailbox(site["user"])] == ["after"]


def test_a_quota_lowered_is_honoured_at_the_next_delivery(site: dict[str, Any]) -> None:
    assert send("user@a.example").state == RecipientState.DELIVERED
    url = ADMIN + f"accounts/{site['user'].pk}"
    assert site["admin"].patch(url, {"quota_bytes": 100}, format="json").status_code == 200
    rcpt = send("user@a.example", "too much")
    assert rcpt.state == RecipientState.DEFERRED and "mailbox full" in rcpt.last_reply
    assert [s for s, _ in mailbox(site["user"])] == ["hello"]


def test_a_change_without_a_signal_is_seen_within_the_ttl(
    site: dict[str, Any], monkeypatch: Any
) -> None:
    """What another process saves sends no signal here: the memo's answers age out."""
    monkeypatch.setattr(memo, "TTL_SECONDS", 0.2)
    assert send("second@a.example").state == RecipientState.DELIVERED
    with connection.cursor() as cursor:  # as the web process would, unseen by this one
        cursor.execute(
            f"UPDATE {Account._meta.db_table} SET is_active = %s WHERE id = %s",
            [False, site["second"].pk],
        )
    time.sleep(0.3)
    send("second@a.example", "after")
    assert [s for s, _ in mailbox(site["second"])] == ["hello"]
    assert [s for s, _ in mailbox(site["user"])] == ["after"]
