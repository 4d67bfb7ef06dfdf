"""The login limiter shared by every way in (SMTP AUTH, the web session and API token logins,
IMAP and POP3): failures per client IP and per account, counted in the database so every
process sees the same numbers. Protocol replies and sleeping belong to the callers; this module
only decides."""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from mailcore import metrics
from mailcore.addresses import canonical_address
from mailcore.auth import verify_credentials
from mailcore.directory.logins import record_login
from mailcore.directory.models import Account, AuthEvent, LoginRecord
from mailcore.directory.queries import client_ip
from mailcore.errors import InvalidAddressError

log = logging.getLogger("mailroom.auth")


def ip_key(ip: str) -> str:
    """IPv4 per address; IPv6 per /64, since one host usually holds a whole /64."""
    addr = client_ip(ip)
    if addr is None:
        return ip[:45] or "unknown"
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


def account_key(address: str) -> str:
    try:
        return canonical_address(address)
    except InvalidAddressError:
        return address.strip().lower()[:320]


def _secret_hash(account: str, password: str) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"{account}\0{password}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class AuthCheck:
    allowed: bool
    reason: str = ""  # "ip" or "account" when refused
    retry_after: int = 0  # when refused: seconds until enough failures have aged out
    reservation: int = 0  # reserve_auth_attempt: the pending AuthEvent's id while in flight


# Guesses being verified count as failures until they are settled (a pending row), so guesses
# that arrive together cannot all pass the check while each other's Argon2 runs.
_COUNTED = (AuthEvent.FAILURE, AuthEvent.PENDING)


def _window_start() -> datetime:
    return timezone.now() - timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)


def _ip_failures(ip: str) -> int:
    # One per distinct (account, password): a guess in flight twice counts once.
    return (
        AuthEvent.objects.filter(kind__in=_COUNTED, ip=ip_key(ip), created_at__gte=_window_start())
        .values("account", "secret_hash")
        .distinct()
        .count()
    )


def _account_failures(account: str) -> int:
    # Distinct wrong passwords, whatever the IP: a phone retrying one stale password many
    # times counts once (Mailu #3157), a dictionary counts every word.
    return (
        AuthEvent.objects.filter(
            kind__in=_COUNTED, account=account_key(account), created_at__gte=_window_start()
        )
        .values("secret_hash")
        .distinct()
        .count()
    )


def _seconds_until_below(expiries: list[datetime], limit: int) -> int:
    """Seconds until fewer than `limit` of the failures counted at `expiries` (the moments
    they stop counting) remain; at least 1."""
    expiries.sort()
    excess = len(expiries) - limit  # this many must expire, plus one
    if excess < 0:
        return 1
    wait = (expiries[excess] - timezone.now()).total_seconds()
    return max(1, math.ceil(wait))


def _ip_retry_after(ip: str) -> int:
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    latest: dict[tuple[str, str], datetime] = {}
    rows = AuthEvent.objects.filter(
        kind__in=_COUNTED, ip=ip_key(ip), created_at__gte=_window_start()
    ).values_list("account", "secret_hash", "created_at")
    for account, secret, created in rows:
        latest[(account, secret)] = max(created, latest.get((account, secret), created))
    return _seconds_until_below(
        [t + window for t in latest.values()], settings.AUTH_MAX_FAILURES_PER_IP
    )


def _account_retry_after(account: str) -> int:
    # A distinct password stops counting when its latest use leaves the window.
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    latest: dict[str, datetime] = {}
    rows = AuthEvent.objects.filter(
        kind__in=_COUNTED, account=account_key(account), created_at__gte=_window_start()
    ).values_list("secret_hash", "created_at")
    for secret, created in rows:
        latest[secret] = max(created, latest.get(secret, created))
    return _seconds_until_below(
        [t + window for t in latest.values()], settings.AUTH_MAX_FAILURES_PER_ACCOUNT
    )


def _trusted(ip: str, account: str) -> bool:
    """A client that logged in to this account recently is not locked out by others' guesses."""
    since = timezone.now() - timedelta(seconds=settings.AUTH_TRUSTED_SECONDS)
    return AuthEvent.objects.filter(
        kind=AuthEvent.SUCCESS, ip=ip_key(ip), account=account_key(account), created_at__gte=since
    ).exists()


def _failures(ip: str, account: str) -> tuple[int, int]:
    """(_ip_failures(ip), _account_failures(account)) in one statement: one round trip less
    inside reserve_auth_attempt's locks, which every login from the same IP waits for."""
    ip_count = (
        AuthEvent.objects.filter(kind__in=_COUNTED, ip=ip_key(ip), created_at__gte=_window_start())
        .values("account", "secret_hash")
        .distinct()
    )
    account_count = (
        AuthEvent.objects.filter(
            kind__in=_COUNTED, account=account_key(account), created_at__gte=_window_start()
        )
        .values("secret_hash")
        .distinct()
    )
    sql_ip, params_ip = ip_count.query.sql_with_params()
    sql_account, params_account = account_count.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM ({sql_ip}) AS i), "  # noqa: S608
            f"(SELECT COUNT(*) FROM ({sql_account}) AS a)",
            [*params_ip, *params_account],
        )
        row = cursor.fetchone()
    return int(row[0]), int(row[1])


def _decide(ip: str, account: str) -> AuthCheck:
    ip_failures, account_failures = _failures(ip, account)
    if ip_failures >= settings.AUTH_MAX_FAILURES_PER_IP:
        return AuthCheck(False, "ip", _ip_retry_after(ip))
    if account_failures >= settings.AUTH_MAX_FAILURES_PER_ACCOUNT and not _trusted(ip, account):
        return AuthCheck(False, "account", _account_retry_after(account))
    return AuthCheck(True)


def check_auth_allowed(ip: str, account: str) -> AuthCheck:
    """Would this client be let try a password for this account now? A read-only look; a
    caller that goes on to check a password uses reserve_auth_attempt instead, so guesses
    in flight count."""
    return _decide(ip, account)


def _lock_keys(ip: str, account: str) -> None:
    """Serialise decisions for this client IP and this account across every process until
    the transaction ends. PostgreSQL: transaction-level advisory locks (no rows to create or
    clean up per IP or account seen), taken in one order so two callers cannot deadlock,
    in one round trip (the select list is evaluated left to right). SQLite: the transaction
    already holds the database's write lock (transaction_mode IMMEDIATE in
    webmail/settings.py; the pending row is written in the same transaction).

    The same statement makes the transaction's commit asynchronous (synchronous_commit off,
    for this transaction only): the commit, and with it the locks every other login from
    this IP waits for, no longer waits for PostgreSQL's WAL flush (~4 ms here). Other
    transactions see the rows as soon as the commit returns, as before, so the counting is
    unchanged; what a crash of the database server may lose is the last fraction of a
    second of AuthEvent rows (PostgreSQL flushes them within wal_writer_delay), as an
    in-memory limiter would."""
    _async_commit_and_lock(
        sorted(
            int.from_bytes(
                hashlib.sha256(f"mailroom-auth\0{k}".encode()).digest()[:8], "big", signed=True
            )
            for k in (f"ip\0{ip_key(ip)}", f"account\0{account_key(account)}")
        )
    )


def _async_commit_and_lock(keys: list[int]) -> None:
    """PostgreSQL, inside a transaction: synchronous_commit off until it ends, and the
    advisory locks `keys` (in the order given), in one statement. Nothing on SQLite."""
    if connection.vendor != "postgresql":
        return
    # Only when this is the outermost transaction: the setting lasts until the outermost
    # commit, and a caller's own transaction keeps its synchronous commit.
    outermost = len(connection.atomic_blocks) == 1
    setting = "set_config('synchronous_commit', 'off', true)" if outermost else "1"
    locks = "".join(", pg_advisory_xact_lock(%s)" for _ in keys)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {setting}{locks}", keys)


def reserve_auth_attempt(ip: str, account: str, password: str) -> AuthCheck:
    """May this client try this password for this account now? Decide BEFORE verifying, so a
    blocked client learns nothing about its guesses; when allowed, the guess is counted at
    once as a pending failure (AuthCheck.reservation), atomically with the decision, so
    guesses that arrive together are counted against each other. Settle it with
    record_auth_failure or record_auth_success (or release_reservation). A reservation never
    settled (a crash) counts as a failure until it leaves the window like one."""
    key_ip, key_account = ip_key(ip), account_key(account)
    secret = _secret_hash(key_account, password)
    with transaction.atomic():
        _lock_keys(ip, account)
        reservation = _reserve_if_allowed(key_ip, key_account, secret)
        if reservation is not None:
            return AuthCheck(True, reservation=reservation)
        # Refused (the common case is above): _decide says by which limit and for how long.
        check = _decide(ip, account)
        if not check.allowed:
            return check
        # A failure left the window between the two statements: allowed after all.
        pending = AuthEvent.objects.create(
            kind=AuthEvent.PENDING,
            ip=key_ip,
            account=key_account,
            secret_hash=secret,
            created_at=timezone.now(),
        )
    return AuthCheck(True, reservation=pending.pk)


def _reserve_if_allowed(key_ip: str, key_account: str, secret: str) -> int | None:
    """_decide's verdict and, when it allows, the pending row, in one plain statement (no ORM
    query compilation: that was most of a login's CPU): the new row's id, or None when a
    limit refuses (nothing written). Call under _lock_keys, in a new statement (so its
    snapshot sees what the lock's previous holder committed)."""
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    window = adapt(now - timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS))
    trusted = adapt(now - timedelta(seconds=settings.AUTH_TRUSTED_SECONDS))
    table = connection.ops.quote_name(AuthEvent._meta.db_table)
    counted = f"FROM {table} WHERE kind IN (%s, %s) AND created_at >= %s"
    sql = (
        f"INSERT INTO {table} (kind, ip, account, secret_hash, created_at) "  # noqa: S608
        "SELECT %s, %s, %s, %s, %s WHERE "
        f"(SELECT COUNT(*) FROM (SELECT DISTINCT account, secret_hash {counted} AND ip = %s) i)"
        " < %s AND ("
        f"(SELECT COUNT(*) FROM (SELECT DISTINCT secret_hash {counted} AND account = %s) a) < %s"
        f" OR EXISTS (SELECT 1 FROM {table} WHERE kind = %s AND ip = %s AND account = %s"
        " AND created_at >= %s)) RETURNING id"
    )
    params: list[Any] = [
        AuthEvent.PENDING, key_ip, key_account, secret, adapt(now),
        *_COUNTED, window, key_ip, settings.AUTH_MAX_FAILURES_PER_IP,
        *_COUNTED, window, key_account, settings.AUTH_MAX_FAILURES_PER_ACCOUNT,
        AuthEvent.SUCCESS, key_ip, key_account, trusted,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def release_reservation(reservation: int) -> None:
    """Forget a pending guess whose password turned out right (not a login: nothing is
    recorded)."""
    if reservation:
        AuthEvent.objects.filter(pk=reservation, kind=AuthEvent.PENDING).delete()


def record_auth_failure(ip: str, account: str, password: str, reservation: int = 0) -> int:
    """Count a wrong password (once per distinct password per IP and account), settling its
    reservation if it had one; returns the client IP's failures in the window, for the
    caller's slow-down."""
    metrics.LOGIN_FAILURES.inc()
    now = timezone.now()
    key_ip, key_account = ip_key(ip), account_key(account)
    secret = _secret_hash(key_account, password)
    with transaction.atomic():
        _lock_keys(ip, account)
        AuthEvent.objects.filter(kind__in=_COUNTED, created_at__lt=_window_start()).delete()
        repeated = AuthEvent.objects.filter(
            kind=AuthEvent.FAILURE,
            ip=key_ip,
            account=key_account,
            secret_hash=secret,
            created_at__gte=_window_start(),
        ).exists()
        pending = AuthEvent.objects.filter(pk=reservation, kind=AuthEvent.PENDING)
        if repeated:
            pending.delete()
        elif not (reservation and pending.update(kind=AuthEvent.FAILURE, created_at=now)):
            AuthEvent.objects.create(
                kind=AuthEvent.FAILURE,
                ip=key_ip,
                account=key_account,
                secret_hash=secret,
                created_at=now,
            )
    return _ip_failures(ip)


def record_auth_success(ip: str, account: str, reservation: int = 0) -> None:
    """Remember the (IP, account) pair as trusted and forget its earlier failures (and this
    login's own reservation; other guesses still in flight keep theirs)."""
    key_ip, key_account = ip_key(ip), account_key(account)
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    stale = adapt(now - timedelta(seconds=settings.AUTH_TRUSTED_SECONDS))
    table = connection.ops.quote_name(AuthEvent._meta.db_table)
    # The pair's earlier rows and this login's reservation, and successes too old to trust.
    delete = (
        f"DELETE FROM {table} WHERE (ip = %s AND account = %s AND kind <> %s) "  # noqa: S608
        "OR (id = %s AND kind = %s) OR (kind = %s AND created_at < %s)"
    )
    delete_params: list[Any] = [
        key_ip, key_account, AuthEvent.PENDING,
        reservation, AuthEvent.PENDING,
        AuthEvent.SUCCESS, stale,
    ]  # fmt: skip
    insert = f"INSERT INTO {table} (kind, ip, account, secret_hash, created_at) "
    insert_params: list[Any] = [AuthEvent.SUCCESS, key_ip, key_account, "", adapt(now)]
    # Plain statements (the ORM's compilation and delete collector were most of the CPU).
    # PostgreSQL: one statement in a transaction with an asynchronous commit (see
    # _lock_keys), no lock needed; the DELETE in WITH runs to completion whether read or not.
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            outermost = len(connection.atomic_blocks) == 1
            setting = "set_config('synchronous_commit', 'off', true)" if outermost else "1"
            cursor.execute(
                f"WITH s AS (SELECT {setting}), d AS ({delete}) "  # noqa: S608 - names only
                f"{insert} SELECT %s, %s, %s, %s, %s FROM s",
                [*delete_params, *insert_params],
            )
        else:
            cursor.execute(delete, delete_params)
            cursor.execute(insert + "VALUES (%s, %s, %s, %s, %s)", insert_params)


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering a failure: grows with the IP's failures, capped."""
    base = settings.AUTH_FAILURE_DELAY_SECONDS
    return float(min(settings.AUTH_FAILURE_DELAY_MAX_SECONDS, base * max(1, failures)))


class AuthStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # wrong credentials (or a disabled account): 535 5.7.8
    BLOCKED = "blocked"  # too many failures: 454 4.7.0, the password was not checked
    # Web and API only: the password was right and the account has 2단계 인증 on, so no
    # session or token yet (mailcore.directory.twofactor takes the second step).
    SECOND_FACTOR = "second_factor"


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    status: AuthStatus
    account: Account | None = None
    delay: float = 0.0  # how long the caller should stall before answering
    retry_after: int = 0  # BLOCKED: seconds until the client may try again


def authenticate(
    ip: str,
    address: str,
    password: str,
    *,
    door: str = "mail",
    allow_app_password: bool = True,
    client: str = "",
) -> AuthAttempt:
    """reserve → verify_credentials → settle: the whole login for every way in (sync; call
    through mailcore.asyncdb.run_db from asyncio code). `door` ("smtp", "imap", "pop3", "web",
    "api") names the way in for the log and the login history (`client`: the user agent, an
    IMAP ID, an EHLO name); every door counts against the same limits.
    The web and API logins pass allow_app_password=False (app passwords are for mail clients).

    A BLOCKED answer is decided before the password is looked at, so it is the same whether
    the password was right or wrong."""
    check = reserve_auth_attempt(ip, address, password)
    if not check.allowed:
        log.info("login blocked (%s) door=%s ip=%s account=%r", check.reason, door, ip, address)
        record_history(address, None, ip, door, LoginRecord.Result.BLOCKED, client)
        return AuthAttempt(
            AuthStatus.BLOCKED, delay=failure_delay(1), retry_after=check.retry_after
        )
    try:
        account = verify_credentials(
            address, password, ip=ip, allow_app_password=allow_app_password
        )
    except BaseException:
        release_reservation(check.reservation)  # not a verdict on the password
        raise
    reason = ""
    if account is not None and account.second_factor_on and account.login_method == "password":
        if door in SECOND_FACTOR_DOORS:
            # Not a login yet: the guess is settled (the password was right) without the
            # success that would forget this client's failures and trust it.
            release_reservation(check.reservation)
            record_history(address, account, ip, door, LoginRecord.Result.PARTIAL, client)
            return AuthAttempt(AuthStatus.SECOND_FACTOR, account=account)
        # A mail door: with 2단계 인증 on only app passwords open it (Gmail's rule). The right
        # account password fails like a wrong one, counted by the limiter.
        account, reason = None, "app_password_required"
    if account is None:
        failures = record_auth_failure(ip, address, password, check.reservation)
        log.info("login failed door=%s ip=%s account=%r %s", door, ip, address, reason)
        record_history(address, None, ip, door, LoginRecord.Result.FAILED, client, reason)
        return AuthAttempt(AuthStatus.FAILED, delay=failure_delay(failures))
    record_auth_success(ip, account.address, check.reservation)
    record_history(address, account, ip, door, LoginRecord.Result.OK, client)
    return AuthAttempt(AuthStatus.OK, account=account)


# The doors where a second factor can be asked for; every other door is a mail client's.
SECOND_FACTOR_DOORS = frozenset({"web", "api"})


def record_history(
    address: str,
    account: Account | None,
    ip: str,
    door: str,
    result: str,
    client: str,
    reason: str = "",
    method: str = "",
) -> None:
    """One login-history row; an account is found for failures on a known address too (so
    its owner sees the attempts on it). Never fails the login it records."""
    try:
        if account is None:
            try:
                account = Account.objects.filter(address=canonical_address(address)).first()
            except InvalidAddressError:
                account = None
        record_login(
            address=address,
            account=account,
            ip=ip,
            door=door,
            result=result,
            method=method or (getattr(account, "login_method", "") if result == "ok" else ""),
            client=client,
            reason=reason,
        )
    except DatabaseError:
        log.exception("login history: could not record a %s login for %r", door, address)
