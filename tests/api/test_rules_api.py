"""Rule endpoints: the rule list and its generated script, the script editor with line/column
errors, blocked senders, forwarding, vacation (with its banner flag), "apply to existing
mail" with progress, and another account's ids answering 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mailcore.delivery.actions import do_process_entry
from mailcore.delivery.entries import do_enqueue
from mailcore.rules.existing import do_apply_rules
from mailcore.rules.models import BlockedSender, DomainRulesPolicy
from mailcore.store.models import Folder, Message

RULES = "/api/v1/settings/rules"
SCRIPT = "/api/v1/settings/rules/script"
JOBS = "/api/v1/settings/rules/jobs"
BLOCKED = "/api/v1/settings/blocked-senders"
FORWARDING = "/api/v1/settings/forwarding"
VACATION = "/api/v1/settings/vacation"

RULE = {
    "name": "뉴스레터",
    "conditions": [{"field": "subject", "op": "contains", "value": "newsletter"}],
    "actions": [{"type": "move", "value": "News"}, {"type": "read"}],
}


@pytest.mark.django_db
def test_rules_round_trip_and_script(alice_api) -> None:  # type: ignore[no-untyped-def]
    assert alice_api.get(RULES).json() == {"rules": [], "custom": False, "script": ""}
    got = alice_api.put(RULES, {"rules": [RULE]}, format="json")
    assert got.status_code == 200, got.json()
    body = got.json()
    assert body["rules"][0]["name"] == "뉴스레터" and not body["custom"]
    assert 'fileinto :create "News";' in body["script"]
    assert alice_api.get(SCRIPT).json()["script"] == body["script"]


@pytest.mark.django_db
def test_bad_rule_is_400(alice_api) -> None:  # type: ignore[no-untyped-def]
    bad = {**RULE, "actions": [{"type": "forward", "value": "nobody"}]}
    got = alice_api.put(RULES, {"rules": [bad]}, format="json")
    assert got.status_code == 400 and got.json()["error"] == "rule_invalid"


@pytest.mark.django_db
def test_script_editor_validates_with_line_and_column(alice_api) -> None:  # type: ignore[no-untyped-def]
    got = alice_api.put(SCRIPT, {"script": 'require "fileinto";\nfileinto "A"\n'}, format="json")
    assert got.status_code == 400
    assert (got.json()["error"], got.json()["line"], got.json()["column"]) == (
        "sieve_invalid",
        3,
        1,
    )
    ok = alice_api.put(SCRIPT, {"script": "if size :over 1M { discard; }"}, format="json")
    assert ok.status_code == 200 and ok.json()["custom"] is True
    assert alice_api.get(RULES).json()["custom"] is True


@pytest.mark.django_db
def test_blocked_senders(alice_api, bob_api) -> None:  # type: ignore[no-untyped-def]
    made = alice_api.post(BLOCKED, {"value": "Spammer@Bad.Example"}, format="json")
    assert made.status_code == 201 and made.json()["value"] == "spammer@bad.example"
    assert alice_api.post(BLOCKED, {"value": "@bad.example"}, format="json").status_code == 201
    assert alice_api.post(BLOCKED, {"value": "not valid"}, format="json").status_code == 400
    assert [b["value"] for b in alice_api.get(BLOCKED).json()] == [
        "bad.example",
        "spammer@bad.example",
    ]
    pk = made.json()["id"]
    assert bob_api.delete(f"{BLOCKED}/{pk}").status_code == 404
    assert alice_api.delete(f"{BLOCKED}/{pk}").status_code == 204
    assert BlockedSender.objects.count() == 1


@pytest.mark.django_db
def test_forwarding_and_domain_policy(alice_api, alice) -> None:  # type: ignore[no-untyped-def]
    put = {"enabled": True, "address": "me@elsewhere.example", "keep_copy": False}
    got = alice_api.put(FORWARDING, put, format="json")
    assert got.status_code == 200 and got.json() == put
    assert alice_api.get(FORWARDING).json() == put
    self_fwd = {**put, "address": "alice@example.com"}
    assert alice_api.put(FORWARDING, self_fwd, format="json").status_code == 400
    DomainRulesPolicy.objects.create(domain=alice.domain, forward_outside=False)
    refused = alice_api.put(FORWARDING, put, format="json")
    assert refused.status_code == 400 and "outside" in refused.json()["detail"]


@pytest.mark.django_db
def test_vacation_and_its_banner_flag(alice_api) -> None:  # type: ignore[no-untyped-def]
    assert alice_api.get(VACATION).json()["active"] is False
    today = timezone.localdate()
    put = {
        "enabled": True,
        "start": str(today - timedelta(days=1)),
        "end": str(today + timedelta(days=3)),
        "subject": "부재중입니다",
        "body": "다음 주에 돌아옵니다.",
        "days": 3,
    }
    got = alice_api.put(VACATION, put, format="json")
    assert got.status_code == 200 and got.json()["active"] is True
    later = {**put, "start": str(today + timedelta(days=1))}
    assert alice_api.put(VACATION, later, format="json").json()["active"] is False
    backwards = {**put, "end": str(today - timedelta(days=5))}
    assert alice_api.put(VACATION, backwards, format="json").status_code == 400


def _deliver(subject: str, n: int) -> None:
    data = (
        f"From: news@remote.example\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <e{n}@remote.example>\r\n\r\nbody\r\n"
    ).encode()
    entry = do_enqueue(
        sender="news@remote.example",
        recipients=["alice@example.com"],
        data=data,
        client_ip="127.0.0.1",
    )
    do_process_entry(entry.pk, worker="test")


@pytest.mark.django_db(transaction=True)
def test_apply_to_existing_mail_with_progress(alice_api, alice, bob_api) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        _deliver("weekly newsletter" if n < 2 else "hello", n)
    alice_api.put(RULES, {"rules": [RULE]}, format="json")
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    assert bob_api.post(JOBS, {"folder": inbox.pk}, format="json").status_code == 404
    made = alice_api.post(JOBS, {"folder": inbox.pk}, format="json")
    assert made.status_code == 202 and made.json()["state"] == "queued"
    job_id = made.json()["id"]
    assert do_apply_rules(job_id) == "done"  # the Celery task's body
    job = alice_api.get(f"{JOBS}/{job_id}").json()
    assert (job["state"], job["total"], job["done"], job["changed"]) == ("done", 3, 3, 2)
    moved = Message.objects.filter(account=alice, folder__name="News")
    assert moved.count() == 2 and all(m.seen for m in moved)
    assert bob_api.get(f"{JOBS}/{job_id}").status_code == 404
