"""Issue 12 defect 5: refusals carry a stable code the console turns into the admin's language
(the English detail stays for scripts and the log), and a failed DNS lookup shows no resolver
internals: its raw error goes to the server log."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
ROOT = Path(__file__).resolve().parents[2]
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
        "mta-sts": "not_checked",  # MTA-STS and TLS-RPT (issue 15 item 7)
        "tlsrpt": "not_checked",
    }
    for check in checks:
        assert "127.0.0.1" not in check["detail"], check
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records), caplog.text


def _reasons(world: World) -> dict[str, list[str]]:
    checks = client_for(world, "superadmin").get(P + "domains/a.example/dns").json()["checks"]
    out: dict[str, list[str]] = {}
    for check in checks:
        out.setdefault(check["kind"], []).append(check["reason"])
    return out


def test_each_dns_check_sets_its_reason_where_it_decides(world: World, zone, settings) -> None:  # type: ignore[no-untyped-def]
    """Every outcome of every check carries its own code (no table over the English text)."""
    settings.MAIL_HOSTNAME = "mx.a.example"
    zone.add("mx.a.example", "A", "198.51.100.25")
    reasons = _reasons(world)
    # RFC 6186 SRV records (client autoconfiguration): one check per listener, all missing.
    assert set(reasons.pop("srv")) == {"srv_missing"}
    # MTA-STS and TLS-RPT (issue 15 item 7): tests/mtasts has their outcomes.
    assert reasons.pop("mta-sts") == ["mtasts_missing", "mtasts_host_missing"]
    assert reasons.pop("tlsrpt") == ["tlsrpt_missing"]
    assert reasons == {
        "mx": ["mx_missing"],
        "spf": ["spf_missing"],
        "dkim": ["dkim_no_key"],
        "dmarc": ["dmarc_missing"],
    }
    cases: list[tuple[list[tuple[str, str, str]], dict[str, str]]] = [
        (
            [
                ("a.example", "MX", "0 ."),
                ("a.example", "TXT", "v=spf1 +all"),
                ("_dmarc.a.example", "TXT", "v=DMARC1; p=maybe"),
            ],
            {"mx": "mx_null", "spf": "spf_allow_all", "dmarc": "dmarc_bad_policy"},
        ),
        (
            [
                ("a.example", "MX", "10 mx.elsewhere.test."),
                ("a.example", "TXT", "v=spf1 ip4:not-a-net -all"),
                ("_dmarc.a.example", "TXT", "v=DMARC1; p=none"),
            ],
            {"mx": "mx_not_this_server", "spf": "spf_invalid_term", "dmarc": "dmarc_monitor_only"},
        ),
        (
            [
                ("a.example", "MX", "10 mx.a.example."),
                ("a.example", "TXT", "v=spf1 include:_spf.elsewhere.test -all"),
                ("_dmarc.a.example", "TXT", "v=DMARC1; p=reject"),
                ("_dmarc.a.example", "TXT", "v=DMARC1; p=none"),
            ],
            {"mx": "", "spf": "spf_include", "dmarc": "dmarc_duplicate"},
        ),
        (
            [("a.example", "TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
            {"mx": "mx_missing", "spf": "spf_not_this_server", "dmarc": "dmarc_missing"},
        ),
        (
            [("a.example", "TXT", "v=spf1 mx -all"), ("a.example", "TXT", "v=spf1 -all")],
            {"spf": "spf_duplicate"},
        ),
    ]
    for records, expected in cases:
        zone.rrs.clear()
        zone.add("mx.a.example", "A", "198.51.100.25")
        for name, rtype, value in records:
            zone.add(name, rtype, value)
        got = _reasons(world)
        assert {kind: got[kind][0] for kind in expected} == expected, records

    api = client_for(world, "superadmin")
    key = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    assert _reasons(world)["dkim"] == ["dkim_unpublished"]
    zone.add(key["dns_name"], "TXT", "v=DKIM1; k=rsa; p=AAAAnotthekey")
    assert _reasons(world)["dkim"] == ["dkim_mismatch"]


def test_every_dns_reason_has_words_in_the_console() -> None:
    """The codes set in dnscheck.py are the keys the admin console translates (dns.<code>)."""
    source = (ROOT / "mailcore/directory/dnscheck.py").read_text()
    codes = set(re.findall(r'^\s+"([a-z]+_[a-z_]+)",$', source, re.MULTILINE))
    codes.add("lookup_failed")  # _LookupError.reason
    assert {"mx_missing", "dkim_pending_ready", "not_checked"} <= codes
    console = (ROOT / "frontend/src/features/admin/adminMessages.ts").read_text()
    missing = sorted(c for c in codes if f'"dns.{c}":' not in console)
    assert missing == []
