"""Fixtures of the admin API tests: two domains (a.example is administered by a domain admin,
b.example is not), one account per role, aliases, app passwords, relay rules and real queue
entries (spool file + rows) on both sides, and API clients for each role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from mailcore.delivery.actions import do_enqueue
from mailcore.delivery.models import QueueEntry
from mailcore.directory.actions import (
    do_add_relay_rule,
    do_create_account,
    do_create_app_password,
    do_create_domain,
    do_set_admin_domains,
    do_set_alias,
)
from mailcore.directory.models import Account, Alias, AppPassword, RelayRule
from tests.api.helpers import token_client
from tests.outbound.conftest import zone  # noqa: F401  (the local DNS server fixture)

PASSWORD = "correct horse 1"


@dataclass
class Side:
    """The objects of one domain."""

    domain: str
    user: Account
    alias: Alias
    app_password: AppPassword
    entry: QueueEntry


@dataclass
class World:
    superadmin: Account
    domain_admin: Account
    own: Side  # a.example: administered by domain_admin
    other: Side  # b.example: not
    rule: RelayRule

    def side(self, which: str) -> Side:
        return self.own if which == "own" else self.other


@pytest.fixture(autouse=True)
def _fresh_cache(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    cache.clear()
    settings.RELAY_DNS_TIMEOUT = 0.5  # the default nameserver (127.0.0.1:1) answers nothing
    yield
    cache.clear()


def _side(domain: str) -> Side:
    do_create_domain(domain)
    user = do_create_account(f"user@{domain}", password=PASSWORD)
    do_set_alias(f"@{domain}", [f"user@{domain}"])  # a catch-all
    alias = do_set_alias(f"root@{domain}", [f"user@{domain}", "ops@remote.test"])
    app_password, _ = do_create_app_password(user, "phone")
    entry = do_enqueue(
        sender="someone@remote.test",
        recipients=[f"user@{domain}"],
        data=f"From: someone@remote.test\r\nSubject: hi\r\n\r\nhello {domain}\r\n".encode(),
        client_ip="192.0.2.1",
    )
    return Side(domain, user, alias, app_password, entry)


@pytest.fixture
def world(db: None) -> World:
    own, other = _side("a.example"), _side("b.example")
    # The superadmin lives in a third domain, so "own/other" is only about a.example/b.example.
    do_create_domain("ops.example")
    superadmin = do_create_account("root@ops.example", password=PASSWORD, is_staff=True)
    domain_admin = do_create_account("admin@a.example", password=PASSWORD)
    do_set_admin_domains(domain_admin, ["a.example"])
    rule = do_add_relay_rule("192.0.2.0/24", "RELAY")
    return World(superadmin, domain_admin, own, other, rule)


ROLES = ("superadmin", "domain_admin", "user", "anonymous")


def client_for(world: World, role: str) -> APIClient:
    if role == "superadmin":
        return token_client(world.superadmin)
    if role == "domain_admin":
        return token_client(world.domain_admin)
    if role == "user":
        return token_client(world.own.user)
    return APIClient()
