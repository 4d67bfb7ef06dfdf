"""The password policy (issue 16 item 6): length from settings, Django's and the Korean common
lists, an imported breached list (HIBP's SHA-1 format or plain words), the same refusals from
the shell, the API and the admin console, and the Argon2id cost from settings with rehash at
the next login."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from mailcore.auth import verify_credentials
from mailcore.directory import passwords
from mailcore.directory.models import Account
from tests.api.helpers import token_client

pytestmark = pytest.mark.django_db
ARGON2 = ["mailcore.directory.passwords.Argon2idHasher"]


@pytest.fixture(autouse=True)
def _denylist(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.PASSWORD_DENYLIST_FILE = tmp_path / "denylist.sha1"


def codes(password: str, user: Account | None = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {e.code for e in exc.error_list}
    return set()


def test_common_passwords_english_and_korean_are_refused() -> None:
    assert codes("password1") == {"password_too_common"}
    # Keyboard walks and Hangul typed on a QWERTY layout (사랑해 → tkfkdgo), which Django's
    # English list lacks; compared after NFKC and lower-casing.
    for word in ("1q2w3e4r", "QWER1234!", "tkfkdgo1", "사랑해요", "ｑｗｅｒ１２３４"):
        assert "password_too_common" in codes(word), word
    assert codes("봄비 내리는 창가 7") == set()


def test_length_comes_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    assert codes("Zq8!mKv2") == set()
    assert codes("x" * 1025) >= {"password_too_long"}  # verify_credentials refuses > 1,024
    # Django's setting_changed signal clears the cached validators.
    settings.AUTH_PASSWORD_VALIDATORS = [
        {
            "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
            "OPTIONS": {"min_length": 12},
        }
    ]
    assert codes("Zq8!mKv2") == {"password_too_short"}


def test_similar_to_the_address_is_refused(alice: Account) -> None:
    assert codes("alice@example", alice) == {"password_too_similar"}


def test_breached_list_imported_from_hibp_and_plain_files(tmp_path: Path) -> None:
    hibp = tmp_path / "pwned.txt.gz"
    lines = [
        hashlib.sha1(b"Tr0ub4dor&3").hexdigest().upper() + ":2814",
        hashlib.sha1(b"rarely-seen-9!").hexdigest().upper() + ":1",
    ]
    with gzip.open(hibp, "wt") as f:
        f.write("\r\n".join(lines) + "\r\n")
    plain = tmp_path / "leak.txt"
    plain.write_text("봄날의곰처럼좋아7\n", encoding="utf-8")
    assert codes("Tr0ub4dor&3") == set()

    out = io.StringIO()
    call_command("passwords", "import", str(hibp), "--min-count", "2", stdout=out)
    assert "1 breached passwords" in out.getvalue()
    assert codes("Tr0ub4dor&3") == {"password_breached"}
    assert codes("rarely-seen-9!") == set()  # below --min-count
    call_command("passwords", "import", str(plain), stdout=io.StringIO())  # merged
    assert codes("봄날의곰처럼좋아7") == {"password_breached"}
    assert codes("Tr0ub4dor&3") == {"password_breached"}
    assert passwords.policy()["breached_list_entries"] == 2
    call_command("passwords", "import", str(plain), "--replace", stdout=io.StringIO())
    assert codes("Tr0ub4dor&3") == set()
    with pytest.raises(CommandError, match="no such file"):
        call_command("passwords", "import", str(tmp_path / "missing.txt"))


def test_sorted_list_lookup_is_exact(tmp_path: Path) -> None:
    words = [f"word-{n}" for n in range(2000)]
    source = tmp_path / "words.txt"
    source.write_text("\n".join(words) + "\n")
    passwords.import_denylist([source])
    found = passwords.breached_list()
    assert found is not None and found.count == 2000
    assert all(passwords._digest(w) in found for w in words[::97])
    assert passwords._digest("word-2000") not in found
    assert passwords._digest("") not in found


def test_shell_refuses_a_weak_password(domain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO("qwer1234\n"))
    with pytest.raises(CommandError, match="too common"):
        call_command("account", "add", "minsu@example.com", "--password-stdin")
    assert not Account.objects.filter(address="minsu@example.com").exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("봄비 내리는 창가 7\n"))
    call_command("account", "add", "minsu@example.com", "--password-stdin", stdout=io.StringIO())
    monkeypatch.setattr("sys.stdin", io.StringIO("minsu@example\n"))
    with pytest.raises(CommandError, match="too similar"):
        call_command("account", "passwd", "minsu@example.com", "--password-stdin")
    assert verify_credentials("minsu@example.com", "봄비 내리는 창가 7") is not None


def test_api_says_why_with_codes(alice: Account) -> None:
    api = token_client(alice)
    policy = api.get("/api/v1/settings/password-policy").json()
    assert policy == {
        "min_length": 8,
        "max_length": 1024,
        "common_list": True,
        "breached_list_entries": 0,
    }
    r = api.post(
        "/api/v1/settings/password",
        {"current_password": "correct horse 1", "new_password": "1q2w3e4r!"},
        format="json",
    )
    assert r.status_code == 400
    assert r.json()["field_codes"] == {"new_password": ["password_too_common"]}
    assert verify_credentials("alice@example.com", "correct horse 1") is not None


def test_admin_console_refuses_a_breached_password(tmp_path: Path, make_account) -> None:  # type: ignore[no-untyped-def]
    admin = make_account("root@example.com", is_staff=True)
    leak = tmp_path / "leak.txt"
    leak.write_text("Correct-Horse-77\n")
    passwords.import_denylist([leak])
    api: APIClient = token_client(admin)
    r = api.post(
        "/api/v1/admin/accounts",
        {"address": "jiyoung@example.com", "password": "Correct-Horse-77"},
        format="json",
    )
    assert r.status_code == 400, r.content
    assert r.json()["field_codes"]["password"] == ["password_breached"]
    assert not Account.objects.filter(address="jiyoung@example.com").exists()


def test_argon2_cost_from_settings_and_rehash_at_next_login(settings, domain) -> None:  # type: ignore[no-untyped-def]
    from mailcore.directory.actions import do_create_account

    settings.PASSWORD_HASHERS = ARGON2
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB, settings.ARGON2_PARALLELISM = 1, 8192, 1
    account = do_create_account("minsu@example.com", password="봄비 내리는 창가 7")
    assert account.password.startswith("argon2$argon2id$v=19$m=8192,t=1,p=1$")
    settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB = 2, 16384
    assert verify_credentials("minsu@example.com", "wrong one") is None
    account.refresh_from_db()
    assert "m=8192,t=1,p=1" in account.password  # a wrong password rehashes nothing
    assert verify_credentials("minsu@example.com", "봄비 내리는 창가 7") is not None
    account.refresh_from_db()
    assert account.password.startswith("argon2$argon2id$v=19$m=16384,t=2,p=1$")
    assert verify_credentials("minsu@example.com", "봄비 내리는 창가 7") is not None
