"""로그인 기록 (login history): what every door's login leaves behind, and reading it back.

`authenticate()` (mailcore.ratelimit) records each attempt here, so SMTP AUTH, IMAP, POP3, the
web and the API are covered by one call. The insert is one statement; on PostgreSQL it commits
asynchronously (no WAL flush wait: a crash of the database server may lose the last fraction
of a second of history, never the login's own result), so a login costs one round trip more."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from mailcore.directory.models import Account, LoginRecord

CLIENT_MAX = 200


def record_login(
    *,
    address: str,
    account: Account | None,
    ip: str,
    door: str,
    result: str,
    method: str = "",
    client: str = "",
    reason: str = "",
) -> None:
    if door not in LoginRecord.Door.values:
        door = LoginRecord.Door.OTHER
    row = LoginRecord(
        account=account,
        address=_printable(account.address if account is not None else address)[:320],
        at=timezone.now(),
        ip=ip[:45],
        door=door,
        method=method,
        result=result,
        client=_printable(client)[:CLIENT_MAX],
        reason=reason[:40],
    )
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        with transaction.atomic():
            row.save(force_insert=True)
        return
    # One autocommitted statement whose transaction commits without waiting for the WAL flush
    # (set_config(…, true) is local to it): a login costs one round trip more, no fsync wait.
    table = LoginRecord._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (account_id, address, at, ip, door, method, result, client, "  # noqa: S608
            "reason) SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s "
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit",
            [
                row.account_id,
                row.address,
                row.at,
                row.ip,
                row.door,
                row.method,
                row.result,
                row.client,
                row.reason,
            ],
        )


def _printable(text: str) -> str:
    """What a client sent, without control characters (NUL cannot even be stored)."""
    return "".join(c for c in text if c.isprintable())


def login_history(account: Account) -> QuerySet[LoginRecord]:
    """The account's own attempts, newest first (attempts on unknown addresses are not
    anyone's: only admins see them)."""
    return LoginRecord.objects.filter(account=account).order_by("-id")


def purge_cutoff(days: int | None = None) -> datetime | None:
    keep = settings.LOGIN_HISTORY_DAYS if days is None else days
    return None if keep == 0 else timezone.now() - timedelta(days=keep)
