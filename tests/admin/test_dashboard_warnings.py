"""The console dashboard warns while postmaster@ or abuse@ of a domain has nowhere to go
(issue 9, item 13), each admin for the domains they administer."""

from __future__ import annotations

import pytest

from mailcore.directory.actions import do_remove_alias
from mailcore.directory.models import Account
from tests.admin.conftest import World, client_for

P = "/api/v1/admin/"
pytestmark = pytest.mark.django_db


def warnings(world: World, role: str) -> list[dict[str, str]]:
    response = client_for(world, role).get(P + "dashboard?days=1")
    assert response.status_code == 200
    return response.json()["warnings"]  # type: ignore[no-any-return]


def test_dashboard_warns_about_unrouted_role_addresses(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMASTER_ADDRESS = ""
    # a.example and b.example have catch-alls; postmaster@ goes to the superadmin account.
    assert warnings(world, "superadmin") == [
        {
            "code": "abuse_unrouted",
            "address": "abuse@ops.example",
            "domain": "ops.example",
            "detail": "abuse@ops.example has nowhere to go (mail to it is refused): create an "
            "account or `alias add abuse@ops.example <admin address>`",
        }
    ]
    assert warnings(world, "domain_admin") == []
    do_remove_alias("@a.example")
    assert [w["address"] for w in warnings(world, "domain_admin")] == ["abuse@a.example"]
    # Without an admin account (and no POSTMASTER_ADDRESS) postmaster@ reaches nobody.
    Account.objects.filter(is_staff=True).update(is_staff=False)
    got = {(w["code"], w["address"]) for w in warnings(world, "domain_admin")}
    assert got == {
        ("abuse_unrouted", "abuse@a.example"),
        ("postmaster_unrouted", "postmaster@a.example"),
    }
    assert client_for(world, "user").get(P + "dashboard").status_code == 403
