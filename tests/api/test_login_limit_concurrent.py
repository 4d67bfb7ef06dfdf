"""The per-account login limit holds for guesses that arrive together (issue 9 item 1, found by
the outside test): authenticate() checks the limit, verifies the password (an Argon2 run of a
good fraction of a second) and only then records the failure, so every guess that arrives
while the others are being verified passes the check. Against the running stack (2 gunicorn
workers × 32 threads), 60 concurrent distinct wrong passwords for one account from 60
addresses were all verified (60 × 400 invalid_credentials; the limit is 20), and 45
concurrent SMTP AUTH attempts got 27 × 535 before the 454s. Guesses in flight must count
against the limit before the password is looked at, as the sequential ones do."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from mailcore.ratelimit import AuthStatus, authenticate

pytestmark = pytest.mark.django_db(transaction=True)

GUESSES = 12
LIMIT = 3


def test_concurrent_distinct_wrong_passwords_for_one_account_stop_at_the_limit(
    alice, settings
) -> None:
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = LIMIT
    settings.AUTH_MAX_FAILURES_PER_IP = 100
    barrier = threading.Barrier(GUESSES)
    results: list[AuthStatus] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        try:
            barrier.wait()
            attempt = authenticate(
                f"198.51.100.{i + 1}", "alice@example.com", f"wrong guess {i}", door="api"
            )
            with lock:
                results.append(attempt.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == GUESSES
    verified = results.count(AuthStatus.FAILED)  # a wrong password that was actually checked
    assert verified <= LIMIT, f"{verified} of {GUESSES} concurrent guesses were checked"
    assert results.count(AuthStatus.BLOCKED) == GUESSES - verified
    # and the account is blocked afterwards, right password or not
    assert authenticate("198.51.100.200", "alice@example.com", "correct horse 1").status is (
        AuthStatus.BLOCKED
    )
