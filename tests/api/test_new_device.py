"""New-device alerts (issue 16 item 3): a web login from a browser and network this account
has not used puts a notice into its INBOX; its "this was not me" link sets a new password and
ends every session, the API token and every app password."""

from __future__ import annotations

import email
import email.policy
import re
import urllib.parse

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from mailcore.auth import verify_credentials
from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account, AppPassword, AuditLog
from mailcore.directory.newdevice import browser_of, ip_block, not_me_token
from mailcore.store.models import Message
from tests.api.helpers import token_client

PASSWORD = "correct horse 1"
CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
NOTICE = "새로운 환경에서 로그인되었습니다 / New sign-in to your account"

pytestmark = pytest.mark.django_db


def web_login(ua: str, ip: str = "203.0.113.9", cookies: dict[str, str] | None = None) -> APIClient:
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=ip)
    for name, value in (cookies or {}).items():
        client.cookies[name] = value
    csrf = client.get("/api/v1/auth/session").cookies[settings.CSRF_COOKIE_NAME].value
    body = {"address": "alice@example.com", "password": PASSWORD}
    r = client.post(
        "/api/v1/auth/session", body, format="json", HTTP_X_CSRFTOKEN=csrf, HTTP_USER_AGENT=ua
    )
    assert r.status_code == 200, r.content
    return client


def notices(account: Account) -> list[Message]:
    return list(Message.objects.filter(folder__account=account, subject=NOTICE))


def body_of(account: Account, message: Message) -> str:
    raw = token_client(account).get(f"/api/v1/messages/{message.pk}/raw").content
    part = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_what_counts_as_the_same_browser_and_network() -> None:
    assert browser_of(CHROME_WIN) == "Chrome on Windows"
    assert browser_of(FIREFOX_LINUX) == "Firefox on Linux"
    assert browser_of("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Safari/604.1") == "Safari on iOS"
    assert ip_block("203.0.113.9") == ip_block("203.0.113.200") != ip_block("203.0.114.9")
    assert ip_block("2001:db8:1:2::5") == "2001:db8:1::/48"


def test_known_browsers_are_quiet_and_a_new_one_is_told(alice: Account) -> None:
    first = web_login(CHROME_WIN)
    assert notices(alice) == []  # the first web login has nothing to compare with
    web_login(CHROME_WIN, ip="203.0.113.77")  # same browser, same /24, no cookie: known
    assert notices(alice) == []
    # The device cookie of a browser that signed in before vouches for it anywhere.
    cookie = first.cookies["mr_device"].value
    web_login(FIREFOX_LINUX, ip="198.51.100.4", cookies={"mr_device": cookie})
    assert notices(alice) == []
    # That login is history now: the same browser from the same /24 is known without it.
    web_login(FIREFOX_LINUX, ip="198.51.100.99")
    assert notices(alice) == []
    # A browser on a network this account has not used, without the cookie: one notice.
    web_login(FIREFOX_LINUX, ip="192.0.2.50")
    (notice,) = notices(alice)
    assert notice.folder.special_use == "inbox"
    text = body_of(alice, notice)
    assert "192.0.2.50" in text and "Firefox on Linux" in text


def test_this_was_not_me_secures_the_account(alice: Account) -> None:
    web_login(CHROME_WIN)
    intruder = web_login(FIREFOX_LINUX, ip="198.51.100.4")
    do_create_app_password(alice, "intruder's Thunderbird")
    app = token_client(alice)
    (notice,) = notices(alice)
    text = body_of(alice, notice)
    match = re.search(r"http://testserver(/account/not-me\?t=\S+)", text)
    assert match, text
    link = match.group(1)

    owner = APIClient(enforce_csrf_checks=True)
    page = owner.get(link)  # what a mail scanner fetching the link gets: a form, no change
    assert page.status_code == 200 and "new_password" in page.content.decode()
    assert page["Content-Security-Policy"] and page["Referrer-Policy"] == "no-referrer"
    csrf = owner.cookies[settings.CSRF_COOKIE_NAME].value
    token = urllib.parse.unquote(link.split("t=", 1)[1])

    def post(new: str, confirm: str, expect: str = "") -> int:
        body = {"t": token, "new_password": new, "confirm": confirm, "csrfmiddlewaretoken": csrf}
        response = owner.post("/account/not-me", body)
        assert expect in response.content.decode()
        return response.status_code

    assert post("봄비 내리는 창가 7", "different", "do not match") == 400
    assert post("1q2w3e4r", "1q2w3e4r", "too common") == 400  # the password policy holds here
    assert intruder.get("/api/v1/folders").status_code == 200  # nothing changed yet
    assert post("봄비 내리는 창가 7", "봄비 내리는 창가 7") == 200

    assert intruder.get("/api/v1/folders").status_code in (401, 403)  # signed out
    assert app.get("/api/v1/folders").status_code == 401
    assert not AppPassword.objects.filter(account=alice).exists()
    assert verify_credentials("alice@example.com", PASSWORD) is None
    assert verify_credentials("alice@example.com", "봄비 내리는 창가 7") is not None
    assert AuditLog.objects.filter(action="account.not_me", actor="alice@example.com").exists()
    assert post("another one 8 here", "another one 8 here", "expired") == 400  # used up


def test_a_forged_or_foreign_link_does_nothing(alice: Account, bob: Account) -> None:
    client = APIClient()
    assert client.get("/account/not-me?t=forged").status_code == 400
    token = not_me_token(bob)
    tampered = token.replace(token[5], "A" if token[5] != "A" else "B", 1)
    assert client.get("/account/not-me", {"t": tampered}).status_code == 400
    assert client.get("/account/not-me", {"t": token}).status_code == 200
