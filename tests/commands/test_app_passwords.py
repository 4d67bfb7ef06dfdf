"""App passwords: created and revoked through mailcore.directory.actions, accepted by
verify_credentials (SMTP AUTH, IMAP, POP3) but not by the web login, last use recorded."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
import time

import pytest
from django.utils import timezone

from mailcore.auth import verify_credentials
from mailcore.directory.actions import (
    MAX_APP_PASSWORDS,
    do_create_app_password,
    do_revoke_app_password,
    do_set_account_active,
    do_set_password,
)
from mailcore.directory.models import Account, AppPassword
from mailcore.directory.queries import list_app_passwords
from mailcore.errors import ConflictError, NotFoundError, UserError

PASSWORD = "correct horse 1"


@pytest.mark.django_db
def test_create_shows_secret_once_and_stores_only_its_hash(alice: Account) -> None:
    row, secret = do_create_app_password(alice, "  Thunderbird   laptop ")
    assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", secret)
    assert row.name == "Thunderbird laptop"
    plain = secret.replace(" ", "")
    assert row.secret_hash == hashlib.sha256(plain.encode()).hexdigest()
    stored = AppPassword.objects.get(pk=row.pk)
    assert plain not in str(stored.__dict__)
    assert list(list_app_passwords(alice)) == [row]
    assert row.last_used_at is None and row.last_used_ip == ""


@pytest.mark.django_db
def test_app_password_and_account_password_both_work(alice: Account, bob: Account) -> None:
    _, secret = do_create_app_password(alice, "phone")
    plain = secret.replace(" ", "")
    assert verify_credentials("alice@example.com", secret, ip="192.0.2.7") == alice
    assert verify_credentials("ALICE@example.com", plain.upper()) == alice
    assert verify_credentials("alice@example.com", PASSWORD) == alice
    # One letter off, another account's address, or an unknown user: refused.
    wrong = ("a" if plain[0] != "a" else "b") + plain[1:]
    assert verify_credentials("alice@example.com", wrong) is None
    assert verify_credentials("bob@example.com", secret) is None
    assert verify_credentials("nobody@example.com", secret) is None
    row = AppPassword.objects.get(account=alice)
    assert row.last_used_ip in ("192.0.2.7", "")  # the second use (no ip) is within a minute
    assert row.last_used_at is not None
    assert row.last_used_at <= timezone.now()


@pytest.mark.django_db
def test_last_use_records_time_and_address(alice: Account) -> None:
    row, secret = do_create_app_password(alice, "phone")
    assert verify_credentials("alice@example.com", secret, ip="198.51.100.4") == alice
    row.refresh_from_db()
    assert row.last_used_ip == "198.51.100.4"
    first = row.last_used_at
    assert first is not None
    assert verify_credentials("alice@example.com", secret, ip="2001:db8::1") == alice
    row.refresh_from_db()
    assert row.last_used_ip == "2001:db8::1" and row.last_used_at >= first


@pytest.mark.django_db
def test_web_login_refuses_app_passwords(alice: Account) -> None:
    _, secret = do_create_app_password(alice, "phone")
    assert verify_credentials("alice@example.com", secret, allow_app_password=False) is None
    assert verify_credentials("alice@example.com", PASSWORD, allow_app_password=False) == alice


@pytest.mark.django_db
def test_revoke_and_other_accounts_ids(alice: Account, bob: Account) -> None:
    row, secret = do_create_app_password(alice, "phone")
    with pytest.raises(NotFoundError):
        do_revoke_app_password(bob, row.pk)
    assert verify_credentials("alice@example.com", secret) == alice
    do_revoke_app_password(alice, row.pk)
    assert verify_credentials("alice@example.com", secret) is None
    with pytest.raises(NotFoundError):
        do_revoke_app_password(alice, row.pk)


@pytest.mark.django_db
def test_disabled_account_and_password_reset(alice: Account) -> None:
    _, secret = do_create_app_password(alice, "phone")
    do_set_account_active("alice@example.com", False)
    assert verify_credentials("alice@example.com", secret) is None
    do_set_account_active("alice@example.com", True)
    assert verify_credentials("alice@example.com", secret) == alice
    # A password reset revokes every app password (as Google does).
    do_set_password("alice@example.com", "a new password 2")
    assert verify_credentials("alice@example.com", secret) is None
    assert not AppPassword.objects.filter(account=alice).exists()


@pytest.mark.django_db
def test_names_are_checked_and_counted(alice: Account, bob: Account) -> None:
    do_create_app_password(alice, "phone")
    with pytest.raises(ConflictError):
        do_create_app_password(alice, "phone")
    do_create_app_password(bob, "phone")  # names are per account
    for bad in ("", "   ", "x" * 101, "bell\x07", "nul\x00", "del\x7f"):
        with pytest.raises(UserError):
            do_create_app_password(alice, bad)
    for i in range(MAX_APP_PASSWORDS - 1):
        do_create_app_password(alice, f"client {i}")
    with pytest.raises(ConflictError, match="at most"):
        do_create_app_password(alice, "one too many")


@pytest.mark.django_db
def test_unknown_user_costs_what_a_wrong_password_costs(settings, alice: Account) -> None:
    # Real hashing cost (the test settings use MD5 to be fast), so the difference would show.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    do_set_password("alice@example.com", PASSWORD)
    probe = "abcd efgh ijkl mnop"

    def cost(address: str) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            assert verify_credentials(address, probe) is None
            best = min(best, time.perf_counter() - start)
        return best

    verify_credentials("nobody@example.com", probe)  # builds the dummy hash once
    known, unknown = cost("alice@example.com"), cost("nobody@example.com")
    assert unknown > known * 0.5 and known > unknown * 0.5


@pytest.mark.django_db(transaction=True)
def test_smtp_auth_with_an_app_password(settings, alice: Account, smtp_factory) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_FAILURE_DELAY_SECONDS = 0
    row, secret = do_create_app_password(alice, "Outlook")
    host, port = smtp_factory("submission")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    with smtplib.SMTP(host, port, timeout=10) as c:
        c.starttls(context=ctx)
        assert c.login("alice@example.com", secret)[0] == 235
    row.refresh_from_db()
    assert row.last_used_ip == "127.0.0.1" and row.last_used_at is not None
    do_revoke_app_password(alice, row.pk)
    with smtplib.SMTP(host, port, timeout=10) as c:
        c.starttls(context=ctx)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("alice@example.com", secret)
