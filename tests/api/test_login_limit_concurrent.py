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
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mailcore.directory.models import AuthEvent
from mailcore.ratelimit import (
    AuthStatus,
    authenticate,
    record_auth_success,
    reserve_auth_attempt,
)

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


def _together(n: int, call: Callable[[int], AuthStatus]) -> list[AuthStatus]:
    barrier = threading.Barrier(n)
    results: list[AuthStatus] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait()
            status = call(i)
            with lock:
                results.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_guesses_from_one_ip_stop_at_the_ip_limit(alice, settings) -> None:
    settings.AUTH_MAX_FAILURES_PER_IP = LIMIT
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = 100
    results = _together(
        GUESSES,
        lambda i: authenticate("203.0.113.9", f"user{i}@example.com", f"guess {i}").status,
    )
    assert results.count(AuthStatus.FAILED) == LIMIT  # serialised: exactly the limit
    assert results.count(AuthStatus.BLOCKED) == GUESSES - LIMIT
    assert AuthEvent.objects.filter(kind=AuthEvent.FAILURE).count() == LIMIT
    assert not AuthEvent.objects.filter(kind=AuthEvent.PENDING).exists()


def test_the_right_password_in_flight_with_wrong_ones_gets_in(alice, settings) -> None:
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = LIMIT
    settings.AUTH_MAX_FAILURES_PER_IP = 100
    # The right password is let through first: its own reservation never refuses it.
    right = reserve_auth_attempt("192.0.2.50", "alice@example.com", "correct horse 1")
    assert right.allowed and right.reservation
    results = _together(
        GUESSES,
        lambda i: authenticate(f"198.51.100.{i + 1}", "alice@example.com", f"w{i}").status,
    )
    assert results.count(AuthStatus.FAILED) == LIMIT - 1  # the right one holds a slot
    record_auth_success("192.0.2.50", "alice@example.com", right.reservation)
    assert not AuthEvent.objects.filter(kind=AuthEvent.PENDING).exists()
    # A trusted client (that success) is not locked out by the others' guesses.
    assert authenticate("192.0.2.50", "alice@example.com", "correct horse 1").status is (
        AuthStatus.OK
    )


def test_a_reservation_never_settled_ages_out_with_the_window(alice, settings) -> None:
    settings.AUTH_MAX_FAILURES_PER_ACCOUNT = 1
    # A process that died between the check and the answer leaves its reservation behind.
    assert reserve_auth_attempt("198.51.100.1", "alice@example.com", "lost").allowed
    blocked = authenticate("198.51.100.2", "alice@example.com", "correct horse 1")
    assert blocked.status is AuthStatus.BLOCKED
    assert 1 <= blocked.retry_after <= settings.AUTH_FAILURE_WINDOW_SECONDS
    AuthEvent.objects.filter(kind=AuthEvent.PENDING).update(
        created_at=timezone.now() - timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS + 1)
    )
    assert authenticate("198.51.100.2", "alice@example.com", "correct horse 1").status is (
        AuthStatus.OK
    )
