"""The domain's mail policies in the admin console (issues 13 and 14): recall (발송취소) and
forwarding outside the domain (자동전달). null means the server default; a change reaches the
domain's users at once (recall is off for them, and forwarding outside is refused); a domain
admin sets only their own domains; every change is audited."""

from __future__ import annotations

from typing import Any

import pytest

from mailcore.directory.models import AuditLog
from mailcore.outbox.actions import recall_enabled
from tests.admin.conftest import World, client_for
from tests.api.helpers import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/admin/domains/{}/policy"


def test_defaults_are_the_servers(world: World, settings: Any) -> None:
    settings.RULES_FORWARD_OUTSIDE = False
    got = client_for(world, "superadmin").get(URL.format("a.example"))
    assert got.status_code == 200
    assert got.json() == {
        "recall_enabled": None,
        "recall_default": True,
        "forward_outside": None,
        "forward_outside_default": False,
    }


def test_domain_admin_turns_recall_and_forwarding_off_for_their_users(world: World) -> None:
    admin = client_for(world, "domain_admin")
    user = token_client(world.own.user)
    assert recall_enabled(world.own.user) is True
    changed = admin.patch(
        URL.format("a.example"), {"recall_enabled": False, "forward_outside": False}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["recall_enabled"] is False and changed.json()["forward_outside"] is False
    assert recall_enabled(world.own.user) is False
    refused = user.put(
        "/api/v1/settings/forwarding",
        {"enabled": True, "address": "me@elsewhere.test", "keep_copy": True},
        format="json",
    )
    assert refused.status_code in (400, 409), refused.json()
    inside = user.put(
        "/api/v1/settings/forwarding",
        {"enabled": True, "address": "admin@a.example", "keep_copy": True},
        format="json",
    )
    assert inside.status_code == 200, inside.json()
    event = AuditLog.objects.filter(action="domain.policy").latest("pk")
    assert (event.actor, event.target, event.domain) == (
        "admin@a.example",
        "a.example",
        "a.example",
    )
    # null: back to the server default.
    back = admin.patch(URL.format("a.example"), {"recall_enabled": None}, format="json").json()
    assert back["recall_enabled"] is None and back["forward_outside"] is False
    assert recall_enabled(world.own.user) is True


def test_other_domains_are_404_and_users_403(world: World) -> None:
    admin = client_for(world, "domain_admin")
    assert admin.get(URL.format("b.example")).status_code == 404
    assert (
        admin.patch(URL.format("b.example"), {"recall_enabled": False}, format="json").status_code
        == 404
    )
    assert client_for(world, "user").get(URL.format("a.example")).status_code == 403


@pytest.mark.parametrize("body", [{}, {"recall_enabled": "maybe"}, {"forward_outside": 3}])
def test_bad_input_is_400_and_changes_nothing(world: World, body: dict[str, Any]) -> None:
    admin = client_for(world, "superadmin")
    assert admin.patch(URL.format("a.example"), body, format="json").status_code == 400
    assert admin.get(URL.format("a.example")).json()["recall_enabled"] is None
