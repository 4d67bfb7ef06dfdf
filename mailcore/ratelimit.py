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

from django.conf import settings
from django.utils import timezone

from mailcore.addresses import canonical_address
from mailcore.auth import verify_credentials
from mailcore.directory.models import Account, AuthEvent
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


def _window_start() -> datetime:
    return timezone.now() - timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)


def _ip_failures(ip: str) -> int:
    return AuthEvent.objects.filter(
        kind=AuthEvent.FAILURE, ip=ip_key(ip), created_at__gte=_window_start()
    ).count()


def _account_failures(account: str) -> int:
    # Distinct wrong passwords, whatever the IP: a phone retrying one stale password many
    # times counts once (Mailu #3157), a dictionary counts every word.
    return (
        AuthEvent.objects.filter(
            kind=AuthEvent.FAILURE, account=account_key(account), created_at__gte=_window_start()
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
    times = AuthEvent.objects.filter(
        kind=AuthEvent.FAILURE, ip=ip_key(ip), created_at__gte=_window_start()
    ).values_list("created_at", flat=True)
    return _seconds_until_below([t + window for t in times], settings.AUTH_MAX_FAILURES_PER_IP)


def _account_retry_after(account: str) -> int:
    # A distinct password stops counting when its latest use leaves the window.
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    latest: dict[str, datetime] = {}
    rows = AuthEvent.objects.filter(
        kind=AuthEvent.FAILURE, account=account_key(account), created_at__gte=_window_start()
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


def check_auth_allowed(ip: str, account: str) -> AuthCheck:
    """May this client try a password for this account now? Check BEFORE verifying, so a
    blocked client learns nothing about its guesses."""
    if _ip_failures(ip) >= settings.AUTH_MAX_FAILURES_PER_IP:
        return AuthCheck(False, "ip", _ip_retry_after(ip))
    if _account_failures(account) >= settings.AUTH_MAX_FAILURES_PER_ACCOUNT and not _trusted(
        ip, account
    ):
        return AuthCheck(False, "account", _account_retry_after(account))
    return AuthCheck(True)


def record_auth_failure(ip: str, account: str, password: str) -> int:
    """Count a wrong password (once per distinct password per IP and account); returns the
    client IP's failures in the window, for the caller's slow-down."""
    now = timezone.now()
    key_ip, key_account = ip_key(ip), account_key(account)
    secret = _secret_hash(key_account, password)
    AuthEvent.objects.filter(kind=AuthEvent.FAILURE, created_at__lt=_window_start()).delete()
    repeated = AuthEvent.objects.filter(
        kind=AuthEvent.FAILURE,
        ip=key_ip,
        account=key_account,
        secret_hash=secret,
        created_at__gte=_window_start(),
    )
    if not repeated.exists():
        AuthEvent.objects.create(
            kind=AuthEvent.FAILURE,
            ip=key_ip,
            account=key_account,
            secret_hash=secret,
            created_at=now,
        )
    return _ip_failures(ip)


def record_auth_success(ip: str, account: str) -> None:
    """Remember the (IP, account) pair as trusted and forget its earlier failures."""
    key_ip, key_account = ip_key(ip), account_key(account)
    AuthEvent.objects.filter(ip=key_ip, account=key_account).delete()
    AuthEvent.objects.create(
        kind=AuthEvent.SUCCESS, ip=key_ip, account=key_account, created_at=timezone.now()
    )
    stale = timezone.now() - timedelta(seconds=settings.AUTH_TRUSTED_SECONDS)
    AuthEvent.objects.filter(kind=AuthEvent.SUCCESS, created_at__lt=stale).delete()


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering a failure: grows with the IP's failures, capped."""
    base = settings.AUTH_FAILURE_DELAY_SECONDS
    return float(min(settings.AUTH_FAILURE_DELAY_MAX_SECONDS, base * max(1, failures)))


class AuthStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"  # wrong credentials (or a disabled account): 535 5.7.8
    BLOCKED = "blocked"  # too many failures: 454 4.7.0, the password was not checked


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
) -> AuthAttempt:
    """check → verify_credentials → record: the whole login for every way in (sync; call
    through mailcore.asyncdb.run_db from asyncio code). `door` ("smtp", "imap", "pop3", "web",
    "api") only names the way in for the log; every door counts against the same limits.
    The web and API logins pass allow_app_password=False (app passwords are for mail clients).

    A BLOCKED answer is decided before the password is looked at, so it is the same whether
    the password was right or wrong."""
    check = check_auth_allowed(ip, address)
    if not check.allowed:
        log.info("login blocked (%s) door=%s ip=%s account=%r", check.reason, door, ip, address)
        return AuthAttempt(
            AuthStatus.BLOCKED, delay=failure_delay(1), retry_after=check.retry_after
        )
    account = verify_credentials(address, password, ip=ip, allow_app_password=allow_app_password)
    if account is None:
        failures = record_auth_failure(ip, address, password)
        log.info("login failed door=%s ip=%s account=%r", door, ip, address)
        return AuthAttempt(AuthStatus.FAILED, delay=failure_delay(failures))
    record_auth_success(ip, account.address)
    return AuthAttempt(AuthStatus.OK, account=account)
