"""Account endpoints: settings (lazy preferences, validation, nothing half-applied), password
change and sign out everywhere (sessions and tokens really end), trusted image senders and app
passwords (another user's ids are 404), CSRF on every session write."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mailcore.auth import verify_credentials
from mailcore.directory.actions import do_add_alias
from mailcore.directory.models import Account, AppPassword
from tests.api.helpers import token_client
from webmail.accounts.models import Preferences, SessionRecord, TrustedImageSender

PASSWORD = "correct horse 1"  # tests/conftest.py make_account default
NEW_PASSWORD = "battery staple 2"
SESSION = "/api/v1/auth/session"
SETTINGS = "/api/v1/settings"
PASSWORD_URL = "/api/v1/settings/password"
LOGOUT_ALL = "/api/v1/auth/logout-everywhere"
SENDERS = "/api/v1/image-senders"
APP_PASSWORDS = "/api/v1/app-passwords"
NOT_FOUND = {"error": "not_found", "detail": "Not found."}

DEFAULTS = {
    "display_name": "",
    "signature_html": "",
    "signature_text": "",
    "language": "",
    "page_size": 50,
    "remote_images": "ask",
    "list_density": "compact",
    "reading_mode": "split",
    "group_by_conversation": False,
    "contacts_auto_add": True,
    "time_zone": "",
    "address": "alice@example.com",
    "aliases": [],
}


def _browser(account: Account, password: str = PASSWORD) -> tuple[APIClient, str]:
    """A browser signed in through the real session endpoint, with its CSRF token."""
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get(SESSION).cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        SESSION,
        {"address": account.address, "password": password},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200
    return client, response.cookies[settings.CSRF_COOKIE_NAME].value


def _signed_in(client: APIClient) -> bool:
    return client.get(SESSION).status_code == 200


# --- settings ---------------------------------------------------------------------------------


def test_defaults_without_creating_a_row(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.get(SETTINGS)
    assert response.status_code == 200
    assert response.json() == DEFAULTS
    assert not Preferences.objects.exists()  # created lazily, on the first change


def test_settings_list_the_aliases_one_may_send_from(alice: Account, alice_api: APIClient) -> None:
    do_add_alias("sales@example.com", ["alice@example.com"])
    do_add_alias("info@example.com", ["someone@elsewhere.test"])
    assert alice_api.get(SETTINGS).json()["aliases"] == ["sales@example.com"]


def test_patch_any_subset_and_it_persists(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.patch(
        SETTINGS,
        {
            "display_name": "  Alice Kim ",
            "language": "ko",
            "page_size": 100,
            "list_density": "comfortable",
            "reading_mode": "list",
        },
        format="json",
    )
    assert response.status_code == 200
    expected = {**DEFAULTS, "display_name": "Alice Kim", "language": "ko", "page_size": 100}
    expected |= {"list_density": "comfortable", "reading_mode": "list"}
    assert response.json() == expected
    assert alice_api.get(SETTINGS).json() == expected
    alice.refresh_from_db()
    assert alice.display_name == "Alice Kim"

    second = alice_api.patch(
        SETTINGS, {"remote_images": "never", "signature_text": "-- \nAlice"}, format="json"
    )
    assert second.json() == {**expected, "remote_images": "never", "signature_text": "-- \nAlice"}
    assert alice_api.patch(SETTINGS, {"language": ""}, format="json").json()["language"] == ""
    assert Preferences.objects.count() == 1


def test_time_zone_is_an_iana_name_or_the_browsers(alice: Account, alice_api: APIClient) -> None:
    assert (
        alice_api.patch(SETTINGS, {"time_zone": "Asia/Seoul"}, format="json").json()["time_zone"]
        == "Asia/Seoul"
    )
    for bad in ("Asia/Nowhere", "../../etc/passwd", "+09:00", "x" * 65):
        refused = alice_api.patch(SETTINGS, {"time_zone": bad}, format="json")
        assert refused.status_code == 400
        assert "time_zone" in refused.json()["fields"]
    assert alice_api.get(SETTINGS).json()["time_zone"] == "Asia/Seoul"
    assert alice_api.patch(SETTINGS, {"time_zone": ""}, format="json").json()["time_zone"] == ""


def test_signature_html_is_sanitized_before_it_is_stored(
    alice: Account, alice_api: APIClient
) -> None:
    response = alice_api.patch(
        SETTINGS,
        {
            "signature_html": '<p onclick="steal()">Alice<script>alert(1)</script>'
            '<img src="https://logo.example/l.png" alt="logo">'
            '<a href="javascript:alert(2)">x</a></p>'
        },
        format="json",
    )
    assert response.status_code == 200
    stored = Preferences.objects.get(account=alice).signature_html
    assert response.json()["signature_html"] == stored
    for bad in ("onclick", "<script", "alert(", "javascript:"):
        assert bad not in stored
    assert "Alice" in stored
    assert 'src="https://logo.example/l.png"' in stored  # a logo in a signature is kept


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"page_size": 30}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"remote_images": "sometimes"}, "remote_images"),
        ({"list_density": "tiny"}, "list_density"),
        ({"reading_mode": "popup"}, "reading_mode"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"signature_html": "x" * 10_001}, "signature_html"),
        ({"signature_text": "x" * 10_001}, "signature_text"),
        ({"display_name": None}, "display_name"),
        ({"address": "mallory@example.com"}, "address"),  # read only: unknown field
        ({"pagesize": 25}, "pagesize"),
    ],
)
def test_invalid_settings_are_refused_and_nothing_changes(
    alice: Account, alice_api: APIClient, body: dict[str, Any], field: str
) -> None:
    # A valid change next to the invalid one: it must not be applied either.
    valid = {"display_name": "Changed"} if "signature_text" in body else {"signature_text": "x"}
    response = alice_api.patch(SETTINGS, {**valid, **body}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["fields"]
    assert alice_api.get(SETTINGS).json() == DEFAULTS


def test_display_name_with_a_line_break_changes_nothing(
    alice: Account, alice_api: APIClient
) -> None:
    # Valid shape, refused by the directory action inside the same transaction as the rest.
    response = alice_api.patch(
        SETTINGS,
        {"display_name": "Alice\r\nBcc: everyone@example.com", "language": "en"},
        format="json",
    )
    assert response.status_code == 400
    assert "control characters" in response.json()["detail"]
    assert alice_api.get(SETTINGS).json() == DEFAULTS
    assert not Preferences.objects.exists()


def test_settings_need_a_sign_in(db: None) -> None:
    client = APIClient()
    assert client.get(SETTINGS).status_code == 401
    assert client.patch(SETTINGS, {"language": "ko"}, format="json").status_code == 401
    assert client.post(LOGOUT_ALL).status_code == 401
    assert client.get(SENDERS).status_code == 401
    assert client.get(APP_PASSWORDS).status_code == 401


def test_settings_are_per_account(alice: Account, bob: Account, bob_api: APIClient) -> None:
    token_client(alice).patch(SETTINGS, {"language": "ko"}, format="json")
    assert bob_api.get(SETTINGS).json() == {**DEFAULTS, "address": "bob@example.com"}


# --- password ---------------------------------------------------------------------------------


def test_wrong_current_password_is_a_field_error(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.post(
        PASSWORD_URL,
        {"current_password": "nope", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"current_password": ["Wrong password."]}
    assert verify_credentials(alice.address, PASSWORD) is not None


def test_new_password_goes_through_the_validators(alice: Account, alice_api: APIClient) -> None:
    response = alice_api.post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": "short"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["new_password"]
    assert "at least 8 characters" in response.json()["fields"]["new_password"][0]
    assert verify_credentials(alice.address, PASSWORD) is not None


def test_password_change_keeps_this_session_and_ends_the_others(alice: Account) -> None:
    this, csrf = _browser(alice)
    other, _ = _browser(alice)
    api = token_client(alice)
    old_key = this.cookies[settings.SESSION_COOKIE_NAME].value

    response = this.post(
        PASSWORD_URL,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 204

    assert _signed_in(this)
    assert this.get(SETTINGS).status_code == 200
    assert not _signed_in(other)
    assert api.get(SETTINGS).status_code == 401
    assert not Token.objects.filter(user=alice).exists()
    assert verify_credentials(alice.address, PASSWORD) is None
    assert verify_credentials(alice.address, NEW_PASSWORD) is not None
    # This session got a new key (no fixation) and its record followed it.
    new_key = this.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert list(SessionRecord.objects.values_list("session_key", flat=True)) == [new_key]
    # The other session is gone from the store itself, not only refused by its auth hash.
    assert list(Session.objects.values_list("session_key", flat=True)) == [new_key]
    assert not Session.objects.filter(session_key=old_key).exists()


def test_password_change_revokes_app_passwords(alice: Account, alice_api: APIClient) -> None:
    assert alice_api.post(APP_PASSWORDS, {"name": "Phone"}, format="json").status_code == 201
    alice_api.post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert not AppPassword.objects.filter(account=alice).exists()


def test_password_change_by_token_ends_that_token_too(alice: Account) -> None:
    api = token_client(alice)
    response = api.post(
        PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204
    assert api.get(SETTINGS).status_code == 401
    assert not Session.objects.exists()  # no session was made up for a token client


def test_password_guesses_are_throttled(
    alice: Account, alice_api: APIClient, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min"},
    }
    bad = {"current_password": "guess", "new_password": NEW_PASSWORD}
    codes = [alice_api.post(PASSWORD_URL, bad, format="json").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


# --- sign out everywhere ----------------------------------------------------------------------


def test_logout_everywhere_ends_every_session_and_the_token(alice: Account, bob: Account) -> None:
    one, csrf = _browser(alice)
    two, _ = _browser(alice)
    api = token_client(alice)
    bobs, _ = _browser(bob)
    bob_api = token_client(bob)

    assert one.post(LOGOUT_ALL, HTTP_X_CSRFTOKEN=csrf).status_code == 204

    assert not _signed_in(one)
    assert not _signed_in(two)
    assert api.get(SETTINGS).status_code == 401
    assert not SessionRecord.objects.filter(account=alice).exists()
    # Bob is untouched.
    assert _signed_in(bobs)
    assert bob_api.get(SETTINGS).status_code == 200
    # Signing in again works.
    again, _ = _browser(alice)
    assert _signed_in(again)


def test_logout_everywhere_by_token(alice: Account) -> None:
    browser, _ = _browser(alice)
    api = token_client(alice)
    assert api.post(LOGOUT_ALL).status_code == 204
    assert api.get(SETTINGS).status_code == 401
    assert not _signed_in(browser)


def test_sign_out_forgets_the_session_record(alice: Account) -> None:
    client, csrf = _browser(alice)
    assert SessionRecord.objects.filter(account=alice).count() == 1
    assert client.delete(SESSION, HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert not SessionRecord.objects.exists()


# --- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("patch", SETTINGS, {"language": "ko"}),
        ("post", PASSWORD_URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("post", LOGOUT_ALL, None),
        ("post", SENDERS, {"address": "news@shop.test"}),
        ("post", APP_PASSWORDS, {"name": "Phone"}),
    ],
)
def test_session_writes_need_csrf(
    alice: Account, method: str, url: str, body: dict[str, str] | None
) -> None:
    client, csrf = _browser(alice)
    refused = getattr(client, method)(url, body, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    # Nothing happened.
    assert _signed_in(client)
    assert client.get(SETTINGS).json()["language"] == ""
    assert verify_credentials(alice.address, PASSWORD) is not None
    assert not TrustedImageSender.objects.exists()
    assert not AppPassword.objects.exists()
    accepted = getattr(client, method)(url, body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code in (200, 201, 204)


# --- trusted image senders --------------------------------------------------------------------


def test_image_senders_add_list_remove(alice: Account, alice_api: APIClient) -> None:
    created = alice_api.post(SENDERS, {"address": "News@Shop.TEST"}, format="json")
    assert created.status_code == 201
    sender = created.json()
    assert sender == {"id": sender["id"], "address": "news@shop.test"}
    again = alice_api.post(SENDERS, {"address": "news@shop.test"}, format="json")
    assert again.status_code == 200 and again.json() == sender
    alice_api.post(SENDERS, {"address": "a@bücher.example"}, format="json")
    listed = alice_api.get(SENDERS).json()
    assert [s["address"] for s in listed] == ["a@xn--bcher-kva.example", "news@shop.test"]

    assert alice_api.delete(f"{SENDERS}/{sender['id']}").status_code == 204
    assert alice_api.delete(f"{SENDERS}/{sender['id']}").json() == NOT_FOUND
    assert [s["address"] for s in alice_api.get(SENDERS).json()] == ["a@xn--bcher-kva.example"]


@pytest.mark.parametrize("address", ["not an address", "", "a@", "@b.example", "x" * 400])
def test_image_sender_needs_a_valid_address(
    alice: Account, alice_api: APIClient, address: str
) -> None:
    response = alice_api.post(SENDERS, {"address": address}, format="json")
    assert response.status_code == 400
    assert not TrustedImageSender.objects.exists()


def test_image_senders_are_limited(
    alice: Account, alice_api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("webmail.accounts.actions.MAX_TRUSTED_SENDERS", 2)
    for n in range(2):
        assert (
            alice_api.post(SENDERS, {"address": f"s{n}@x.test"}, format="json").status_code == 201
        )
    refused = alice_api.post(SENDERS, {"address": "s3@x.test"}, format="json")
    assert refused.status_code == 409
    # An address already on the list is still fine.
    assert alice_api.post(SENDERS, {"address": "s0@x.test"}, format="json").status_code == 200


def test_image_senders_of_another_user_are_404(
    alice: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    sender = alice_api.post(SENDERS, {"address": "news@shop.test"}, format="json").json()
    assert bob_api.get(SENDERS).json() == []
    response = bob_api.delete(f"{SENDERS}/{sender['id']}")
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert TrustedImageSender.objects.filter(pk=sender["id"], account=alice).exists()


# --- app passwords ----------------------------------------------------------------------------


def test_app_password_create_list_revoke(alice: Account, alice_api: APIClient) -> None:
    created = alice_api.post(APP_PASSWORDS, {"name": "Thunderbird"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "created_at", "password"}
    assert body["name"] == "Thunderbird"
    assert len(body["password"].replace(" ", "")) == 16
    listed = alice_api.get(APP_PASSWORDS).json()  # the secret is never shown again
    assert listed == [
        {
            "id": body["id"],
            "name": "Thunderbird",
            "created_at": body["created_at"],
            "last_used_at": None,
            "last_used_ip": None,
        }
    ]
    # It works for a mail client's sign-in, and that use is listed.
    assert verify_credentials(alice.address, body["password"]) is not None
    assert alice_api.get(APP_PASSWORDS).json()[0]["last_used_at"] is not None
    assert alice_api.delete(f"{APP_PASSWORDS}/{body['id']}").status_code == 204
    assert alice_api.get(APP_PASSWORDS).json() == []
    assert verify_credentials(alice.address, body["password"]) is None
    assert alice_api.delete(f"{APP_PASSWORDS}/{body['id']}").json() == NOT_FOUND


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": "x" * 101}, 400),
        ({}, 400),
        ({"name": "Phone", "password": "mine"}, 400),
    ],
)
def test_app_password_input_is_checked(
    alice: Account, alice_api: APIClient, body: dict[str, str], status: int
) -> None:
    assert alice_api.post(APP_PASSWORDS, body, format="json").status_code == status
    assert not AppPassword.objects.exists()


def test_app_password_names_are_unique(alice: Account, alice_api: APIClient) -> None:
    assert alice_api.post(APP_PASSWORDS, {"name": "Phone"}, format="json").status_code == 201
    duplicate = alice_api.post(APP_PASSWORDS, {"name": "Phone"}, format="json")
    assert duplicate.status_code == 409
    assert AppPassword.objects.count() == 1


def test_app_passwords_of_another_user_are_404(
    alice: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    created = alice_api.post(APP_PASSWORDS, {"name": "Phone"}, format="json").json()
    assert bob_api.get(APP_PASSWORDS).json() == []
    response = bob_api.delete(f"{APP_PASSWORDS}/{created['id']}")
    assert response.status_code == 404 and response.json() == NOT_FOUND
    assert AppPassword.objects.filter(pk=created["id"]).exists()
