"""Admins and 2단계 인증: a domain that requires a second factor keeps its users without one on
the enrolment page at their next web login (and refuses them an API token); an admin's reset
of a user's factors is audited and lets the password alone in again."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from mailcore.directory import twofactor as tf
from mailcore.directory.actions import do_create_account, do_set_admin_domains
from mailcore.directory.models import Account, AuditLog, Domain
from tests.twofactor.conftest import PASSWORD, Clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(domain: Domain) -> APIClient:
    boss = do_create_account("boss@example.com", password=PASSWORD)
    do_set_admin_domains(boss, ["example.com"])
    client = APIClient()
    client.force_authenticate(boss)
    return client


def browser_login(address: str = "alice@example.com") -> tuple[APIClient, Any]:
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get("/api/v1/auth/session").cookies[django_settings.CSRF_COOKIE_NAME].value
    answer = client.post(
        "/api/v1/auth/session",
        {"address": address, "password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    return client, answer


def test_domain_requirement_sends_users_to_enrolment_first(
    alice: Account, admin: APIClient, clock: Clock
) -> None:
    put = admin.put(
        "/api/v1/admin/domains/example.com/second-factor",
        {"require_second_factor": True},
        format="json",
    )
    assert put.status_code == 200
    assert AuditLog.objects.filter(action="domain.second_factor", target="example.com").exists()
    assert admin.get("/api/v1/admin/domains/example.com").json()["require_second_factor"] is True
    client, answer = browser_login()
    assert answer.status_code == 200
    assert answer.json()["second_factor_enrolment_required"] is True
    blocked = client.get("/api/v1/folders")
    assert blocked.status_code == 403
    assert blocked.json()["error"] == "second_factor_enrolment_required"
    token = APIClient().post(
        "/api/v1/auth/token", {"address": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 403
    # Enrol: the status route is open, and a confirmed app lets the browser reach mail.
    csrf = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert client.get("/api/v1/settings/two-factor").json()["enrolment_required"] is True
    started = client.post("/api/v1/settings/two-factor/totp", HTTP_X_CSRFTOKEN=csrf).json()
    confirmed = client.put(
        "/api/v1/settings/two-factor/totp",
        {"code": clock.code(started["secret"])},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert len(confirmed.json()["recovery_codes"]) == 10
    assert client.get("/api/v1/folders").status_code == 200
    # Removing the only factor is refused while the domain requires one.
    clock.now += 30
    alice.refresh_from_db()
    removed = client.delete(
        "/api/v1/settings/two-factor/totp",
        {"password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert removed.status_code == 400
    assert removed.json()["error"] == "domain_requires_second_factor"


def test_admin_reset_is_audited_and_lets_the_password_in(
    alice: Account, admin: APIClient, clock: Clock
) -> None:
    tf.do_confirm_totp(alice, clock.code(tf.do_begin_totp(alice).secret))
    assert browser_login()[1].status_code == 202
    listed = admin.get(f"/api/v1/admin/accounts/{alice.pk}").json()
    assert listed["second_factor_on"] is True
    reset = admin.delete(f"/api/v1/admin/accounts/{alice.pk}/second-factor")
    assert reset.status_code == 200
    assert reset.json() == {"totp": 1, "passkeys": 0, "recovery_codes": 10}
    row = AuditLog.objects.get(action="account.second_factor_reset")
    assert row.target == "alice@example.com" and row.actor == "boss@example.com"
    assert row.detail == {"totp": 1, "passkeys": 0, "recovery_codes": 10}
    assert browser_login()[1].status_code == 200


def test_plain_users_cannot_reset_or_require(alice: Account, bob: Account) -> None:
    client = APIClient()
    client.force_authenticate(bob)
    assert client.delete(f"/api/v1/admin/accounts/{alice.pk}/second-factor").status_code == 403
    put = client.put(
        "/api/v1/admin/domains/example.com/second-factor",
        {"require_second_factor": True},
        format="json",
    )
    assert put.status_code == 403
    assert not AuditLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cli_reset_is_audited_and_signs_out_everywhere(alice: Account, clock: Clock) -> None:
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from tests.api.helpers import token_client

    tf.do_confirm_totp(alice, clock.code(tf.do_begin_totp(alice).secret))
    token_client(alice)  # the token of whoever holds the lost phone, say
    assert Token.objects.filter(user=alice).exists()
    call_command("account", "reset-2fa", "alice@example.com")
    alice.refresh_from_db()
    assert alice.second_factor_on is False
    assert not Token.objects.filter(user=alice).exists()
    row = AuditLog.objects.get(action="account.second_factor_reset")
    assert row.actor.startswith("cli") and row.detail["totp"] == 1
