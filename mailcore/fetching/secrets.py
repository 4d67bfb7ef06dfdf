"""Passwords of external accounts, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from the settings, never the database: FETCH_ENCRYPTION_KEY (a Fernet key), or,
when that is empty, one derived from SECRET_KEY with HKDF-SHA256. Rotation: put the new key in
FETCH_ENCRYPTION_KEY and the old one(s) in FETCH_ENCRYPTION_OLD_KEYS, run
`manage.py fetch rekey`, then drop the old keys. A password no key opens is reported to the
user ("enter the password again"), never guessed at."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from mailcore.errors import FetchError


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from Django's SECRET_KEY (when FETCH_ENCRYPTION_KEY is empty)."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"mailroom fetch passwords v1"
    ).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


def _keys() -> MultiFernet:
    primary = settings.FETCH_ENCRYPTION_KEY or derived_key(settings.SECRET_KEY).decode()
    old = [k.strip() for k in settings.FETCH_ENCRYPTION_OLD_KEYS.split(",") if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in [primary, *old]])


def encrypt(password: str) -> str:
    return _keys().encrypt(password.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise FetchError(
            "password_unreadable",
            "The saved password cannot be decrypted (the server's key changed); "
            "enter the password again.",
        ) from exc


def reencrypt(token: str) -> str:
    """`token` under the primary key (MultiFernet.rotate); FetchError if no key opens it."""
    try:
        return _keys().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise FetchError("password_unreadable", "no configured key opens this password") from exc
