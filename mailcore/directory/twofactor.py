"""2단계 인증 (two-step verification): an authenticator app (TOTP, RFC 6238), passkeys
(WebAuthn, py_webauthn) and ten one-time recovery codes per account, and the login's second
step. The first step stays mailcore.ratelimit.authenticate, which answers SECOND_FACTOR for
the web and API doors of an account with a factor on (and refuses its account password at the
mail doors); the second step here is counted by the same limiter.

Choices where issue 16 is silent, after Gmail and Naver: a first factor's enrolment hands out
the ten recovery codes (shown once); removing the last factor deletes them; the TOTP secret
is sealed with a key derived from SECOND_FACTOR_KEY (default: SECRET_KEY); a login
challenge is a signed token valid SECOND_FACTOR_CHALLENGE_SECONDS (5 minutes)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mailcore.directory.models import (
    Account,
    Domain,
    LoginRecord,
    Passkey,
    RecoveryCode,
    TotpDevice,
)
from mailcore.errors import SecondFactorError
from mailcore.ratelimit import (
    AuthAttempt,
    AuthStatus,
    failure_delay,
    record_auth_failure,
    record_auth_success,
    record_history,
    reserve_auth_attempt,
)

TOTP_DIGITS = 6
TOTP_PERIOD = 30
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
ACCEPTED_FORMATS = frozenset({AttestationFormat.NONE.value, AttestationFormat.PACKED.value})


# --- the sealed TOTP secret -----------------------------------------------------------------


def _fernet() -> Fernet:
    key = getattr(settings, "SECOND_FACTOR_KEY", "") or settings.SECRET_KEY
    digest = hashlib.sha256(f"mailroom-totp-seal\0{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except InvalidToken as exc:  # SECOND_FACTOR_KEY (or SECRET_KEY) changed
        raise SecondFactorError(
            "The authenticator app's secret cannot be read (the server key changed); "
            "ask an administrator to reset your second factor.",
            code="totp_unreadable",
        ) from exc


def refresh_flag(account: Account) -> None:
    """Account.second_factor_on from the rows (call inside the transaction that changed
    them); the last factor gone takes the recovery codes with it."""
    on = (
        TotpDevice.objects.filter(account=account, confirmed=True).exists()
        or Passkey.objects.filter(account=account).exists()
    )
    if not on:
        RecoveryCode.objects.filter(account=account).delete()
    if account.second_factor_on != on:
        account.second_factor_on = on
        Account.objects.filter(pk=account.pk).update(second_factor_on=on)


@dataclass(frozen=True, slots=True)
class Status:
    on: bool
    totp: bool
    passkeys: list[Passkey]
    recovery_codes_left: int
    required_by_domain: bool


def get_status(account: Account) -> Status:
    return Status(
        on=account.second_factor_on,
        totp=TotpDevice.objects.filter(account=account, confirmed=True).exists(),
        passkeys=list(Passkey.objects.filter(account=account)),
        recovery_codes_left=RecoveryCode.objects.filter(
            account=account, used_at__isnull=True
        ).count(),
        required_by_domain=account.domain.require_second_factor,
    )


# --- TOTP -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str  # base32, for typing into an app that cannot scan
    uri: str  # otpauth://totp/…
    qr_svg: str


@transaction.atomic
def do_begin_totp(account: Account) -> TotpEnrolment:
    """A new secret, not yet in force: confirmed by do_confirm_totp's first code. Replaces an
    unconfirmed one; refused while a confirmed one exists (turn it off first)."""
    existing = TotpDevice.objects.select_for_update().filter(account=account).first()
    if existing is not None and existing.confirmed:
        raise SecondFactorError(
            "An authenticator app is already set up; remove it first.", code="totp_already_on"
        )
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        account=account,
        defaults={
            "secret_sealed": seal(secret),
            "confirmed": False,
            "last_step": 0,
            "created_at": timezone.now(),
        },
    )
    issuer = settings.SECOND_FACTOR_ISSUER
    uri = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=account.address, issuer_name=issuer
    )
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, title=f"{issuer}: {account.address}")
    return TotpEnrolment(secret=secret, uri=uri, qr_svg=qr_svg)


def clock() -> float:
    """The time TOTP codes are checked against (tests freeze it here)."""
    return time.time()


def _matching_step(secret: str, code: str, after: int, now: float | None = None) -> int | None:
    """The time step (±1 around now, RFC 6238 §5.2) whose code is `code`, later than
    `after` (a step already used is never taken again), or None."""
    code = "".join(code.split())
    if len(code) != TOTP_DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int((clock() if now is None else now) // TOTP_PERIOD)
    for step in (current - 1, current, current + 1):
        if step > after and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _check_totp(account: Account, code: str, *, confirmed: bool) -> bool:
    """Under the device row's lock: does `code` match a step not used yet? Remembers it."""
    device = (
        TotpDevice.objects.select_for_update().filter(account=account, confirmed=confirmed).first()
    )
    if device is None:
        return False
    step = _matching_step(unseal(device.secret_sealed), code, device.last_step)
    if step is None:
        return False
    device.last_step = step
    device.confirmed = True
    device.save(update_fields=["last_step", "confirmed"])
    return True


@transaction.atomic
def do_confirm_totp(account: Account, code: str) -> list[str]:
    """Put the started TOTP in force with its first code. Returns new recovery codes when
    this is the account's first factor (else [])."""
    if not TotpDevice.objects.filter(account=account, confirmed=False).exists():
        raise SecondFactorError("Start setting up the app first.", code="totp_not_started")
    first = not account.second_factor_on
    if not _check_totp(account, code, confirmed=False):
        raise SecondFactorError("That code is not right; try the current one.", code="wrong_code")
    refresh_flag(account)
    return _new_recovery_codes(account) if first else []


@transaction.atomic
def do_remove_totp(account: Account) -> None:
    TotpDevice.objects.filter(account=account).delete()
    _check_domain_allows_off(account)
    refresh_flag(account)


# --- recovery codes -------------------------------------------------------------------------


def _hint(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()[:4]


def _normal_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())[:40]


def _new_recovery_codes(account: Account) -> list[str]:
    RecoveryCode.objects.filter(account=account).delete()
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(account=account, hint=_hint(c), code_hash=make_password(c)) for c in codes
    )
    return [f"{c[:5]}-{c[5:]}" for c in codes]


@transaction.atomic
def do_regenerate_recovery_codes(account: Account) -> list[str]:
    """Ten new codes (shown once by the caller); the old ones stop working."""
    if not account.second_factor_on:
        raise SecondFactorError("Turn on two-step verification first.", code="second_factor_off")
    return _new_recovery_codes(account)


def _use_recovery_code(account: Account, code: str) -> bool:
    normal = _normal_code(code)
    if len(normal) != 10:
        return False
    rows = RecoveryCode.objects.select_for_update().filter(
        account=account, hint=_hint(normal), used_at__isnull=True
    )
    for row in rows:
        if check_password(normal, row.code_hash):
            row.used_at = timezone.now()
            row.save(update_fields=["used_at"])
            return True
    return False


# --- passkeys -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _credential_hash(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


_REGISTRATION_SALT = "mailroom.passkey.registration"


def passkey_registration_options(account: Account, rp_id: str) -> tuple[dict[str, Any], str]:
    """(PublicKeyCredentialCreationOptions as JSON, a signed state for the finish call)."""
    existing = [
        PublicKeyCredentialDescriptor(id=bytes(p.credential_id))
        for p in Passkey.objects.filter(account=account)
    ]
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=settings.SECOND_FACTOR_ISSUER,
        user_name=account.address,
        user_id=hashlib.sha256(f"mailroom-user\0{account.pk}".encode()).digest()[:16],
        user_display_name=account.display_name or account.address,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=existing,
    )
    state = signing.dumps(
        {"a": account.pk, "c": _b64(options.challenge), "r": rp_id}, salt=_REGISTRATION_SALT
    )
    return json.loads(options_to_json(options)), state


def _read_state(state: str, salt: str) -> dict[str, Any]:
    try:
        data = signing.loads(
            state[:4096], salt=salt, max_age=settings.SECOND_FACTOR_CHALLENGE_SECONDS
        )
    except signing.BadSignature as exc:  # SignatureExpired is one
        raise SecondFactorError(
            "This step took too long or is not valid; start again.", code="challenge_expired"
        ) from exc
    if not isinstance(data, dict):
        raise SecondFactorError("Start again.", code="challenge_expired")
    return data


@transaction.atomic
def do_add_passkey(
    account: Account, *, name: str, credential: dict[str, Any], state: str, origins: list[str]
) -> tuple[Passkey, list[str]]:
    """Verify a registration ceremony's answer (attestation "none" or "packed") and keep the
    passkey. Returns it and new recovery codes when this is the first factor (else [])."""
    data = _read_state(state, _REGISTRATION_SALT)
    if data.get("a") != account.pk:
        raise SecondFactorError("Start again.", code="challenge_expired")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=_unb64(str(data["c"])),
            expected_rp_id=str(data["r"]),
            expected_origin=origins,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SecondFactorError(
            f"The passkey could not be verified: {exc}", code="passkey_refused"
        ) from exc
    fmt = str(getattr(verified.fmt, "value", verified.fmt))
    if fmt not in ACCEPTED_FORMATS:
        raise SecondFactorError(
            f"Attestation format {fmt} is not accepted.", code="passkey_refused"
        )
    digest = _credential_hash(verified.credential_id)
    if Passkey.objects.filter(credential_id_hash=digest).exists():
        raise SecondFactorError("This passkey is already registered.", code="passkey_exists")
    first = not account.second_factor_on
    passkey = Passkey.objects.create(
        account=account,
        name=(name.strip() or "Passkey")[:100],
        credential_id=verified.credential_id,
        credential_id_hash=digest,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        attestation_format=fmt,
        created_at=timezone.now(),
    )
    refresh_flag(account)
    return passkey, (_new_recovery_codes(account) if first else [])


def do_rename_passkey(account: Account, pk: int, name: str) -> Passkey:
    passkey = _own_passkey(account, pk)
    passkey.name = (name.strip() or passkey.name)[:100]
    passkey.save(update_fields=["name"])
    return passkey


@transaction.atomic
def do_remove_passkey(account: Account, pk: int) -> None:
    _own_passkey(account, pk).delete()
    _check_domain_allows_off(account)
    refresh_flag(account)


def _own_passkey(account: Account, pk: int) -> Passkey:
    passkey = Passkey.objects.filter(account=account, pk=pk).first()
    if passkey is None:
        raise SecondFactorError("No such passkey.", code="not_found")
    return passkey


def _passkey_options(account: Account, rp_id: str) -> tuple[dict[str, Any], bytes] | None:
    keys = list(Passkey.objects.filter(account=account))
    if not keys:
        return None
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=[PublicKeyCredentialDescriptor(id=bytes(p.credential_id)) for p in keys],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return json.loads(options_to_json(options)), options.challenge


def _check_passkey(
    account: Account,
    credential: dict[str, Any],
    challenge: bytes,
    rp_id: str,
    origins: list[str],
    *,
    issued_at: float,
) -> bool:
    """Verify an assertion for `challenge` (issued at `issued_at`, a POSIX time). A passkey
    used after the challenge was issued refuses it: an assertion replayed with its challenge
    fails even on authenticators whose sign count stays 0 (most synced passkeys)."""
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or len(raw_id) > 1400:
        return False
    try:
        digest = _credential_hash(_unb64(raw_id))
    except ValueError:
        return False
    passkey = (
        Passkey.objects.select_for_update()
        .filter(account=account, credential_id_hash=digest)
        .first()
    )
    if passkey is None:
        return False
    if passkey.last_used_at is not None and passkey.last_used_at.timestamp() >= issued_at:
        return False
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origins,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError):
        # Includes a sign count not above the stored one (a cloned authenticator).
        return False
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "last_used_at"])
    return True


# --- turning off, admins --------------------------------------------------------------------


def _check_domain_allows_off(account: Account) -> None:
    """Inside the removing transaction, before refresh_flag: the domain may forbid being left
    without a factor."""
    if not account.domain.require_second_factor:
        return
    left = (
        TotpDevice.objects.filter(account=account, confirmed=True).exists()
        or Passkey.objects.filter(account=account).exists()
    )
    if not left:
        raise SecondFactorError(
            "Your domain requires two-step verification; keep at least one method.",
            code="domain_requires_second_factor",
        )


@transaction.atomic
def do_turn_off(account: Account, code: str) -> None:
    """Everything off (app, passkeys, recovery codes), confirmed by a current TOTP or
    recovery code (the caller checked the password)."""
    if not account.second_factor_on:
        return
    if not (_check_totp(account, code, confirmed=True) or _use_recovery_code(account, code)):
        raise SecondFactorError("That code is not right.", code="wrong_code")
    TotpDevice.objects.filter(account=account).delete()
    Passkey.objects.filter(account=account).delete()
    _check_domain_allows_off(account)
    refresh_flag(account)


# Sent (after the commit) when an administrator reset an account's factors, from the console or
# the shell: the web side ends the account's sessions and token (webmail.accounts connects it),
# since whoever holds the lost phone may be signed in. mailcore cannot reach the web's sessions.
factors_reset = Signal()


@transaction.atomic
def do_reset_factors(account: Account) -> dict[str, int]:
    """An administrator's reset (the caller audits it): every factor and code removed, so the
    user signs in with the password alone (and enrols again if the domain requires); once it
    is committed, factors_reset is sent (the web signs the account out everywhere)."""
    transaction.on_commit(lambda: factors_reset.send(sender=Account, account=account))
    removed = {
        "totp": TotpDevice.objects.filter(account=account).delete()[0],
        "passkeys": Passkey.objects.filter(account=account).delete()[0],
        "recovery_codes": RecoveryCode.objects.filter(account=account).delete()[0],
    }
    refresh_flag(account)
    return removed


def needs_enrolment(account: Account) -> bool:
    """Must this account enrol a factor before reaching mail (its domain requires one)?"""
    return not account.second_factor_on and account.domain.require_second_factor


# --- the login's second step ----------------------------------------------------------------

_LOGIN_SALT = "mailroom.second-factor.login"


@dataclass(frozen=True, slots=True)
class Challenge:
    token: str
    methods: list[str]  # "totp", "passkey", "recovery"
    passkey_options: dict[str, Any] | None


def make_challenge(account: Account, door: str, rp_id: str) -> Challenge:
    """After the right password (AuthStatus.SECOND_FACTOR): what the client needs for the
    second step, bound to this account and door, valid SECOND_FACTOR_CHALLENGE_SECONDS."""
    methods = []
    if TotpDevice.objects.filter(account=account, confirmed=True).exists():
        methods.append("totp")
    found = _passkey_options(account, rp_id)
    if found is not None:
        methods.append("passkey")
    methods.append("recovery")
    data: dict[str, Any] = {"a": account.pk, "d": door, "r": rp_id}
    if found is not None:
        # When it was issued: a passkey used since refuses it (single use, see _check_passkey).
        data["c"], data["t"] = _b64(found[1]), timezone.now().timestamp()
    return Challenge(
        token=signing.dumps(data, salt=_LOGIN_SALT),
        methods=methods,
        passkey_options=None if found is None else found[0],
    )


def authenticate_second_factor(
    ip: str,
    token: str,
    *,
    door: str,
    code: str = "",
    recovery_code: str = "",
    credential: dict[str, Any] | None = None,
    origins: list[str] | None = None,
    client: str = "",
) -> AuthAttempt:
    """The second step: the challenge from the first, and one of a TOTP code, a recovery code
    or a WebAuthn assertion. Counted by the login limiter like a password (a wrong code is a
    failure for this IP and account) and recorded in the login history with its method.
    Raises SecondFactorError for a token that is expired, forged or of another door."""
    data = _read_state(token, _LOGIN_SALT)
    account_id = data.get("a")
    if data.get("d") != door or not isinstance(account_id, int):
        raise SecondFactorError("Start again.", code="challenge_expired")
    account = Account.objects.select_related("domain").filter(pk=account_id, is_active=True).first()
    if account is None or not account.second_factor_on:
        raise SecondFactorError("Start again.", code="challenge_expired")
    if credential is not None:
        method, guess = LoginRecord.Method.PASSKEY, "passkey:" + str(credential.get("id", ""))
    elif recovery_code:
        method, guess = LoginRecord.Method.RECOVERY, "recovery:" + _normal_code(recovery_code)
    else:
        method, guess = LoginRecord.Method.TOTP, "totp:" + "".join(code.split())[:16]
    check = reserve_auth_attempt(ip, account.address, guess)
    if not check.allowed:
        record_history(account.address, account, ip, door, LoginRecord.Result.BLOCKED, client)
        return AuthAttempt(
            AuthStatus.BLOCKED, delay=failure_delay(1), retry_after=check.retry_after
        )
    with transaction.atomic():
        if method == LoginRecord.Method.PASSKEY:
            challenge = data.get("c")
            issued = data.get("t")
            ok = (
                isinstance(challenge, str)
                and isinstance(issued, float)
                and _check_passkey(
                    account,
                    credential or {},
                    _unb64(challenge),
                    str(data["r"]),
                    origins or [],
                    issued_at=issued,
                )
            )
        elif method == LoginRecord.Method.RECOVERY:
            ok = _use_recovery_code(account, recovery_code)
        else:
            ok = _check_totp(account, code, confirmed=True)
    if not ok:
        failures = record_auth_failure(ip, account.address, guess, check.reservation)
        record_history(
            account.address, None, ip, door, LoginRecord.Result.FAILED, client,
            reason=f"wrong_{method}",
        )  # fmt: skip
        return AuthAttempt(AuthStatus.FAILED, delay=failure_delay(failures))
    record_auth_success(ip, account.address, check.reservation)
    record_history(account.address, account, ip, door, LoginRecord.Result.OK, client, method=method)
    return AuthAttempt(AuthStatus.OK, account=account)


def do_require_second_factor(domain_name: str, required: bool) -> None:
    """Domain policy (the caller audits it): from the next web login, its users without a
    factor enrol one before reaching mail; sessions already open are left as they are."""
    Domain.objects.filter(name=domain_name).update(require_second_factor=required)
