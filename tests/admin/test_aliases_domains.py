"""Aliases (one → many, external forwards, system aliases, catch-all, loops refused when
saved) and domains (remove refused while accounts exist unless forced, DKIM keys and their DNS
records, the DNS check against a real DNS server on 127.0.0.1)."""

from __future__ import annotations

import pytest

from mailcore.delivery.models import DkimKey
from mailcore.directory.models import Account, Alias, AuditLog, Domain
from mailcore.directory.queries import expand_recipient
from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def test_alias_one_to_many_with_external_forward(world: World) -> None:
    api = client_for(world, "domain_admin")
    r = api.post(
        P + "aliases",
        {"source": "Team@a.example", "targets": ["user@a.example", "Friend@Remote.test"]},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["targets"] == ["user@a.example", "friend@remote.test"]
    assert body["external_targets"] == ["friend@remote.test"]
    assert body["is_system"] is False and body["is_catchall"] is False
    expansion = expand_recipient("team@a.example")
    assert [a.address for a in expansion.accounts] == ["user@a.example"]
    assert expansion.external == ["friend@remote.test"]
    # Creating it again is a conflict; an alias cannot shadow an account.
    again = {"source": "team@a.example", "targets": ["x@remote.test"]}
    assert api.post(P + "aliases", again, format="json").status_code == 409
    shadow = {"source": "user@a.example", "targets": ["x@remote.test"]}
    assert api.post(P + "aliases", shadow, format="json").status_code == 409
    assert (
        api.post(P + "aliases", {"source": "t@a.example", "targets": []}, format="json").status_code
        == 400
    )
    listed = api.get(P + "aliases?q=friend@remote").json()["items"]
    assert [x["source"] for x in listed] == ["team@a.example"]


def test_system_alias_and_catchall(world: World) -> None:
    api = client_for(world, "domain_admin")
    got = api.get(P + f"aliases/{world.own.alias.pk}").json()
    assert got["source"] == "root@a.example" and got["is_system"] is True
    r = api.put(P + "domains/a.example/catchall", {"targets": ["root@a.example"]}, format="json")
    assert r.status_code == 200 and r.json() == {
        "source": "@a.example",
        "targets": ["root@a.example"],
    }
    assert api.get(P + "domains/a.example").json()["catchall"] == ["root@a.example"]
    assert api.delete(P + "domains/a.example/catchall").status_code == 204
    assert api.get(P + "domains/a.example").json()["catchall"] is None
    assert api.delete(P + "domains/a.example/catchall").status_code == 404


def test_alias_loops_are_refused_when_saved(world: World) -> None:
    api = client_for(world, "domain_admin")
    one = {"source": "one@a.example", "targets": ["two@a.example"]}
    assert api.post(P + "aliases", one, format="json").status_code == 201
    two = {"source": "two@a.example", "targets": ["three@a.example"]}
    two_id = api.post(P + "aliases", two, format="json").json()["id"]
    three = {"source": "three@a.example", "targets": ["one@a.example"]}
    r = api.post(P + "aliases", three, format="json")
    assert r.status_code == 409 and "loop" in r.json()["detail"]
    assert not Alias.objects.filter(source="three@a.example").exists()
    selfish = {"source": "me@a.example", "targets": ["me@a.example"]}
    assert api.post(P + "aliases", selfish, format="json").status_code == 409
    # Changing an existing alias into a loop is refused too, and changes nothing.
    three_ok = {"source": "three@a.example", "targets": ["user@a.example"]}
    assert api.post(P + "aliases", three_ok, format="json").status_code == 201
    r = api.put(P + f"aliases/{two_id}", {"targets": ["one@a.example"]}, format="json")
    assert r.status_code == 409
    assert Alias.objects.get(pk=two_id).targets == ["three@a.example"]
    assert AuditLog.objects.filter(action="alias.update").count() == 0


def test_domain_admin_alias_source_in_other_domain_is_404(world: World) -> None:
    api = client_for(world, "domain_admin")
    body = {"source": "x@b.example", "targets": ["user@a.example"]}
    assert api.post(P + "aliases", body, format="json").status_code == 404
    body = {"source": "@b.example", "targets": ["user@a.example"]}
    assert api.post(P + "aliases", body, format="json").status_code == 404
    assert api.get(P + f"aliases/{world.other.alias.pk}").status_code == 404


def test_domain_remove_refused_while_accounts_exist(world: World) -> None:
    api = client_for(world, "superadmin")
    r = api.delete(P + "domains/b.example")
    assert r.status_code == 409 and "account" in r.json()["detail"]
    assert Domain.objects.filter(name="b.example").exists()
    assert api.delete(P + "domains/b.example?force=true").status_code == 204
    assert not Domain.objects.filter(name="b.example").exists()
    assert not Account.objects.filter(domain__name="b.example").exists()
    assert api.post(P + "domains", {"name": "Bücher.example"}, format="json").json()["name"] == (
        "xn--bcher-kva.example"
    )
    assert api.delete(P + "domains/bücher.example").status_code == 204  # empty: no force needed
    assert api.post(P + "domains", {"name": "bad_domain"}, format="json").status_code == 400
    assert api.post(P + "domains", {"name": "a.example"}, format="json").status_code == 409


def test_dkim_generate_and_show(world: World) -> None:
    api = client_for(world, "domain_admin")
    assert api.get(P + "domains/a.example/dkim").json() == {"keys": []}
    rsa = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    assert rsa["algorithm"] == "rsa-sha256" and rsa["is_active"]
    assert rsa["dns_name"] == f"{rsa['selector']}._domainkey.a.example"
    assert rsa["dns_value"].startswith("v=DKIM1; k=rsa; p=")
    assert rsa["dns_record"].startswith(rsa["dns_name"] + ". IN TXT")
    api.post(P + "domains/a.example/dkim", {"algorithm": "ed25519"}, format="json")
    keys = api.get(P + "domains/a.example/dkim").json()["keys"]
    assert {k["algorithm"] for k in keys} == {"rsa-sha256", "ed25519-sha256"}
    assert (
        api.post(P + "domains/a.example/dkim", {"algorithm": "dsa"}, format="json").status_code
        == 400
    )
    # A second RSA key is pending: the first keeps signing until it is activated.
    pending = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    assert pending["state"] == "pending"
    assert (
        DkimKey.objects.filter(domain="a.example", algorithm="rsa-sha256", state="active").count()
        == 1
    )


def test_dns_check_against_a_local_dns_server(world: World, zone, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MAIL_HOSTNAME = "mx.a.example"
    api = client_for(world, "domain_admin")
    key = api.post(P + "domains/a.example/dkim", {}, format="json").json()

    def checks() -> dict[str, dict]:  # type: ignore[type-arg]
        r = api.get(P + "domains/a.example/dns")
        assert r.status_code == 200
        return {c["kind"]: c for c in r.json()["checks"]}

    # Nothing published: everything missing, with the record to publish.
    got = checks()
    assert {k: c["status"] for k, c in got.items()} == {
        "mx": "missing",
        "spf": "missing",
        "dkim": "missing",
        "dmarc": "missing",
        "srv": "missing",  # RFC 6186 records for mail apps (issue 15 item 6)
        "mta-sts": "missing",  # MTA-STS and TLS-RPT (issue 15 item 7)
        "tlsrpt": "missing",
    }
    assert got["mx"]["expected"] == "a.example. IN MX 10 mx.a.example."
    assert got["dkim"]["expected"] == f'{key["dns_name"]}. IN TXT "{key["dns_value"]}"'
    # Wrong records.
    zone.add("a.example", "MX", "10 mx.elsewhere.test.")
    zone.add("a.example", "TXT", "v=spf1 +all")
    zone.add(key["dns_name"], "TXT", "v=DKIM1; k=rsa; p=AAAAnotthekey")
    zone.add("_dmarc.a.example", "TXT", "v=DMARC1; p=maybe")
    got = checks()
    assert {k: c["status"] for k, c in got.items()} == {
        "mx": "wrong",
        "spf": "wrong",
        "dkim": "wrong",
        "dmarc": "wrong",
        "srv": "missing",
        "mta-sts": "missing",
        "tlsrpt": "missing",
    }
    assert got["mx"]["found"] == ["10 mx.elsewhere.test."]
    # Right records.
    zone.rrs.clear()
    zone.add("a.example", "MX", "10 mx.a.example.")
    zone.add("a.example", "TXT", "v=spf1 mx -all")
    value = key["dns_value"]
    zone.add(key["dns_name"], "TXT", value)
    zone.add("_dmarc.a.example", "TXT", "v=DMARC1; p=reject; rua=mailto:postmaster@a.example")
    got = checks()
    assert {k: c["status"] for k, c in got.items()} == {
        "mx": "ok",
        "spf": "ok",
        "dkim": "ok",
        "dmarc": "ok",
        "srv": "missing",
        "mta-sts": "missing",
        "tlsrpt": "missing",
    }
    r = api.get(P + "domains/a.example/dns").json()
    assert r["ok"] is True and r["hostname"] == "mx.a.example"
    # SPF by address: the server's own A record inside an ip4 range.
    zone.rrs.clear()
    zone.add("mx.a.example", "A", "192.0.2.25")
    zone.add("a.example", "TXT", "v=spf1 ip4:192.0.2.0/24 ~all")
    assert checks()["spf"]["status"] == "ok"
    zone.rrs.clear()
    zone.add("mx.a.example", "A", "198.51.100.25")
    zone.add("a.example", "TXT", "v=spf1 ip4:192.0.2.0/24 ~all")
    zone.add("a.example", "TXT", "v=spf1 mx ~all")
    spf = checks()["spf"]
    assert spf["status"] == "wrong" and "more than one" in spf["detail"]


def test_dns_check_reports_a_dead_resolver(world: World) -> None:
    # The test settings point the resolver at 127.0.0.1:1, where nothing answers.
    checks = client_for(world, "superadmin").get(P + "domains/a.example/dns").json()["checks"]
    # DKIM needs no lookup to know there is no key yet.
    assert {c["kind"]: c["status"] for c in checks} == {
        "mx": "error",
        "spf": "error",
        "dkim": "missing",
        "dmarc": "error",
        "srv": "error",
        "mta-sts": "error",
        "tlsrpt": "error",
    }
    errors = [c["detail"] for c in checks if c["status"] == "error"]
    assert "failed" in errors[0] and all(e.startswith("not checked: ") for e in errors[1:])
