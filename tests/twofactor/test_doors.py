"""With 2단계 인증 on, every door refuses the password alone and takes an app password for mail:
SMTP AUTH (smtplib), IMAP (imaplib), POP3 (poplib), and the web and API logins (which answer
with the second step instead). The refusal is counted and recorded with its reason."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.directory import twofactor as tf
from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account, AuthEvent, LoginRecord
from tests.imap.conftest import start_server as start_imap
from tests.listening import tls_context
from tests.pop3.conftest import start_server as start_pop3
from tests.twofactor.conftest import PASSWORD, Clock

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def factor_on(alice: Account, clock: Clock) -> str:
    """alice with an authenticator app and an app password; returns the app password."""
    enrolment = tf.do_begin_totp(alice)
    tf.do_confirm_totp(alice, clock.code(enrolment.secret))
    return do_create_app_password(alice, "Thunderbird")[1]


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[str, int]]]:
    imap, pop3 = start_imap(), start_pop3()
    yield {
        "imap": ("127.0.0.1", imap.ports["imap"]),
        "pop3": ("127.0.0.1", pop3.ports["pop3"]),
    }
    imap.stop()
    pop3.stop()


def smtp_login(addr: tuple[str, int], password: str) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(*addr, timeout=10) as client:
        client.starttls(context=ctx)
        client.login("alice@example.com", password)


def imap_login(addr: tuple[str, int], password: str) -> None:
    client = imaplib.IMAP4(*addr, timeout=10)
    client.starttls(ssl_context=tls_context())
    try:
        client.login("alice@example.com", password)
    finally:
        client.shutdown()


def pop3_login(addr: tuple[str, int], password: str) -> None:
    client = poplib.POP3(*addr, timeout=10)
    client.stls(context=tls_context())
    try:
        client.user("alice@example.com")
        client.pass_(password)
    finally:
        client.close()


def refusals(door: str) -> int:
    return LoginRecord.objects.filter(
        door=door, result="failed", reason="app_password_required"
    ).count()


def test_mail_doors_refuse_the_password_and_take_the_app_password(
    factor_on: str, servers: dict[str, tuple[str, int]], smtp_factory: Any
) -> None:
    smtp_addr = smtp_factory("submission")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp_login(smtp_addr, PASSWORD)
    smtp_login(smtp_addr, factor_on)
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(servers["imap"], PASSWORD)
    imap_login(servers["imap"], factor_on)
    with pytest.raises(poplib.error_proto):
        pop3_login(servers["pop3"], PASSWORD)
    pop3_login(servers["pop3"], factor_on)
    for door in ("smtp", "imap", "pop3"):
        # smtplib tries AUTH PLAIN, then LOGIN: two refusals on SMTP.
        assert refusals(door) == (2 if door == "smtp" else 1), door
        ok = LoginRecord.objects.filter(door=door, result="ok").get()
        assert ok.method == "app_password"
    # The owner sees why in 로그인 기록.
    owner = APIClient()
    owner.force_authenticate(Account.objects.get(address="alice@example.com"))
    items = owner.get("/api/v1/settings/login-history").json()["items"]
    reasons = {(i["door"], i["reason"]) for i in items if i["result"] == "failed"}
    assert reasons == {(d, "app_password_required") for d in ("smtp", "imap", "pop3")}


def test_refused_password_counts_toward_the_lockout(
    factor_on: str, smtp_factory: Any, settings: Any
) -> None:
    smtp_addr = smtp_factory("submission")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp_login(smtp_addr, PASSWORD)
    assert AuthEvent.objects.filter(kind=AuthEvent.FAILURE, account="alice@example.com").exists()


def test_web_and_api_doors_refuse_password_only_and_app_passwords(factor_on: str) -> None:
    client = APIClient()
    for url in ("/api/v1/auth/token", "/api/v1/auth/session"):
        answer = client.post(
            url, {"address": "alice@example.com", "password": PASSWORD}, format="json"
        )
        assert answer.status_code == 202, url
        assert "token" not in answer.json() and "address" not in answer.json()
        app = client.post(
            url, {"address": "alice@example.com", "password": factor_on}, format="json"
        )
        assert app.status_code == 400 and app.json()["error"] == "invalid_credentials"
    assert client.get("/api/v1/auth/session").status_code == 403
