"""Issue 12 defect 5: refusals carry a stable code the console turns into the admin's language
(the English detail stays for scripts and the log), and a failed DNS lookup shows no resolver
internals: its raw error goes to the server log."""

from __future__ import annotations

import logging

import pytest

from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def test_refusals_have_stable_codes(world: World) -> None:
    api = client_for(world, "superadmin")
    one = {"source": "one@a.example", "targets": ["two@a.example"]}
    assert api.post(P + "aliases", one, format="json").status_code == 201
    loop = api.post(
        P + "aliases", {"source": "two@a.example", "targets": ["one@a.example"]}, format="json"
    )
    assert (loop.status_code, loop.json()["error"]) == (409, "alias_loop")
    wide = api.post(P + "relay-rules", {"network": "10.0.0.0/8", "action": "RELAY"}, format="json")
    assert (wide.status_code, wide.json()["error"]) == (409, "relay_too_wide")
    busy = api.delete(P + "domains/a.example")
    assert (busy.status_code, busy.json()["error"]) == (409, "domain_not_empty")
    again = api.post(P + "domains", {"name": "a.example"}, format="json")
    assert (again.status_code, again.json()["error"]) == (409, "domain_exists")
    me = P + f"accounts/{world.superadmin.pk}"
    own = api.delete(me)
    assert (own.status_code, own.json()["error"]) == (409, "own_account")


def test_dns_lookup_failure_has_a_code_and_no_internals(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # The test settings point the resolver at 127.0.0.1:1, where nothing answers.
    with caplog.at_level(logging.WARNING, logger="mailcore.directory.dnscheck"):
        checks = client_for(world, "superadmin").get(P + "domains/a.example/dns").json()["checks"]
    reasons = {c["kind"]: c["reason"] for c in checks}
    assert reasons == {
        "mx": "lookup_failed",
        "spf": "not_checked",
        "dkim": "dkim_no_key",
        "dmarc": "not_checked",
        "srv": "not_checked",
    }
    for check in checks:
        assert "127.0.0.1" not in check["detail"], check
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records), caplog.text
