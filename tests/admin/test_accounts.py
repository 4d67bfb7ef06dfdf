"""Accounts through the admin API: create (given or generated password), quota, enable and
disable, password set/reset (sessions, tokens and app passwords revoked), app passwords, the
account's aliases, and the limits on what a domain admin may change."""

from __future__ import annotations

import pytest

from mailcore.auth import verify_credentials
from mailcore.directory.actions import do_create_account
from mailcore.directory.models import Account, AppPassword, AuditLog, DomainAdmin
from mailcore.store.models import Folder
from tests.admin.conftest import PASSWORD, World, client_for
from tests.api.helpers import token_client

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def test_create_with_generated_password_and_quota(world: World) -> None:
    api = client_for(world, "domain_admin")
    r = api.post(
        P + "accounts",
        {"address": "New.Person@A.example", "display_name": "New", "quota_bytes": 5_000_000},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["address"] == "new.person@a.example" and body["quota_bytes"] == 5_000_000
    assert body["used_bytes"] == 0 and body["is_active"] is True
    assert len(body["password"]) == 16
    assert verify_credentials("new.person@a.example", body["password"]) is not None
    assert Folder.objects.filter(account_id=body["id"]).count() >= 5  # default folders
    row = AuditLog.objects.get(action="account.create")
    assert row.target == "new.person@a.example" and row.domain == "a.example"
    assert body["password"] not in str(row.detail)  # never a secret in the log
    # The same address again, a foreign domain, a short password: refused with reasons.
    again = api.post(P + "accounts", {"address": "new.person@a.example"}, format="json")
    assert again.status_code == 409
    other = api.post(P + "accounts", {"address": "x@b.example"}, format="json")
    assert other.status_code == 404
    short = api.post(P + "accounts", {"address": "y@a.example", "password": "short"}, format="json")
    assert short.status_code == 400 and "password" in short.json()["fields"]
    bad = api.post(P + "accounts", {"address": "not an address"}, format="json")
    assert bad.status_code == 400
    assert not Account.objects.filter(address="y@a.example").exists()


def test_update_quota_disable_enable(world: World) -> None:
    api = client_for(world, "domain_admin")
    url = P + f"accounts/{world.own.user.pk}"
    r = api.patch(url, {"quota_bytes": 1024, "is_active": False}, format="json")
    assert r.status_code == 200 and r.json()["quota_bytes"] == 1024
    assert verify_credentials("user@a.example", PASSWORD) is None
    assert api.patch(url, {"is_active": True}, format="json").json()["is_active"] is True
    assert verify_credentials("user@a.example", PASSWORD) is not None
    assert api.patch(url, {"quota_bytes": -1}, format="json").status_code == 400
    # Header injection through the display name: refused, and nothing else changes either.
    r = api.patch(
        url, {"display_name": "Eve\r\nBcc: x@remote.test", "quota_bytes": 5}, format="json"
    )
    assert r.status_code == 400
    assert Account.objects.get(pk=world.own.user.pk).quota_bytes == 1024
    listed = api.get(P + "accounts?domain=a.example&active=true&q=user").json()["items"]
    assert [x["address"] for x in listed] == ["user@a.example"]


def test_password_set_and_reset_revoke_access(world: World) -> None:
    user = world.own.user
    user_api = token_client(user)
    assert user_api.get("/api/v1/folders").status_code == 200
    api = client_for(world, "domain_admin")
    r = api.post(
        P + f"accounts/{user.pk}/password", {"password": "brand new pass 9"}, format="json"
    )
    assert r.status_code == 200 and r.json()["password"] is None
    assert verify_credentials(user.address, "brand new pass 9") is not None
    assert verify_credentials(user.address, PASSWORD) is None
    assert user_api.get("/api/v1/folders").status_code == 401  # the token was revoked
    assert not AppPassword.objects.filter(account=user).exists()
    reset = api.post(P + f"accounts/{user.pk}/password", {}, format="json").json()["password"]
    assert verify_credentials(user.address, reset) is not None


def test_domain_admin_cannot_outrank_itself(world: World) -> None:
    api = client_for(world, "domain_admin")
    # A superadmin account inside a.example: visible, but not changeable by a domain admin.
    boss = do_create_account("boss@a.example", password=PASSWORD, is_staff=True)
    for method, path, body in (
        ("patch", f"accounts/{boss.pk}", {"quota_bytes": 1}),
        ("post", f"accounts/{boss.pk}/password", {}),
        ("delete", f"accounts/{boss.pk}", None),
    ):
        r = getattr(api, method)(P + path, body, format="json")
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path)
    # Roles are the superadmin's to give.
    r = api.patch(P + f"accounts/{world.own.user.pk}", {"is_superadmin": True}, format="json")
    assert r.status_code == 403
    r = api.patch(
        P + f"accounts/{world.own.user.pk}", {"admin_domains": ["a.example"]}, format="json"
    )
    assert r.status_code == 403
    assert not Account.objects.get(pk=world.own.user.pk).is_staff
    # An admin of a.example and b.example outranks an admin of a.example only.
    peer = world.own.user
    DomainAdmin.objects.create(account=peer, domain=world.other.user.domain)
    r = api.post(P + f"accounts/{peer.pk}/password", {}, format="json")
    assert r.status_code == 403


def test_superadmin_grants_roles_and_cannot_lock_itself_out(world: World) -> None:
    api = client_for(world, "superadmin")
    url = P + f"accounts/{world.own.user.pk}"
    r = api.patch(url, {"admin_domains": ["a.example", "B.example"]}, format="json")
    assert r.status_code == 200 and r.json()["admin_domains"] == ["a.example", "b.example"]
    assert client_for(world, "user").get(P + "domains").status_code == 200  # now an admin
    r = api.patch(url, {"admin_domains": ["nowhere.example"]}, format="json")
    assert r.status_code == 400
    assert api.patch(url, {"admin_domains": []}, format="json").json()["admin_domains"] == []
    me = P + f"accounts/{world.superadmin.pk}"
    assert api.patch(me, {"is_superadmin": False}, format="json").status_code == 409
    assert api.patch(me, {"is_active": False}, format="json").status_code == 409
    assert api.delete(me).status_code == 409


def test_app_passwords_via_admin_api(world: World) -> None:
    api = client_for(world, "domain_admin")
    url = P + f"accounts/{world.own.user.pk}/app-passwords"
    r = api.post(url, {"name": "Thunderbird"}, format="json")
    assert r.status_code == 201
    secret = r.json()["password"]
    assert verify_credentials("user@a.example", secret, ip="203.0.113.9") is not None
    listed = {x["name"]: x for x in api.get(url).json()}
    assert set(listed) == {"phone", "Thunderbird"}
    assert listed["Thunderbird"]["last_used_ip"] == "203.0.113.9"
    assert listed["Thunderbird"]["last_used_at"] is not None
    assert "password" not in listed["Thunderbird"]
    assert api.post(url, {"name": "Thunderbird"}, format="json").status_code == 409
    # Another account's app password id through this account: 404, nothing revoked.
    foreign = world.other.app_password.pk
    assert api.delete(f"{url}/{foreign}").status_code == 404
    assert AppPassword.objects.filter(pk=foreign).exists()
    assert api.delete(f"{url}/{listed['Thunderbird']['id']}").status_code == 204
    assert verify_credentials("user@a.example", secret) is None


def test_web_login_does_not_take_app_passwords(world: World) -> None:
    api = client_for(world, "domain_admin")
    secret = api.post(
        P + f"accounts/{world.own.user.pk}/app-passwords", {"name": "imap"}, format="json"
    ).json()["password"]
    r = token_client(world.own.user).post(
        "/api/v1/auth/token", {"address": "user@a.example", "password": secret}, format="json"
    )
    assert r.status_code == 400


def test_account_aliases(world: World) -> None:
    api = client_for(world, "domain_admin")
    url = P + f"accounts/{world.own.user.pk}/aliases"
    assert [x["source"] for x in api.get(url).json()["items"]] == ["@a.example", "root@a.example"]
    r = api.post(url, {"source": "Sales@a.example"}, format="json")
    assert r.status_code == 201 and r.json()["targets"] == ["user@a.example"]
    assert api.post(url, {"source": "sales@b.example"}, format="json").status_code == 404
    assert api.post(url, {"source": "user@a.example"}, format="json").status_code == 409
    sources = [x["source"] for x in api.get(url).json()["items"]]
    assert sources == ["@a.example", "root@a.example", "sales@a.example"]


def test_remove_account_keeps_maildir(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    api = client_for(world, "domain_admin")
    path = settings.MAIL_ROOT / world.own.user.storage_path
    assert path.exists()
    assert api.delete(P + f"accounts/{world.own.user.pk}").status_code == 204
    assert not Account.objects.filter(pk=world.own.user.pk).exists()
    assert path.exists()
    assert api.get(P + f"accounts/{world.own.user.pk}").status_code == 404
