"""Sign-in over the API: tokens (mobile) and the browser session with CSRF (security.md W10)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mailcore.directory.actions import do_add_alias, do_set_account_active
from mailcore.directory.models import Account

TOKEN = "/api/v1/auth/token"
SESSION = "/api/v1/auth/session"
FOLDERS = "/api/v1/folders"
PASSWORD = "correct horse 1"  # tests/conftest.py make_account default


def _login(client: APIClient, url: str, address: str, password: str, **kw: Any) -> Any:
    return client.post(url, {"address": address, "password": password}, format="json", **kw)


# --- token ------------------------------------------------------------------------------------


def test_token_for_right_password_and_it_authenticates(alice: Account) -> None:
    client = APIClient()
    response = _login(client, TOKEN, "alice@example.com", PASSWORD)
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=alice).key == key
    # Same key again (get_or_create): one token per account.
    assert _login(client, TOKEN, "Alice@EXAMPLE.com", PASSWORD).json() == {"token": key}

    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(FOLDERS).status_code == 200


@pytest.mark.parametrize(
    ("address", "password"),
    [
        ("alice@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not an address", PASSWORD),
        ("alice@example.com", ""),
    ],
)
def test_bad_credentials_all_look_the_same(alice: Account, address: str, password: str) -> None:
    response = _login(APIClient(), TOKEN, address, password)
    assert response.status_code == 400
    body = response.json()
    # Identical for a wrong password and an unknown user: no account enumeration.
    if password:
        assert body == {"error": "invalid_credentials", "detail": "Wrong address or password."}
    else:
        assert body["error"] == "invalid"
    assert not Token.objects.exists()


def test_inactive_account_gets_no_token_and_loses_its_token(alice: Account) -> None:
    client = APIClient()
    key = _login(client, TOKEN, "alice@example.com", PASSWORD).json()["token"]
    do_set_account_active("alice@example.com", False)

    assert _login(client, TOKEN, "alice@example.com", PASSWORD).json()["error"] == (
        "invalid_credentials"
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(FOLDERS)
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_delete_token_revokes_it(alice: Account) -> None:
    client = APIClient()
    key = _login(client, TOKEN, "alice@example.com", PASSWORD).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.delete(TOKEN).status_code == 204
    assert not Token.objects.filter(user=alice).exists()
    assert client.get(FOLDERS).status_code == 401


def test_unauthenticated_gets_401_with_token_challenge(db: None) -> None:
    response = APIClient().get(FOLDERS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


def test_unknown_body_fields_and_wrong_types_are_refused(alice: Account) -> None:
    client = APIClient()
    extra = client.post(
        TOKEN,
        {"address": "alice@example.com", "password": PASSWORD, "remember": True},
        format="json",
    )
    assert extra.status_code == 400
    assert extra.json()["fields"] == {"remember": ["Unknown field."]}
    form = client.post(TOKEN, {"address": "alice@example.com", "password": PASSWORD})
    assert form.status_code == 415  # JSON only


def test_login_is_throttled(alice: Account, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min"},
    }
    client = APIClient()
    for _ in range(3):
        assert _login(client, TOKEN, "alice@example.com", "guess").status_code == 400
    response = _login(client, TOKEN, "alice@example.com", PASSWORD)
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert "Retry-After" in response.headers


# --- browser session ------------------------------------------------------------------------------


def test_session_get_anonymous_is_403_and_sets_csrf_cookie(db: None) -> None:
    response = APIClient(enforce_csrf_checks=True).get(SESSION)
    assert response.status_code == 403
    assert response.json()["error"] == "not_authenticated"
    assert response.cookies[settings.CSRF_COOKIE_NAME].value


def test_session_login_with_csrf_rotates_session_and_reports_user(alice: Account) -> None:
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get(SESSION).cookies[settings.CSRF_COOKIE_NAME].value
    # A session id planted before sign-in (fixation) must not survive it.
    client.session["planted"] = "x"  # creates and saves a session
    planted = client.cookies[settings.SESSION_COOKIE_NAME].value

    response = _login(client, SESSION, "alice@example.com", PASSWORD, HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    assert response.json() == {
        "address": "alice@example.com",
        "display_name": "",
        "is_superadmin": False,
        "admin_domains": [],
        "addresses": ["alice@example.com"],
        "second_factor_enrolment_required": False,
    }
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != planted
    # login() rotates the CSRF token too.
    assert response.cookies[settings.CSRF_COOKIE_NAME].value != csrf

    me = client.get(SESSION)
    assert me.status_code == 200
    assert me.json()["address"] == "alice@example.com"


def test_session_lists_the_aliases_the_user_sends_as(alice: Account, bob: Account) -> None:
    """For a reply-all to leave them out: aliases that deliver to alice, not a catch-all and
    not an alias of bob's or one that only forwards elsewhere."""
    do_add_alias("sales@example.com", ["alice@example.com", "bob@example.com"])
    do_add_alias("info@example.com", ["bob@example.com"])
    do_add_alias("ex@example.com", ["alice@elsewhere.test"])
    do_add_alias("@example.com", ["alice@example.com"])
    do_add_alias("a@example.com", ["ALICE@example.com"])  # stored canonical: lower case
    client = APIClient()
    client.force_login(alice)
    assert client.get(SESSION).json()["addresses"] == [
        "alice@example.com",
        "a@example.com",
        "sales@example.com",
    ]


def test_session_login_without_csrf_is_refused(alice: Account) -> None:
    # Login CSRF (W10): DRF alone would not check CSRF for an anonymous POST.
    client = APIClient(enforce_csrf_checks=True)
    response = _login(client, SESSION, "alice@example.com", PASSWORD)
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]
    assert client.get(SESSION).status_code == 403


def test_session_login_wrong_password(alice: Account) -> None:
    response = _login(APIClient(), SESSION, "alice@example.com", "nope")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_credentials"


def _signed_in_browser(alice: Account) -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get(SESSION).cookies[settings.CSRF_COOKIE_NAME].value
    response = _login(client, SESSION, alice.address, PASSWORD, HTTP_X_CSRFTOKEN=csrf)
    return client, response.cookies[settings.CSRF_COOKIE_NAME].value


def test_session_unsafe_methods_need_csrf(alice: Account) -> None:
    client, csrf = _signed_in_browser(alice)
    assert client.get(FOLDERS).status_code == 200  # safe method: no token needed

    refused = client.post(FOLDERS, {"name": "Work"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    created = client.post(FOLDERS, {"name": "Work"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert created.status_code == 201


def test_session_logout(alice: Account) -> None:
    client, csrf = _signed_in_browser(alice)
    assert client.delete(SESSION).status_code == 403  # logout CSRF is refused too
    assert client.delete(SESSION, HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert client.get(SESSION).status_code == 403
    assert client.get(FOLDERS).status_code == 401
