"""What a login writes and waits for (the IMAP bench: ten clients from one IP log in one after
another through the per-IP advisory lock). On PostgreSQL the limiter's two transactions (the
reservation, and the success that settles it) commit asynchronously (synchronous_commit off
for that transaction only: the rows are visible to every other login at once, only a crash of
the database server may lose the last fraction of a second of them), and the success is one
transaction instead of four autocommitted statements, each waiting for a WAL flush. The
limits themselves are tests/api/test_login_limits.py and test_login_limit_concurrent.py."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account, AuthEvent
from mailcore.ratelimit import AuthStatus, authenticate, record_auth_success

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]

WRITES = ("INSERT", "UPDATE", "DELETE")


def transactions(queries: list[dict[str, str]]) -> list[list[str]]:
    """The statements, grouped: one list per BEGIN…COMMIT, one per autocommitted statement."""
    groups: list[list[str]] = []
    current: list[str] | None = None
    for q in queries:
        sql = q["sql"]
        if sql == "BEGIN":
            current = []
        elif sql == "COMMIT":
            assert current is not None
            groups.append(current)
            current = None
        elif current is not None:
            current.append(sql)
        else:
            groups.append([sql])
    return groups


def durable_writes(queries: list[dict[str, str]]) -> list[list[str]]:
    """Transactions that write and commit synchronously (wait for the WAL flush)."""
    return [
        group
        for group in transactions(queries)
        if any(s.lstrip().upper().startswith(WRITES) for s in group)
        and not any("'synchronous_commit', 'off'" in s for s in group)
    ]


def test_app_password_login_waits_for_no_wal_flush(alice: Account) -> None:
    _, secret = do_create_app_password(alice, "phone")
    # The first login records the app password's use (a synchronous write, at most once a
    # minute per password and address); the one measured is the next.
    assert authenticate("127.0.0.1", "alice@example.com", secret).status is AuthStatus.OK
    with CaptureQueriesContext(connection) as ctx:
        attempt = authenticate("127.0.0.1", "alice@example.com", secret, door="imap")
    assert attempt.status is AuthStatus.OK
    assert durable_writes(ctx.captured_queries) == []
    groups = transactions(ctx.captured_queries)
    # reserve, one read (the app password with its account), settle, the login history row
    assert len(groups) == 4, [[s[:60] for s in g] for g in groups]
    history = groups[3]
    assert (
        len(history) == 1 and history[0].startswith("INSERT") and "synchronous_commit" in history[0]
    )
    # The reservation, which holds the per-IP and per-account locks until its commit: the
    # locks (one statement), then the decision and the pending row (one: an INSERT … SELECT
    # whose WHERE is both failure counts and the trusted pair).
    reserve = groups[0]
    assert len(reserve) == 2, [s[:60] for s in reserve]
    assert "pg_advisory_xact_lock" in reserve[0]
    assert reserve[1].startswith("INSERT") and "COUNT" in reserve[1]
    # The settlement: one statement (the pair's earlier rows and stale successes deleted,
    # the success inserted), committed asynchronously.
    settle = groups[2]
    assert len(settle) == 1 and "synchronous_commit" in settle[0] and "DELETE" in settle[0]
    # What it leaves: one success for the pair, no pending reservation.
    events = AuthEvent.objects.filter(ip="127.0.0.1", account="alice@example.com")
    assert list(events.values_list("kind", flat=True)) == [AuthEvent.SUCCESS]


def test_a_callers_transaction_keeps_its_synchronous_commit(alice: Account) -> None:
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        record_auth_success("127.0.0.1", alice.address)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
    assert not any("synchronous_commit', 'off'" in q["sql"] for q in ctx.captured_queries)
