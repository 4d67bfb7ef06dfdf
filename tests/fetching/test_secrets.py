"""The password box without a database: the default key is derived from SECRET_KEY, and a
password sealed under another key is reported unreadable, never guessed at."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from mailcore.errors import FetchError
from mailcore.fetching import secrets


def test_default_key_is_derived_from_secret_key(settings) -> None:
    settings.FETCH_ENCRYPTION_KEY = ""
    token = secrets.encrypt("x")
    assert Fernet(secrets.derived_key(settings.SECRET_KEY)).decrypt(token.encode()) == b"x"
    settings.SECRET_KEY = "another secret key of the installation"
    with pytest.raises(FetchError):
        secrets.decrypt(token)
