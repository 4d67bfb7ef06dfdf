"""DKIM key rotation: a new key of a domain that signs already is pending, the old key keeps
signing, and the switch happens on activation, which is refused until DNS (a local DNS server
here) shows the new record. Through `manage.py dkim` and the admin console API (audited)."""

from __future__ import annotations

import io
import re

import dkim
import pytest
from django.core.management import CommandError, call_command

from mailcore.delivery.dkim import active_keys, do_generate_dkim_key, sign, txt_value
from mailcore.delivery.models import DkimKey
from mailcore.directory.models import AuditLog
from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
MAIL = (
    b"From: user@a.example\r\nTo: x@remote.test\r\nSubject: hi\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@a.example>\r\n\r\nbody\r\n"
)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def signed_with(domain: str) -> list[str]:
    """The s= selectors of the DKIM signatures our signer puts on a message now."""
    head = sign(MAIL, domain).split(b"\r\n\r\n", 1)[0].decode()
    return re.findall(r"\bs=([a-z0-9-]+);", head)


def verifies(zone, domain: str) -> bool:  # type: ignore[no-untyped-def]
    """What a receiver sees: verify the signature against what DNS publishes now."""
    data = sign(MAIL, domain)

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        want = name.decode().rstrip(".")
        for rr in zone.rrs:
            if str(rr.rname).rstrip(".") == want:
                return b"".join(rr.rdata.data)
        return None

    return bool(dkim.verify(data, dnsfunc=lookup))


def test_generate_for_a_signing_domain_keeps_the_old_key_until_activation(db, zone) -> None:  # type: ignore[no-untyped-def]
    out = run("dkim", "generate", "a.example", "--selector", "old")
    assert "old signs mail from a.example now" in out
    zone.add("old._domainkey.a.example", "TXT", txt_value(DkimKey.objects.get(selector="old")))
    assert verifies(zone, "a.example")

    out = run("dkim", "generate", "a.example", "--selector", "new")
    assert "new is pending" in out and "dkim activate a.example new" in out
    new = DkimKey.objects.get(selector="new")
    assert new.state == "pending"
    # Nothing changes for mail until the switch: the old key signs, receivers verify it.
    assert signed_with("a.example") == ["old"]
    assert verifies(zone, "a.example")
    # Both records are shown, to be published side by side.
    shown = run("dkim", "show", "a.example")
    assert "old._domainkey.a.example. IN TXT" in shown
    assert "new._domainkey.a.example. IN TXT" in shown
    assert "pending" in shown and "active (signing)" in shown

    # DNS does not have the new record yet: refused, nothing changes.
    with pytest.raises(CommandError, match="DNS does not show the new key yet"):
        run("dkim", "activate", "a.example", "new")
    assert signed_with("a.example") == ["old"]
    # A wrong record is refused too.
    zone.add("new._domainkey.a.example", "TXT", "v=DKIM1; k=rsa; p=AAAAnotthekey")
    with pytest.raises(CommandError, match="wrong"):
        run("dkim", "activate", "a.example")
    zone.rrs.pop()

    zone.add("new._domainkey.a.example", "TXT", txt_value(new))
    out = run("dkim", "activate", "a.example")  # the selector defaults to the pending key
    assert "new (rsa-sha256) now signs mail from a.example; retired old" in out
    assert signed_with("a.example") == ["new"]
    assert verifies(zone, "a.example")
    assert DkimKey.objects.get(selector="old").state == "retired"
    assert [k.selector for k in active_keys("a.example")] == ["new"]
    assert "old._domainkey" not in run("dkim", "show", "a.example")
    [audit] = AuditLog.objects.filter(action="dkim.activate")
    assert audit.detail["retired"] == ["old"] and audit.detail["forced"] is False
    with pytest.raises(CommandError, match="no pending DKIM key"):
        run("dkim", "activate", "a.example")
    with pytest.raises(CommandError, match="is active, not pending"):
        run("dkim", "activate", "a.example", "new")


def test_force_activates_without_the_dns_record(db, zone) -> None:  # type: ignore[no-untyped-def]
    do_generate_dkim_key("a.example", selector="one")
    do_generate_dkim_key("a.example", selector="two")
    out = run("dkim", "activate", "a.example", "two", "--force")
    assert "forced" in out
    assert signed_with("a.example") == ["two"]
    assert AuditLog.objects.get(action="dkim.activate").detail["forced"] is True


def test_a_second_pending_key_is_refused_unless_replacing_it_is_asked_for(db) -> None:
    do_generate_dkim_key("a.example", selector="one")
    do_generate_dkim_key("a.example", selector="two")
    # "two" may already be published: a second generate never replaces it silently.
    with pytest.raises(CommandError) as info:
        run("dkim", "generate", "a.example", "--selector", "three")
    assert str(info.value) == (
        "a.example already has a pending rsa-sha256 key (two) waiting to be activated: publish "
        "its record and activate it (dkim activate a.example two), or replace it on purpose "
        "(dkim generate --replace-pending); nothing was changed"
    )
    assert dict(DkimKey.objects.values_list("selector", "state")) == {
        "one": "active",
        "two": "pending",
    }
    out = run("dkim", "generate", "a.example", "--selector", "three", "--replace-pending")
    assert "three is pending" in out
    states = dict(DkimKey.objects.values_list("selector", "state"))
    assert states == {"one": "active", "two": "retired", "three": "pending"}
    # Each algorithm rotates on its own: the first ed25519 key signs at once.
    ed = do_generate_dkim_key("a.example", algorithm="ed25519-sha256", selector="ed")
    assert ed.state == "active"
    assert sorted(signed_with("a.example")) == ["ed", "one"]


def test_console_activates_a_pending_key_after_the_dns_check(world: World, zone) -> None:  # type: ignore[no-untyped-def]
    api = client_for(world, "domain_admin")
    first = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    assert first["state"] == "active" and first["activated_at"]
    second = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    assert second["state"] == "pending" and not second["is_active"]
    assert second["activated_at"] is None
    keys = api.get(P + "domains/a.example/dkim").json()["keys"]
    assert [(k["selector"], k["state"]) for k in keys] == [
        (first["selector"], "active"),
        (second["selector"], "pending"),
    ]
    assert signed_with("a.example") == [first["selector"]]
    # The DNS check lists both records during the change.
    dkim_checks = [
        c for c in api.get(P + "domains/a.example/dns").json()["checks"] if c["kind"] == "dkim"
    ]
    assert [c["name"] for c in dkim_checks] == [first["dns_name"], second["dns_name"]]

    url = P + f"domains/a.example/dkim/{second['selector']}/activate"
    refused = api.post(url, {}, format="json")
    assert refused.status_code == 409
    assert "DNS does not show the new key yet" in refused.json()["detail"]
    assert signed_with("a.example") == [first["selector"]]

    zone.add(second["dns_name"], "TXT", second["dns_value"])
    done = api.post(url, {}, format="json")
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["key"]["state"] == "active" and body["retired"] == [first["selector"]]
    assert body["forced"] is False
    assert signed_with("a.example") == [second["selector"]]
    audit = AuditLog.objects.get(action="dkim.activate")
    assert audit.actor == world.domain_admin.address and audit.domain == "a.example"
    assert api.post(url, {}, format="json").status_code == 409  # not pending any more

    # Another domain's keys are not this admin's: 404, as everywhere in the console.
    do_generate_dkim_key("b.example", selector="b1")
    do_generate_dkim_key("b.example", selector="b2")
    other = api.post(P + "domains/b.example/dkim/b2/activate", {"force": True}, format="json")
    assert other.status_code == 404
    assert (
        api.post(P + "domains/a.example/dkim/nope/activate", {}, format="json").status_code == 404
    )


def test_console_force(world: World) -> None:
    api = client_for(world, "superadmin")
    api.post(P + "domains/a.example/dkim", {}, format="json")
    pending = api.post(P + "domains/a.example/dkim", {}, format="json").json()
    url = P + f"domains/a.example/dkim/{pending['selector']}/activate"
    done = api.post(url, {"force": True}, format="json")
    assert done.status_code == 200 and done.json()["forced"] is True
    assert AuditLog.objects.get(action="dkim.activate").detail["forced"] is True
