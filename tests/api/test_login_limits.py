"""The web and API logins share the login limiter with SMTP AUTH (issue 9 item 1), the client
address comes from the socket unless a trusted proxy vouches for X-Forwarded-For (item 2), and
a blocked login answers the same whatever the password."""

from __future__ import annotations

import base64
import smtplib
import ssl
from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from mailcore.directory.models import Account, AuthEvent
from mailcore.ratelimit import ip_key
from webmail.api.clientip import client_address

TOKEN = "/api/v1/auth/token"
SESSION = "/api/v1/auth/session"
PASSWORD_URL = "/api/v1/settings/password"
PASSWORD = "correct horse 1"  # tests/conftest.py make_account default


def login(url: str, password: str, ip: str = "127.0.0.1", **extra: Any) -> Any:
    client = APIClient()
    return client.post(
        url,
        {"address": "alice@example.com", "password": password},
        format="json",
        REMOTE_ADDR=ip,
        **extra,
    )


def session_login(password: str, ip: str = "127.0.0.1") -> Any:
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get(SESSION, REMOTE_ADDR=ip).cookies[django_settings.CSRF_COOKIE_NAME].value
    return client.post(
        SESSION,
        {"address": "alice@example.com", "password": password},
        format="json",
        REMOTE_ADDR=ip,
        HTTP_X_CSRFTOKEN=csrf,
    )


def assert_blocked(response: Any) -> None:
    assert response.status_code == 429
    assert response.json() == {
        "error": "too_many_failures",
        "detail": "Too many failed sign-ins; try again later.",
    }
    assert 1 <= int(response.headers["Retry-After"]) <= django_settings.AUTH_FAILURE_WINDOW_SECONDS


@pytest.fixture(autouse=True)
def _fast_limiter(settings: Any) -> None:
    settings.AUTH_FAILURE_DELAY_SECONDS = 0  # SMTP's stall; the web never sleeps


# --- one limiter for every way in --------------------------------------------------------------


def _smtp(addr: tuple[str, int]) -> smtplib.SMTP:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    client = smtplib.SMTP(*addr, timeout=10, source_address=("127.0.0.1", 0))
    client.ehlo("client.example")
    client.starttls(context=ctx)
    client.ehlo("client.example")
    return client


def _plain(password: str) -> str:
    return "PLAIN " + base64.b64encode(f"\0alice@example.com\0{password}".encode()).decode()


@pytest.mark.django_db(transaction=True)
def test_smtp_auth_failures_block_the_token_and_session_login(
    alice: Account, smtp_factory: Any, settings: Any
) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 3
    addr = smtp_factory("submission")
    for n in range(3):  # a new connection each time: the session closes after a few failures
        with _smtp(addr) as c:
            assert c.docmd("AUTH", _plain(f"guess {n}"))[0] == 535
    right, wrong = login(TOKEN, PASSWORD), login(TOKEN, "guess 99")
    assert_blocked(right)
    assert_blocked(wrong)
    assert right.json() == wrong.json()  # nothing tells the right password from a wrong one
    assert_blocked(session_login(PASSWORD))
    # The password was not checked, so it was not counted either.
    assert AuthEvent.objects.filter(kind=AuthEvent.FAILURE).count() == 3
    # Another client is not affected.
    assert login(TOKEN, PASSWORD, ip="127.0.0.9").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_api_failures_block_smtp_auth(alice: Account, smtp_factory: Any, settings: Any) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 3
    addr = smtp_factory("submission")
    assert login(TOKEN, "guess 1").status_code == 400
    assert session_login("guess 2").status_code == 400
    assert login(TOKEN, "guess 3").json()["error"] == "invalid_credentials"
    with _smtp(addr) as c:
        code, text = c.docmd("AUTH", _plain(PASSWORD))
        assert (code, text[:5]) == (454, b"4.7.0")


def test_150_distinct_passwords_for_one_account_are_not_all_checked(alice: Account) -> None:
    # Alice's own browser signed in before the attack: it stays trusted (mailcore.ratelimit).
    assert login(TOKEN, PASSWORD, ip="192.0.2.1").status_code == 200
    answers = [
        login(TOKEN, f"dictionary word {n}", ip=f"10.9.{n // 200}.{n % 200 + 1}")
        for n in range(150)
    ]
    codes = [r.status_code for r in answers]
    limit = django_settings.AUTH_MAX_FAILURES_PER_ACCOUNT
    assert codes == [400] * limit + [429] * (150 - limit)
    assert_blocked(answers[-1])
    assert AuthEvent.objects.filter(kind=AuthEvent.FAILURE).count() == limit
    assert_blocked(login(TOKEN, PASSWORD, ip="10.9.9.9"))  # right password, new IP: blocked
    assert_blocked(session_login(PASSWORD, ip="10.9.9.10"))
    assert login(TOKEN, PASSWORD, ip="192.0.2.1").status_code == 200


def test_session_and_token_failures_count_together(alice: Account, settings: Any) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 4
    for n in range(2):
        assert login(TOKEN, f"token guess {n}").status_code == 400
        assert session_login(f"session guess {n}").status_code == 400
    assert_blocked(session_login(PASSWORD))
    assert_blocked(login(TOKEN, PASSWORD))


def test_the_web_login_refuses_app_passwords_without_counting_them_as_right(
    alice: Account,
) -> None:
    from mailcore.directory.actions import do_create_app_password

    _, secret = do_create_app_password(alice, "phone")
    response = login(TOKEN, secret)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_credentials"


def test_wrong_current_password_counts_against_the_limiter(
    alice: Account, alice_api: APIClient, settings: Any
) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = 2
    body = {"current_password": "nope", "new_password": "a much newer password"}
    for n in range(2):
        body["current_password"] = f"nope {n}"
        response = alice_api.post(PASSWORD_URL, body, format="json", REMOTE_ADDR="127.0.0.1")
        assert response.json()["fields"] == {"current_password": ["Wrong password."]}
    body["current_password"] = PASSWORD
    assert_blocked(alice_api.post(PASSWORD_URL, body, format="json", REMOTE_ADDR="127.0.0.1"))
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# --- the client address: X-Forwarded-For only from trusted proxies ----------------------------


def test_rotating_x_forwarded_for_buys_no_fresh_limiter_budget(alice: Account) -> None:
    limit = django_settings.AUTH_MAX_FAILURES_PER_IP
    codes = [
        login(
            TOKEN, f"guess {n}", ip="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        ).status_code
        for n in range(limit + 2)
    ]
    assert codes == [400] * limit + [429, 429]
    assert set(AuthEvent.objects.values_list("ip", flat=True)) == {"203.0.113.5"}


def test_rotating_x_forwarded_for_buys_no_fresh_throttle_budget(
    alice: Account, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "5/min"},
    }
    answers = [
        login(TOKEN, "same guess", ip="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        for n in range(6)
    ]
    assert [r.status_code for r in answers] == [400] * 5 + [429]
    assert answers[-1].json()["error"] == "throttled"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_a_trusted_proxy_names_the_client(alice: Account, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8:ffff::/48"]
    settings.AUTH_MAX_FAILURES_PER_IP = 2
    # What the client wrote itself (left of the proxy's entry) is ignored.
    for n in range(2):
        forwarded = f"127.0.0.{n + 1}, 198.51.100.7"
        response = login(TOKEN, f"guess {n}", ip="10.1.2.3", HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 400
    assert set(AuthEvent.objects.values_list("ip", flat=True)) == {"198.51.100.7"}
    assert_blocked(login(TOKEN, PASSWORD, ip="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.7"))
    # Another client behind the same proxy, and the proxy itself, are not blocked.
    other = login(TOKEN, PASSWORD, ip="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxies configured for these (see `trusted` below): only the peer counts.
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1", "198.51.100.1"),  # left of it: client-written
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # two trusted hops
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", "10.0.0.4"),  # all trusted: the left-most
        ("10.0.0.2", "garbage, 10.0.0.3", "10.0.0.3"),  # garbage stops the walk
        ("10.0.0.2", "198.51.100.1:4711", "198.51.100.1"),
        ("10.0.0.2", "[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:10.0.0.2", "2001:db8::1", "2001:db8::1"),  # v4-mapped peer is still trusted
        ("2001:db8:ffff::9", "198.51.100.1", "198.51.100.1"),
        ("2001:db8:fffe::9", "198.51.100.1", "2001:db8:fffe::9"),  # outside the /48
        ("::ffff:203.0.113.5", "198.51.100.1", "203.0.113.5"),
        ("", "198.51.100.1", ""),  # a Unix socket peer, `unix:` not listed
    ],
)
def test_client_address(peer: str, forwarded: str | None, expected: str) -> None:
    trusted = ["10.0.0.0/8", "2001:db8:ffff::/48"]
    if peer == "203.0.113.5":
        trusted = []
    assert client_address(peer, forwarded, trusted) == expected


def test_a_proxy_on_a_unix_socket_is_trusted_only_when_listed() -> None:
    assert client_address("", "1.1.1.1, 198.51.100.1", ["unix:"]) == "198.51.100.1"
    assert client_address("", "198.51.100.1", ["127.0.0.1"]) == ""
    assert client_address("", None, ["unix:"]) == ""


def test_a_long_forwarded_chain_is_bounded() -> None:
    chain = ", ".join(["10.0.0.1"] * 10_000)
    assert client_address("10.0.0.2", chain, ["10.0.0.0/8"]) == "10.0.0.1"


def test_ipv6_clients_share_a_budget_per_64() -> None:
    assert ip_key("2001:db8:1:2::1") == ip_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
