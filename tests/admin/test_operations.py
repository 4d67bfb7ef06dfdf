"""Relay-access rules (the same checks as `manage.py access`), queue actions on real queue rows
and spool files, the searchable delivery log and the dashboard's numbers."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.delivery.models import Direction, EntryState, QueueEntry, RecipientState
from mailcore.directory.actions import do_remove_alias
from mailcore.directory.models import RelayRule
from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def spool_path(settings, entry: QueueEntry):  # type: ignore[no-untyped-def]
    matches = list(settings.SPOOL_DIR.rglob(entry.spool_name))
    return matches[0] if matches else None


@pytest.mark.parametrize(
    ("body", "status", "stored"),
    [
        ({"network": "10.0.0.0/8", "action": "RELAY"}, 409, None),
        ({"network": "10.0.0.0/8", "action": "RELAY", "force": True}, 200, "10.0.0.0/8"),
        ({"network": "10.1.2.3/24", "action": "ok"}, 200, "10.1.2.0/24"),
        ({"network": "::ffff:192.0.2.0/120", "action": "REJECT"}, 200, "192.0.2.0/24"),
        ({"network": "2001:db8::/48", "action": "RELAY"}, 409, None),
        ({"network": "2001:db8::/64", "action": "DISCARD"}, 200, "2001:db8::/64"),
        ({"network": "300.1.1.1", "action": "RELAY"}, 400, None),
        ({"network": "10.1.1.1", "action": "ALLOW"}, 400, None),
    ],
)
def test_relay_rules_checked_like_the_shell(world: World, body, status, stored) -> None:  # type: ignore[no-untyped-def]
    api = client_for(world, "superadmin")
    r = api.post(P + "relay-rules", body, format="json")
    assert r.status_code == status, r.content
    if stored:
        assert r.json()["network"] == stored
        assert RelayRule.objects.filter(network=stored).exists()
    # The shell command takes the same input to the same decision.
    args = ["access", "add", body["network"], body["action"]]
    if body.get("force"):
        args.append("--force")
    RelayRule.objects.exclude(pk=world.rule.pk).delete()
    if status == 200:
        call_command(*args, stdout=io.StringIO())
    elif body["action"].upper() in ("RELAY", "OK", "REJECT", "DISCARD"):
        with pytest.raises(CommandError):
            call_command(*args, stdout=io.StringIO())


def test_relay_rule_with_domains_and_remove(world: World) -> None:
    api = client_for(world, "superadmin")
    body = {
        "network": "198.51.100.0/24",
        "action": "RELAY",
        "sender_domain": "@A.example",
        "recipient_domain": "partner.test",
        "comment": "branch office",
    }
    rule = api.post(P + "relay-rules", body, format="json").json()
    assert (rule["sender_domain"], rule["recipient_domain"]) == ("a.example", "partner.test")
    body["action"] = "REJECT"  # the same rule again changes its action
    again = api.post(P + "relay-rules", body, format="json").json()
    assert again["id"] == rule["id"] and again["action"] == "REJECT"
    assert len(api.get(P + "relay-rules").json()["items"]) == 2
    assert api.delete(P + f"relay-rules/{rule['id']}").status_code == 204
    assert api.delete(P + f"relay-rules/{rule['id']}").status_code == 404


def test_retry_bounce_delete_on_real_queue_rows(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    api = client_for(world, "domain_admin")
    entry = world.own.entry
    QueueEntry.objects.filter(pk=entry.pk).update(
        state=EntryState.HELD, next_attempt_at=timezone.now() + timedelta(hours=3)
    )
    r = api.post(P + f"queue/{entry.queue_id}/retry")
    assert r.status_code == 200 and r.json()["state"] == "queued"
    entry.refresh_from_db()
    assert entry.next_attempt_at <= timezone.now()

    # Outgoing mail of a.example to a remote recipient: bounced with a DSN to the sender.
    out = do_enqueue(
        sender="user@a.example",
        recipients=["far@remote.test"],
        data=b"From: user@a.example\r\nSubject: out\r\n\r\nhi\r\n",
        direction=Direction.OUTBOUND,
    )
    assert spool_path(settings, out) is not None
    r = api.post(P + f"queue/{out.queue_id}/bounce")
    assert r.status_code == 200 and r.json() == {"bounced": 1}
    out.refresh_from_db()
    assert out.state == EntryState.DONE
    assert out.recipients.get().state == RecipientState.BOUNCED
    assert spool_path(settings, out) is None
    dsn = QueueEntry.objects.exclude(pk__in=[out.pk, entry.pk, world.other.entry.pk]).get()
    assert dsn.sender == "" and list(dsn.recipients.values_list("address", flat=True)) == [
        "user@a.example"
    ]
    assert api.post(P + f"queue/{out.queue_id}/retry").status_code == 409  # done already
    assert api.post(P + f"queue/{out.queue_id}/bounce").status_code == 200  # nothing pending

    assert spool_path(settings, entry) is not None
    assert api.delete(P + f"queue/{entry.queue_id}").status_code == 204
    assert not QueueEntry.objects.filter(pk=entry.pk).exists()
    assert spool_path(settings, entry) is None
    assert api.get(P + f"queue/{entry.queue_id}").status_code == 404

    flushed = client_for(world, "superadmin").post(P + "queue/flush").json()["flushed"]
    assert flushed >= 1


def test_delivery_log_search_with_each_attempt(world: World) -> None:
    do_remove_alias("@a.example")  # without the catch-all, ghost@ bounces
    entry = do_enqueue(
        sender="Sender@Remote.test",
        recipients=["user@a.example", "ghost@a.example"],
        data=b"From: sender@remote.test\r\nMessage-ID: <abc.123@remote.test>\r\n"
        b"Subject: log me\r\n\r\nhello\r\n",
    )
    do_process_entry(entry.pk, worker="test")
    api = client_for(world, "domain_admin")
    queue = [x["queue_id"] for x in api.get(P + "queue").json()["items"]]
    assert entry.queue_id not in queue  # done: no longer in the queue
    for query in (
        f"queue_id={entry.queue_id.lower()}",
        "message_id=%3Cabc.123@remote.test%3E",
        "message_id=abc.123@remote.test",
        "sender=sender@remote",
        "recipient=ghost@",
        "state=done",
    ):
        items = api.get(P + f"delivery-log?{query}").json()["items"]
        assert [x["queue_id"] for x in items] == [entry.queue_id], query
    item = api.get(P + f"delivery-log?queue_id={entry.queue_id}").json()["items"][0]
    assert item["message_id"] == "abc.123@remote.test"  # inbound mail: from its header
    states = {r["address"]: (r["state"], r["last_reply"]) for r in item["recipients"]}
    assert states["user@a.example"][0] == "delivered"
    assert states["ghost@a.example"][0] == "bounced" and "5.1.1" in states["ghost@a.example"][1]
    assert len(item["attempt_log"]) == 1 and item["attempt_log"][0]["result"]
    assert api.get(P + "delivery-log?message_id=nothing@x").json()["items"] == []
    later = (timezone.now() + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert api.get(P + "delivery-log", {"since": later}).json()["items"] == []
    assert len(api.get(P + "delivery-log", {"until": later}).json()["items"]) >= 2
    assert api.get(P + "delivery-log?state=bogus").status_code == 400


def test_dashboard_numbers(world: World) -> None:
    do_process_entry(world.own.entry.pk, worker="test")  # delivered: storage is used now
    api = client_for(world, "superadmin")
    dash = api.get(P + "dashboard?days=3").json()
    assert len(dash["traffic"]) == 3
    today = dash["traffic"][-1]
    assert today["date"] == timezone.now().date().isoformat()
    assert today["inbound"] == 2 and today["outbound"] == 0
    assert dash["queue"]["queued"] == 1  # b.example's entry
    usage = {d["name"]: d for d in dash["domains"]}
    assert usage["a.example"]["accounts"] == 2 and usage["a.example"]["used_bytes"] > 0
    assert usage["b.example"]["used_bytes"] == 0
    top = dash["top_accounts"][0]
    assert (
        top["address"] == "user@a.example" and top["used_bytes"] == usage["a.example"]["used_bytes"]
    )
    accounts = {a["address"]: a for a in api.get(P + "accounts?domain=a.example").json()["items"]}
    assert accounts["user@a.example"]["used_bytes"] == top["used_bytes"]
    assert api.get(P + "dashboard?days=0").status_code == 400
    assert api.get(P + "dashboard?days=91").status_code == 400
