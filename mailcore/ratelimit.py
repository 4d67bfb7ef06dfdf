"""The login limiter shared by SMTP AUTH (and later IMAP, POP3, the web login): failures per
client IP and per account, counted in the database so every process sees the same numbers.
Protocol replies and sleeping belong to the callers; this module only decides."""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mailcore.addresses import canonical_address
from mailcore.auth import verify_credentials
from mailcore.directory.models import Account, AuthEvent
from mailcore.directory.queries import client_ip
from mailcore.errors import InvalidAddressError


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
        return AuthCheck(False, "ip")
    if _account_failures(account) >= settings.AUTH_MAX_FAILURES_PER_ACCOUNT and not _trusted(
        ip, account
    ):
        return AuthCheck(False, "account")
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


def authenticate(ip: str, address: str, password: str) -> AuthAttempt:
    """check → verify_credentials → record: the whole login for a protocol layer (sync; call
    through mailcore.asyncdb.run_db from asyncio code)."""
    if not check_auth_allowed(ip, address).allowed:
        return AuthAttempt(AuthStatus.BLOCKED, delay=failure_delay(1))
    account = verify_credentials(address, password, ip=ip)
    if account is None:
        failures = record_auth_failure(ip, address, password)
        return AuthAttempt(AuthStatus.FAILED, delay=failure_delay(failures))
    record_auth_success(ip, account.address)
    return AuthAttempt(AuthStatus.OK, account=account)
