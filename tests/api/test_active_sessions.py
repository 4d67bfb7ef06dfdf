"""Sessions (issue 16 item 4): the user sees their signed-in browsers (device, IP, last use)
and the API token, and ends any one of them; every "end all" goes through one function."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from webmail.accounts import sessions
from webmail.accounts.models import SessionRecord

PASSWORD = "correct horse 1"
CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
)
SAFARI_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Safari/604.1"

pytestmark = pytest.mark.django_db


def web_login(ua: str, ip: str, address: str = "alice@example.com") -> APIClient:
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=ip, HTTP_USER_AGENT=ua)
    csrf = client.get("/api/v1/auth/session").cookies[settings.CSRF_COOKIE_NAME].value
    body = {"address": address, "password": PASSWORD}
    response = client.post("/api/v1/auth/session", body, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies[settings.CSRF_COOKIE_NAME].value)
    return client


def test_list_and_end_one_session_or_the_token(alice: Account, bob: Account) -> None:
    sessions._touched.clear()
    laptop = web_login(CHROME_WIN, "203.0.113.9")
    phone = web_login(SAFARI_IOS, "198.51.100.4")
    app = APIClient(HTTP_USER_AGENT="MailroomApp/2.1 (Android 15)", REMOTE_ADDR="192.0.2.8")
    key = app.post(
        "/api/v1/auth/token", {"address": "alice@example.com", "password": PASSWORD}, format="json"
    ).json()["token"]
    app.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert app.get("/api/v1/folders").status_code == 200

    listing = laptop.get("/api/v1/settings/sessions").json()
    by_browser = {s["browser"]: s for s in listing["sessions"]}
    assert set(by_browser) == {"Chrome on Windows", "Safari on iOS"}
    assert by_browser["Chrome on Windows"]["current"] is True
    assert by_browser["Safari on iOS"]["current"] is False
    assert by_browser["Safari on iOS"]["ip"] == "198.51.100.4"
    assert listing["token"]["ip"] == "192.0.2.8"
    assert listing["token"]["user_agent"].startswith("MailroomApp/2.1")

    # Last use follows the session (at most one write per TOUCH_SECONDS per key).
    sessions._touched.clear()
    phone.get("/api/v1/folders", REMOTE_ADDR="198.51.100.77")
    record = SessionRecord.objects.get(pk=by_browser["Safari on iOS"]["id"])
    assert record.ip == "198.51.100.4"  # the request did not write it: a thread does, later
    assert sessions.flush_pending() >= 1
    record.refresh_from_db()
    assert record.ip == "198.51.100.77" and record.last_seen_at is not None

    bob_client = web_login(CHROME_WIN, "203.0.113.10", "bob@example.com")
    assert bob_client.delete(f"/api/v1/settings/sessions/{record.pk}").status_code == 404
    assert phone.get("/api/v1/folders").status_code == 200

    assert laptop.delete(f"/api/v1/settings/sessions/{record.pk}").status_code == 204
    assert phone.get("/api/v1/folders").status_code in (401, 403)  # signed out
    assert laptop.delete("/api/v1/settings/sessions/token").status_code == 204
    assert app.get("/api/v1/folders").status_code == 401
    listing = laptop.get("/api/v1/settings/sessions").json()
    assert [s["browser"] for s in listing["sessions"]] == ["Chrome on Windows"]
    assert listing["token"] is None


def test_sign_out_everywhere_ends_sessions_and_the_token_in_one_place(alice: Account) -> None:
    laptop = web_login(CHROME_WIN, "203.0.113.9")
    phone = web_login(SAFARI_IOS, "198.51.100.4")
    assert sessions.sign_out_everywhere(alice, keep=laptop.session.session_key) == 1
    assert phone.get("/api/v1/folders").status_code in (401, 403)  # signed out
    assert laptop.get("/api/v1/folders").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_records_last_use_off_the_request(settings, alice: Account) -> None:  # type: ignore[no-untyped-def]
    phone = web_login(SAFARI_IOS, "198.51.100.4")
    key = phone.cookies[settings.SESSION_COOKIE_NAME].value
    settings.SESSION_TOUCH_BACKGROUND = True
    sessions._touched.clear()
    old_period, sessions.FLUSH_SECONDS = sessions.FLUSH_SECONDS, 0.1
    try:
        assert phone.get("/api/v1/folders", REMOTE_ADDR="198.51.100.99").status_code == 200
        deadline = time.monotonic() + 10
        while SessionRecord.objects.get(session_key=key).ip != "198.51.100.99":
            assert time.monotonic() < deadline, "the writer thread never wrote the last use"
            time.sleep(0.05)
    finally:
        sessions.stop_flusher()
        sessions.FLUSH_SECONDS = old_period
