"""2단계 인증 with an authenticator app (issue 16 item 1), on a frozen TOTP clock: enrolment
confirmed by a first code, ±1 step, a code never taken twice, wrong codes counted by the login
limiter; the web session and the API token need the second step; recovery codes are single
use; turning off needs password and code."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from mailcore.directory import twofactor as tf
from mailcore.directory.models import Account, AuthEvent, LoginRecord, RecoveryCode, TotpDevice
from mailcore.errors import SecondFactorError
from tests.twofactor.conftest import PASSWORD, Clock

SESSION = "/api/v1/auth/session"
SESSION_2 = "/api/v1/auth/session/second-factor"
TOKEN = "/api/v1/auth/token"
TOKEN_2 = "/api/v1/auth/token/second-factor"
STATUS = "/api/v1/settings/two-factor"

pytestmark = pytest.mark.django_db


def browser() -> tuple[APIClient, str]:
    client = APIClient(enforce_csrf_checks=True)
    csrf = client.get(SESSION).cookies[django_settings.CSRF_COOKIE_NAME].value
    return client, csrf


def password_step(client: APIClient, csrf: str, password: str = PASSWORD) -> Any:
    return client.post(
        SESSION,
        {"address": "alice@example.com", "password": password},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )


def second_step(client: APIClient, csrf: str, challenge: str, **answer: Any) -> Any:
    # login() rotated the CSRF token only on success; the first step left it as it was.
    return client.post(
        SESSION_2, {"challenge": challenge, **answer}, format="json", HTTP_X_CSRFTOKEN=csrf
    )


def test_enrolment_is_confirmed_by_a_first_code_and_hands_out_ten_codes(
    alice: Account, clock: Clock
) -> None:
    client = APIClient()
    client.force_authenticate(alice)
    started = client.post(f"{STATUS}/totp").json()
    assert started["uri"].startswith("otpauth://totp/Mailroom:alice%40example.com?secret=")
    assert started["qr_svg"].startswith("<svg")
    device = TotpDevice.objects.get(account=alice)
    assert started["secret"] not in device.secret_sealed  # sealed, not in clear
    assert client.get(STATUS).json()["on"] is False  # not in force before the first code
    wrong = client.put(f"{STATUS}/totp", {"code": clock.code(started["secret"], 5)}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"] == "wrong_code"
    ok = client.put(f"{STATUS}/totp", {"code": clock.code(started["secret"])}, format="json")
    assert ok.status_code == 200
    codes = ok.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code not in row.code_hash for code in codes for row in RecoveryCode.objects.all())
    status = client.get(STATUS).json()
    assert status["on"] is True and status["totp"] is True and status["recovery_codes_left"] == 10
    again = client.post(f"{STATUS}/totp")
    assert again.status_code == 400 and again.json()["error"] == "totp_already_on"


def test_password_alone_opens_no_session_and_the_code_does(
    alice_totp: tuple[Account, str, list[str]], clock: Clock
) -> None:
    _, secret, _ = alice_totp
    client, csrf = browser()
    first = password_step(client, csrf)
    assert first.status_code == 202
    body = first.json()
    assert body["second_factor_required"] is True and body["methods"] == ["totp", "recovery"]
    assert client.get(SESSION).status_code == 403  # no session yet
    assert LoginRecord.objects.filter(result="partial", door="web").count() == 1
    done = second_step(client, csrf, body["challenge"], code=clock.code(secret))
    assert done.status_code == 200, done.json()
    assert client.get(SESSION).json()["address"] == "alice@example.com"
    row = LoginRecord.objects.filter(result="ok", door="web").get()
    assert row.method == "totp"


def test_a_code_is_not_taken_twice_and_one_step_either_side_is(
    alice_totp: tuple[Account, str, list[str]], clock: Clock
) -> None:
    _, secret, _ = alice_totp
    code = clock.code(secret)
    client, csrf = browser()
    challenge = password_step(client, csrf).json()["challenge"]
    assert second_step(client, csrf, challenge, code=code).status_code == 200
    other, csrf2 = browser()
    challenge = password_step(other, csrf2).json()["challenge"]
    replay = second_step(other, csrf2, challenge, code=code)
    assert replay.status_code == 400 and replay.json()["error"] == "wrong_code"
    # The next step's code, read off a phone whose clock runs 30 s ahead: accepted.
    assert second_step(other, csrf2, challenge, code=clock.code(secret, 1)).status_code == 200
    # Two steps away: refused, whatever the direction.
    clock.now += 300
    third, csrf3 = browser()
    challenge = password_step(third, csrf3).json()["challenge"]
    for steps in (-2, 2):
        late = second_step(third, csrf3, challenge, code=clock.code(secret, steps))
        assert late.status_code == 400
    assert second_step(third, csrf3, challenge, code=clock.code(secret, -1)).status_code == 200


def test_wrong_codes_are_counted_by_the_login_limiter(
    alice_totp: tuple[Account, str, list[str]], clock: Clock, settings: Any
) -> None:
    _, secret, _ = alice_totp
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = 3
    client, csrf = browser()
    challenge = password_step(client, csrf).json()["challenge"]
    good = clock.code(secret)
    wrong = [c for c in ("000000", "111111", "222222", "333333") if c != good][:3]
    for guess in wrong:
        assert second_step(client, csrf, challenge, code=guess).status_code == 400
    assert (
        AuthEvent.objects.filter(kind=AuthEvent.FAILURE, account="alice@example.com").count() == 3
    )
    blocked = second_step(client, csrf, challenge, code=good)
    assert blocked.status_code == 429  # the right code is not even looked at now
    assert LoginRecord.objects.filter(reason="wrong_totp").count() == 3


def test_api_token_needs_the_second_step(
    alice_totp: tuple[Account, str, list[str]], clock: Clock
) -> None:
    _, secret, _ = alice_totp
    client = APIClient()
    first = client.post(
        TOKEN, {"address": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert first.status_code == 202 and "token" not in first.json()
    challenge = first.json()["challenge"]
    # A web challenge is not an API one and vice versa.
    other, csrf = browser()
    assert second_step(other, csrf, challenge, code=clock.code(secret)).json()["error"] == (
        "challenge_expired"
    )
    done = client.post(TOKEN_2, {"challenge": challenge, "code": clock.code(secret)}, format="json")
    assert done.status_code == 200 and len(done.json()["token"]) == 40


def test_challenge_expires_and_cannot_be_forged(
    alice_totp: tuple[Account, str, list[str]], clock: Clock, settings: Any
) -> None:
    _, secret, _ = alice_totp
    client, csrf = browser()
    challenge = password_step(client, csrf).json()["challenge"]
    forged = challenge[:-2] + ("AA" if not challenge.endswith("AA") else "BB")
    assert second_step(client, csrf, forged, code=clock.code(secret)).json()["error"] == (
        "challenge_expired"
    )
    settings.SECOND_FACTOR_CHALLENGE_SECONDS = -1
    assert second_step(client, csrf, challenge, code=clock.code(secret)).json()["error"] == (
        "challenge_expired"
    )


def test_recovery_codes_are_single_use_and_regenerating_voids_the_old(
    alice_totp: tuple[Account, str, list[str]],
) -> None:
    alice, _, codes = alice_totp
    client, csrf = browser()
    challenge = password_step(client, csrf).json()["challenge"]
    assert second_step(client, csrf, challenge, recovery_code=codes[0].upper()).status_code == 200
    again, csrf2 = browser()
    challenge = password_step(again, csrf2).json()["challenge"]
    reused = second_step(again, csrf2, challenge, recovery_code=codes[0])
    assert reused.status_code == 400
    assert LoginRecord.objects.filter(reason="wrong_recovery").count() == 1
    signed_in = APIClient()
    signed_in.force_authenticate(alice)
    wrong = signed_in.post(f"{STATUS}/recovery-codes", {"password": "nope"}, format="json")
    assert wrong.status_code == 400 and "password" in wrong.json()["fields"]
    new = signed_in.post(f"{STATUS}/recovery-codes", {"password": PASSWORD}, format="json")
    assert len(new.json()["recovery_codes"]) == 10
    old = second_step(again, csrf2, challenge, recovery_code=codes[1])
    assert old.status_code == 400
    fresh = second_step(again, csrf2, challenge, recovery_code=new.json()["recovery_codes"][1])
    assert fresh.status_code == 200
    assert signed_in.get(STATUS).json()["recovery_codes_left"] == 9


def test_turning_off_needs_password_and_code(
    alice_totp: tuple[Account, str, list[str]], clock: Clock
) -> None:
    alice, secret, _ = alice_totp
    client = APIClient()
    client.force_authenticate(alice)
    no_code = client.delete(STATUS, {"password": PASSWORD, "code": "123"}, format="json")
    assert no_code.status_code == 400 and no_code.json()["error"] == "wrong_code"
    bad_password = client.delete(
        STATUS, {"password": "wrong", "code": clock.code(secret)}, format="json"
    )
    assert bad_password.status_code == 400
    off = client.delete(STATUS, {"password": PASSWORD, "code": clock.code(secret)}, format="json")
    assert off.status_code == 200 and off.json()["on"] is False
    assert not RecoveryCode.objects.filter(account=alice).exists()
    browser_client, csrf = browser()
    assert password_step(browser_client, csrf).status_code == 200  # the password alone again


def test_sealed_secret_is_unreadable_under_another_key(
    alice_totp: tuple[Account, str, list[str]], settings: Any
) -> None:
    alice, secret, _ = alice_totp
    assert tf.unseal(TotpDevice.objects.get(account=alice).secret_sealed) == secret
    settings.SECOND_FACTOR_KEY = "another key"
    with pytest.raises(SecondFactorError):
        tf.unseal(TotpDevice.objects.get(account=alice).secret_sealed)
