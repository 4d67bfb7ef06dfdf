"""로그인 기록 (issue 16 item 2): every door records each attempt — the web session and API
token logins here, SMTP AUTH with smtplib; IMAP and POP3 in their own test directories — and
the owner and the admins read it back, scoped."""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from mailcore.directory.actions import do_create_app_password, do_purge_login_history
from mailcore.directory.models import Account, LoginRecord
from tests.api.helpers import token_client

PASSWORD = "correct horse 1"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36"


def rows(account: Account | None = None) -> list[tuple[str, str, str, str]]:
    qs = LoginRecord.objects.order_by("id")
    if account is not None:
        qs = qs.filter(account=account)
    return [(r.door, r.result, r.method, r.client) for r in qs]


@pytest.mark.django_db
def test_web_and_api_logins_are_recorded_with_the_user_agent(alice: Account, bob: Account) -> None:
    web = APIClient(enforce_csrf_checks=True)
    csrf = web.get("/api/v1/auth/session").cookies[settings.CSRF_COOKIE_NAME].value
    body = {"address": "alice@example.com", "password": PASSWORD}
    r = web.post(
        "/api/v1/auth/session", body, format="json", HTTP_X_CSRFTOKEN=csrf, HTTP_USER_AGENT=UA
    )
    assert r.status_code == 200
    wrong = {"address": "alice@example.com", "password": "not it"}
    assert APIClient().post("/api/v1/auth/token", wrong, format="json").status_code == 400
    nobody = {"address": "ghost@example.com", "password": PASSWORD}
    assert APIClient().post("/api/v1/auth/token", nobody, format="json").status_code == 400
    assert APIClient().post("/api/v1/auth/token", body, format="json").status_code == 200

    assert rows(alice) == [
        ("web", "ok", "password", UA),
        ("api", "failed", "", ""),
        ("api", "ok", "password", ""),
    ]
    ghost = LoginRecord.objects.get(account=None)
    assert (ghost.address, ghost.result, ghost.ip) == ("ghost@example.com", "failed", "127.0.0.1")

    # The owner reads their own, newest first, paged; never another account's.
    api = token_client(alice)
    page = api.get("/api/v1/settings/login-history", {"limit": 2}).json()
    assert [(i["door"], i["result"]) for i in page["items"]] == [("api", "ok"), ("api", "failed")]
    rest = api.get("/api/v1/settings/login-history", {"cursor": page["next_cursor"]}).json()
    assert [(i["door"], i["client"]) for i in rest["items"]] == [("web", UA)]
    assert rest["next_cursor"] is None
    assert token_client(bob).get("/api/v1/settings/login-history").json()["items"] == []


@pytest.mark.django_db
def test_blocked_attempts_and_hostile_input_are_recorded_safely(settings, alice: Account) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = 2
    for n in range(3):
        guess = {"address": "alice@example.com", "password": f"guess {n}"}
        APIClient().post("/api/v1/auth/token", guess, format="json")
    assert [r[1] for r in rows(alice)] == ["failed", "failed", "blocked"]
    evil = {"address": "ghost@example.com", "password": "p"}
    APIClient().post(
        "/api/v1/auth/token", evil, format="json", HTTP_USER_AGENT="a\x00b\r\nc" + "z" * 500
    )
    last = LoginRecord.objects.order_by("-id").first()
    assert last is not None and last.client.startswith("abc") and len(last.client) == 200


@pytest.mark.django_db(transaction=True)
def test_smtp_auth_is_recorded_with_the_ehlo_name_and_app_password(
    alice: Account, smtp_factory
) -> None:  # type: ignore[no-untyped-def]
    _, secret = do_create_app_password(alice, "Outlook")
    host, port = smtp_factory("submission")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # self-signed test certificate
    with smtplib.SMTP(host, port, local_hostname="laptop.example", timeout=10) as c:
        c.starttls(context=ctx)
        c.ehlo("laptop.example")
        assert c.login("alice@example.com", secret)[0] == 235
    assert rows(alice) == [("smtp", "ok", "app_password", "laptop.example")]


@pytest.mark.django_db
def test_admins_read_their_scope_and_old_rows_are_purged(make_account, alice: Account) -> None:  # type: ignore[no-untyped-def]
    from mailcore.directory.actions import do_create_domain, do_set_admin_domains

    do_create_domain("other.example")
    carol = make_account("carol@other.example")
    root = make_account("root@example.com", is_staff=True)
    boss = make_account("boss@other.example")
    do_set_admin_domains(boss, ["other.example"])
    for who in ("alice@example.com", "carol@other.example", "ghost@other.example"):
        APIClient().post("/api/v1/auth/token", {"address": who, "password": "x"}, format="json")

    seen = token_client(root).get("/api/v1/admin/login-history").json()["items"]
    assert {i["address"] for i in seen} >= {"alice@example.com", "carol@other.example"}
    scoped = token_client(boss).get("/api/v1/admin/login-history", {"result": "failed"}).json()
    assert sorted(i["address"] for i in scoped["items"]) == [
        "carol@other.example",
        "ghost@other.example",
    ]
    assert token_client(alice).get("/api/v1/admin/login-history").status_code == 403
    assert carol.pk

    LoginRecord.objects.filter(address="alice@example.com").update(
        at=timezone.now() - timedelta(days=settings.LOGIN_HISTORY_DAYS + 1)
    )
    assert do_purge_login_history() == 1
    assert not LoginRecord.objects.filter(address="alice@example.com").exists()
    assert do_purge_login_history(0) == 0  # 0 keeps everything
