"""Every admin endpoint × role (superadmin, domain admin, user, anonymous) × target (own
domain a.example, other domain b.example): superadmins may do everything, a domain admin only
its domain (the other domain's objects answer 404, superadmin-only operations 403), plain users
get 403 and anonymous callers 401. Each case runs on a fresh database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mailcore.directory.models import AuditLog
from tests.admin.conftest import ROLES, World, client_for

P = "/api/v1/admin/"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[World, str], str]
    ok: int
    # domain: scoped to a domain (other → 404 for a domain admin); super: superadmin only,
    # server-wide; domain_super: scoped and superadmin only (own → 403, other → 404);
    # global: any admin, the content is scoped (tested in test_scoping.py).
    kind: str
    body: Callable[[World, str], dict[str, Any]] | None = None
    writes: bool = False


def d(w: World, t: str) -> str:
    return w.side(t).domain


CASES = [
    Case("dashboard", "get", lambda w, t: "dashboard", 200, "global"),
    Case("domains list", "get", lambda w, t: "domains", 200, "global"),
    Case(
        "domain create",
        "post",
        lambda w, t: "domains",
        201,
        "super",
        lambda w, t: {"name": "new.example"},
        True,
    ),
    Case("domain get", "get", lambda w, t: f"domains/{d(w, t)}", 200, "domain"),
    Case(
        "domain disable",
        "patch",
        lambda w, t: f"domains/{d(w, t)}",
        200,
        "domain_super",
        lambda w, t: {"is_active": False},
        True,
    ),
    Case(
        "domain remove",
        "delete",
        lambda w, t: f"domains/{d(w, t)}?force=true",
        204,
        "domain_super",
        writes=True,
    ),
    Case(
        "catch-all set",
        "put",
        lambda w, t: f"domains/{d(w, t)}/catchall",
        200,
        "domain",
        lambda w, t: {"targets": [f"root@{d(w, t)}"]},
        True,
    ),
    Case(
        "catch-all remove",
        "delete",
        lambda w, t: f"domains/{d(w, t)}/catchall",
        204,
        "domain",
        writes=True,
    ),
    Case("dkim list", "get", lambda w, t: f"domains/{d(w, t)}/dkim", 200, "domain"),
    Case(
        "dkim generate",
        "post",
        lambda w, t: f"domains/{d(w, t)}/dkim",
        201,
        "domain",
        lambda w, t: {"algorithm": "ed25519"},
        True,
    ),
    Case("dns check", "get", lambda w, t: f"domains/{d(w, t)}/dns", 200, "domain"),
    Case("accounts list", "get", lambda w, t: f"accounts?domain={d(w, t)}", 200, "domain"),
    Case(
        "account create",
        "post",
        lambda w, t: "accounts",
        201,
        "domain",
        lambda w, t: {"address": f"new@{d(w, t)}", "password": "a fine password"},
        True,
    ),
    Case("account get", "get", lambda w, t: f"accounts/{w.side(t).user.pk}", 200, "domain"),
    Case(
        "account update",
        "patch",
        lambda w, t: f"accounts/{w.side(t).user.pk}",
        200,
        "domain",
        lambda w, t: {"quota_bytes": 1000, "display_name": "U"},
        True,
    ),
    Case(
        "account remove",
        "delete",
        lambda w, t: f"accounts/{w.side(t).user.pk}",
        204,
        "domain",
        writes=True,
    ),
    Case(
        "password reset",
        "post",
        lambda w, t: f"accounts/{w.side(t).user.pk}/password",
        200,
        "domain",
        lambda w, t: {},
        True,
    ),
    Case(
        "app passwords list",
        "get",
        lambda w, t: f"accounts/{w.side(t).user.pk}/app-passwords",
        200,
        "domain",
    ),
    Case(
        "app password create",
        "post",
        lambda w, t: f"accounts/{w.side(t).user.pk}/app-passwords",
        201,
        "domain",
        lambda w, t: {"name": "tablet"},
        True,
    ),
    Case(
        "app password revoke",
        "delete",
        lambda w, t: f"accounts/{w.side(t).user.pk}/app-passwords/{w.side(t).app_password.pk}",
        204,
        "domain",
        writes=True,
    ),
    Case(
        "account aliases",
        "get",
        lambda w, t: f"accounts/{w.side(t).user.pk}/aliases",
        200,
        "domain",
    ),
    Case(
        "account alias add",
        "post",
        lambda w, t: f"accounts/{w.side(t).user.pk}/aliases",
        201,
        "domain",
        lambda w, t: {"source": f"team@{d(w, t)}"},
        True,
    ),
    Case("aliases list", "get", lambda w, t: f"aliases?domain={d(w, t)}", 200, "domain"),
    Case(
        "alias create",
        "post",
        lambda w, t: "aliases",
        201,
        "domain",
        lambda w, t: {"source": f"sales@{d(w, t)}", "targets": ["x@remote.test"]},
        True,
    ),
    Case("alias get", "get", lambda w, t: f"aliases/{w.side(t).alias.pk}", 200, "domain"),
    Case(
        "alias update",
        "put",
        lambda w, t: f"aliases/{w.side(t).alias.pk}",
        200,
        "domain",
        lambda w, t: {"targets": [f"user@{d(w, t)}"]},
        True,
    ),
    Case(
        "alias remove",
        "delete",
        lambda w, t: f"aliases/{w.side(t).alias.pk}",
        204,
        "domain",
        writes=True,
    ),
    Case("relay rules list", "get", lambda w, t: "relay-rules", 200, "super"),
    Case(
        "relay rule add",
        "post",
        lambda w, t: "relay-rules",
        200,
        "super",
        lambda w, t: {"network": "198.51.100.7", "action": "relay"},
        True,
    ),
    Case(
        "relay rule remove",
        "delete",
        lambda w, t: f"relay-rules/{w.rule.pk}",
        204,
        "super",
        writes=True,
    ),
    Case("queue list", "get", lambda w, t: "queue", 200, "global"),
    Case("queue entry", "get", lambda w, t: f"queue/{w.side(t).entry.queue_id}", 200, "domain"),
    Case(
        "queue retry",
        "post",
        lambda w, t: f"queue/{w.side(t).entry.queue_id}/retry",
        200,
        "domain",
        writes=True,
    ),
    Case(
        "queue bounce",
        "post",
        lambda w, t: f"queue/{w.side(t).entry.queue_id}/bounce",
        200,
        "domain",
        writes=True,
    ),
    Case(
        "queue delete",
        "delete",
        lambda w, t: f"queue/{w.side(t).entry.queue_id}",
        204,
        "domain",
        writes=True,
    ),
    Case("queue flush", "post", lambda w, t: "queue/flush", 200, "super", writes=True),
    Case("delivery log", "get", lambda w, t: "delivery-log", 200, "global"),
    Case("audit log", "get", lambda w, t: "audit-log", 200, "global"),
]


def expected(case: Case, role: str, target: str) -> int:
    if role == "anonymous":
        return 401
    if role == "user":
        return 403
    if role == "superadmin":
        return case.ok
    # domain admin
    if case.kind == "super":
        return 403
    if case.kind == "global":
        return case.ok
    if target == "other":
        return 404
    return 403 if case.kind == "domain_super" else case.ok


COMBOS = [(role, target) for role in ROLES for target in ("own", "other")]
SUCCESS_GROUPS = ("superadmin/own", "superadmin/other", "domain_admin/own")


def _params() -> list[Any]:
    """Reads run every combination on one database; each successful write gets a fresh one
    (a write changes what the next caller finds); refusals share one (they change nothing)."""
    out = []
    for case in CASES:
        groups = ("refused", *SUCCESS_GROUPS) if case.writes else ("all",)
        out.extend(pytest.param(case, g, id=f"{case.name}-{g}") for g in groups)
    return out


def _combos(case: Case, group: str) -> list[tuple[str, str]]:
    if group == "all":
        return COMBOS
    if group == "refused":
        return [(r, t) for r, t in COMBOS if expected(case, r, t) >= 400]
    role, target = group.split("/")
    return [(role, target)]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "group"), _params())
def test_role_matrix(world: World, case: Case, group: str) -> None:
    for role, target in _combos(case, group):
        client = client_for(world, role)
        body = case.body(world, target) if case.body else None
        before = AuditLog.objects.count()
        kwargs: dict[str, Any] = {"format": "json"} if body is not None else {}
        response = getattr(client, case.method)(P + case.path(world, target), body, **kwargs)
        want = expected(case, role, target)
        assert response.status_code == want, (role, target, response.content)
        if want >= 400:
            assert response.json()["error"]
            assert AuditLog.objects.count() == before  # refused: nothing done, nothing logged
        elif case.writes:
            row = AuditLog.objects.order_by("-id").first()
            assert AuditLog.objects.count() == before + 1 and row is not None
            assert row.actor == client_for_actor(world, role)
            assert row.ip == "127.0.0.1"


def client_for_actor(world: World, role: str) -> str:
    return world.superadmin.address if role == "superadmin" else world.domain_admin.address
