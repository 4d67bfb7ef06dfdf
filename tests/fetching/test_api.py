"""/api/v1/settings/fetch-accounts (issue 11 §7, §9): add with the connection test first, list
with the last run's outcome, change, fetch now, delete; another user's account is a 404, the
password never comes back, a failed test says why in the `error` code and the server's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.fetching import secrets
from mailcore.fetching.actions import do_fetch
from mailcore.fetching.models import ExternalAccount
from tests.api.helpers import token_client
from tests.fetching.conftest import REMOTE_PASSWORD, msg, subjects
from tests.fetching.dovecot import Dovecot
from webmail.accounts.ratecounters import clear

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/settings/fetch-accounts"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    clear(database=False)
    yield
    clear(database=False)


def body(dovecot: Dovecot, user: str, **extra: object) -> dict[str, object]:
    return {
        "protocol": "imap",
        "host": "localhost",
        "port": dovecot.ports["imaps"],
        "security": "tls",
        "username": user,
        "password": REMOTE_PASSWORD,
        **extra,
    }


def test_add_list_run_change_delete(
    alice: Account, bob: Account, dovecot: Dovecot, remote_user: str
) -> None:
    api = token_client(alice)
    dovecot.put(remote_user, msg("via api"))
    resp = api.post(URL, body(dovecot, remote_user, keep=False), format="json")
    assert resp.status_code == 201, resp.content
    created = resp.json()
    assert "password" not in created and REMOTE_PASSWORD not in resp.content.decode()
    ext = ExternalAccount.objects.get(pk=created["id"])
    assert REMOTE_PASSWORD not in ext.password_encrypted  # encrypted at rest …
    assert secrets.decrypt(ext.password_encrypted) == REMOTE_PASSWORD  # … with the settings key
    assert created["interval_minutes"] == 10 and created["last_run_at"] is None

    resp = api.post(f"{URL}/{ext.pk}/runs")
    assert resp.status_code == 202
    do_fetch(ext.pk)  # what the queued task does (the worker is not part of this test)
    listed = api.get(URL).json()
    assert [
        (a["id"], a["last_fetched"], a["total_fetched"], a["last_error_code"]) for a in listed
    ] == [(ext.pk, 1, 1, "")]
    assert listed[0]["last_run_at"] is not None and listed[0]["running"] is False
    assert subjects(alice) == ["via api"]

    # Change the interval only: no new connection test, the password is kept.
    resp = api.patch(f"{URL}/{ext.pk}", {"interval_minutes": 30}, format="json")
    assert resp.status_code == 200 and resp.json()["interval_minutes"] == 30
    # A wrong new password is tested and refused with Dovecot's words; nothing changes.
    resp = api.patch(f"{URL}/{ext.pk}", {"password": "nope"}, format="json")
    assert resp.status_code == 400
    assert resp.json()["error"] == "fetch_login"
    assert "Authentication failed" in resp.json()["detail"]
    ext.refresh_from_db()
    assert secrets.decrypt(ext.password_encrypted) == REMOTE_PASSWORD

    # Bob sees nothing of it and can touch nothing.
    other = token_client(bob)
    assert other.get(URL).json() == []
    for call in (other.get, other.delete, other.patch):
        assert call(f"{URL}/{ext.pk}").status_code == 404
    assert other.post(f"{URL}/{ext.pk}/runs").status_code == 404

    assert api.delete(f"{URL}/{ext.pk}").status_code == 204
    assert api.get(URL).json() == []
    assert subjects(alice) == ["via api"]  # what came in stays


def test_refusals(settings, alice: Account, dovecot: Dovecot, remote_user: str) -> None:
    api = token_client(alice)
    resp = api.post(URL, body(dovecot, remote_user, password="bad"), format="json")
    assert (resp.status_code, resp.json()["error"]) == (400, "fetch_login")
    resp = api.post(URL, body(dovecot, remote_user, security="none"), format="json")
    assert (resp.status_code, resp.json()["error"]) == (400, "fetch_plaintext")
    resp = api.post(URL, body(dovecot, remote_user, extra_field=1), format="json")
    assert resp.status_code == 400
    resp = api.post(URL, body(dovecot, remote_user, folder_id=10**9), format="json")
    assert resp.status_code == 404  # not a folder of hers
    settings.FETCH_ALLOW_PRIVATE_TARGETS = False
    resp = api.post(URL, body(dovecot, remote_user), format="json")
    assert (resp.status_code, resp.json()["error"]) == (400, "fetch_private_target")
    settings.FETCH_ALLOW_PRIVATE_TARGETS = True
    settings.FETCH_MAX_ACCOUNTS = 1
    assert api.post(URL, body(dovecot, remote_user), format="json").status_code == 201
    resp = api.post(URL, body(dovecot, remote_user), format="json")
    assert resp.status_code == 409
    assert ExternalAccount.objects.count() == 1


def test_connection_attempts_are_rate_limited(
    settings, alice: Account, dovecot: Dovecot, remote_user: str
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "fetch": "2/hour",
        },
    }
    api: APIClient = token_client(alice)
    codes = [
        api.post(
            URL,
            body(dovecot, remote_user, password=f"guess{i}"),
            format="json",
        ).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]
    assert api.get(URL).status_code == 200  # reading is not limited
