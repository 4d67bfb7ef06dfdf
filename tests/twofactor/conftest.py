"""Fixtures of the 2단계 인증 tests: fresh login throttles, a frozen TOTP clock, alice with an
authenticator app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from mailcore.directory import twofactor as tf
from mailcore.directory.models import Account
from webmail.accounts.ratecounters import clear

PASSWORD = "correct horse 1"  # tests/conftest.py make_account default


@pytest.fixture(autouse=True)
def _fresh(settings: Any) -> Iterator[None]:
    settings.AUTH_FAILURE_DELAY_SECONDS = 0
    clear(database=False)
    yield
    clear(database=False)


class Clock:
    """time.time() as the TOTP code sees it, frozen at `now` and moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_800_000_015.0  # 15 s into a step
        monkeypatch.setattr(tf, "clock", lambda: self.now)

    def code(self, secret: str, steps: int = 0) -> str:
        return pyotp.TOTP(secret).at(self.now + steps * 30)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def alice_totp(alice: Account, clock: Clock) -> tuple[Account, str, list[str]]:
    """alice with a confirmed authenticator app: (alice, secret, recovery codes)."""
    enrolment = tf.do_begin_totp(alice)
    codes = tf.do_confirm_totp(alice, clock.code(enrolment.secret))
    clock.now += 30  # the confirming step is used; the next one is free
    alice.refresh_from_db()
    return alice, enrolment.secret, codes
