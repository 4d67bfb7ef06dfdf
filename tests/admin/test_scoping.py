"""What a domain admin sees in the server-wide lists (domains, accounts, aliases, queue, log,
dashboard, audit log): only its domains. The session says who is an admin."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mailcore.delivery.actions import do_enqueue
from mailcore.directory.actions import do_record_audit
from tests.admin.conftest import PASSWORD, World, client_for

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def test_domain_admin_lists_only_its_domain(world: World) -> None:
    api = client_for(world, "domain_admin")
    assert [x["name"] for x in api.get(P + "domains").json()["items"]] == ["a.example"]
    accounts = [x["address"] for x in api.get(P + "accounts").json()["items"]]
    assert accounts == ["admin@a.example", "user@a.example"]
    sources = [x["source"] for x in api.get(P + "aliases").json()["items"]]
    assert sources == ["@a.example", "root@a.example"]
    queue = [x["queue_id"] for x in api.get(P + "queue").json()["items"]]
    assert queue == [world.own.entry.queue_id]
    log = [x["queue_id"] for x in api.get(P + "delivery-log").json()["items"]]
    assert log == [world.own.entry.queue_id]
    dash = api.get(P + "dashboard").json()
    assert [x["name"] for x in dash["domains"]] == ["a.example"]
    assert {x["address"] for x in dash["top_accounts"]} == {"admin@a.example", "user@a.example"}
    assert dash["queue"] == {"queued": 1, "held": 0, "deferred_recipients": 0, "paused": 0}


def test_superadmin_sees_everything(world: World) -> None:
    api = client_for(world, "superadmin")
    names = [x["name"] for x in api.get(P + "domains").json()["items"]]
    assert names == ["a.example", "b.example", "ops.example"]
    assert len(api.get(P + "queue").json()["items"]) == 2
    assert api.get(P + "dashboard").json()["queue"]["queued"] == 2


def test_shared_entry_shows_only_own_recipients_and_cannot_be_deleted(world: World) -> None:
    entry = do_enqueue(
        sender="x@remote.test",
        recipients=["user@a.example", "user@b.example"],
        data=b"Subject: both\r\n\r\nhi\r\n",
    )
    api = client_for(world, "domain_admin")
    got = api.get(P + f"queue/{entry.queue_id}").json()
    assert [r["address"] for r in got["recipients"]] == ["user@a.example"]
    r = api.delete(P + f"queue/{entry.queue_id}")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert api.post(P + f"queue/{entry.queue_id}/bounce").status_code == 403
    sup = client_for(world, "superadmin").get(P + f"queue/{entry.queue_id}").json()
    assert len(sup["recipients"]) == 2


def test_audit_log_is_scoped(world: World) -> None:
    do_record_audit(
        actor="root@ops.example", action="domain.create", target="b.example", domain="b.example"
    )
    do_record_audit(
        actor="root@ops.example", action="alias.create", target="x@a.example", domain="a.example"
    )
    do_record_audit(actor="root@ops.example", action="relay_rule.set", target="10.0.0.0/24")
    mine = client_for(world, "domain_admin").get(P + "audit-log").json()["items"]
    assert [x["target"] for x in mine] == ["x@a.example"]
    every = client_for(world, "superadmin").get(P + "audit-log?action=domain").json()["items"]
    assert [x["target"] for x in every] == ["b.example"]


def test_session_reports_roles(world: World) -> None:
    for account, superadmin, domains in (
        (world.superadmin, True, []),
        (world.domain_admin, False, ["a.example"]),
        (world.own.user, False, []),
    ):
        c = APIClient(enforce_csrf_checks=True)
        c.get("/api/v1/auth/session")
        csrf = c.cookies["csrftoken"].value
        r = c.post(
            "/api/v1/auth/session",
            {"address": account.address, "password": PASSWORD},
            format="json",
            HTTP_X_CSRFTOKEN=csrf,
        )
        assert r.status_code == 200, r.content
        me = c.get("/api/v1/auth/session").json()
        assert me["is_superadmin"] is superadmin and me["admin_domains"] == domains


def test_session_writes_need_csrf(world: World) -> None:
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(world.superadmin)
    r = c.post(P + "domains", {"name": "csrf.example"}, format="json")
    assert r.status_code == 403
    c.get("/api/v1/auth/session")
    r = c.post(
        P + "domains",
        {"name": "csrf.example"},
        format="json",
        HTTP_X_CSRFTOKEN=c.cookies["csrftoken"].value,
    )
    assert r.status_code == 201


def test_disabled_domain_admin_rights_end(world: World) -> None:
    sup = client_for(world, "superadmin")
    assert (
        sup.patch(P + "domains/a.example", {"is_active": False}, format="json").status_code == 200
    )
    # Admin of a disabled domain only: no admin rights left.
    assert client_for(world, "domain_admin").get(P + "domains").status_code == 403


def test_pagination_and_bad_cursor(world: World) -> None:
    api = client_for(world, "superadmin")
    seen, cursor = [], ""
    while True:
        page = api.get(P + f"accounts?limit=2&cursor={cursor}").json()
        seen += [x["address"] for x in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == sorted(seen) and len(seen) == 4
    r = api.get(P + "accounts?cursor=bm9wZQ")
    assert r.status_code == 400 and r.json()["error"] == "invalid_cursor"
    assert api.get(P + "accounts?limit=0").status_code == 400
    assert api.get(P + "accounts?limit=500").status_code == 400


def test_list_queries_do_not_grow_with_the_page(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailcore.directory.actions import do_create_account

    api = client_for(world, "superadmin")

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(P + path).status_code == 200
        return len(ctx.captured_queries)

    paths = ("accounts", "domains", "aliases", "delivery-log", "audit-log")
    before = {p: count(p) for p in paths}
    for i in range(5):
        do_create_account(f"more{i}@a.example", password="long enough 1")
        do_enqueue(sender="x@remote.test", recipients=[f"more{i}@a.example"], data=b"x\r\n")
        do_record_audit(actor="root@ops.example", action="test", target=str(i))
        client_for(world, "superadmin").post(
            P + "aliases",
            {"source": f"al{i}@a.example", "targets": ["x@remote.test"]},
            format="json",
        )
    assert {p: count(p) for p in paths} == before
