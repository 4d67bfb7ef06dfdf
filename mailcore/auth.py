"""verify_credentials(): the one password check behind web login, API tokens, SMTP AUTH, IMAP
and POP3. Unknown users cost the same time as wrong passwords (no account enumeration).

Mail clients may also use an app password (mailcore.directory.models.AppPassword); the web
login does not accept them (allow_app_password=False), as Gmail's does not."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password

from mailcore.addresses import canonical_address
from mailcore.directory.actions import (
    app_password_hash,
    looks_like_app_password,
    record_app_password_use,
)
from mailcore.directory.models import Account, AppPassword
from mailcore.errors import InvalidAddressError

_DUMMY_HASH: str | None = None


def _burn(password: str) -> None:
    global _DUMMY_HASH
    from django.contrib.auth.hashers import check_password

    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password("mailroom-dummy-password")
    check_password(password, _DUMMY_HASH)


def verify_credentials(
    address: str, password: str, *, ip: str = "", allow_app_password: bool = True
) -> Account | None:
    """The active account for (address, password), or None. Never says which part was wrong.

    `password` may be the account password or (with allow_app_password) one of its app
    passwords, spaces ignored; a matching app password records its last use (time and `ip`).
    The app-password lookup runs for known and unknown addresses alike, so an unknown user
    still costs what a wrong password costs.
    """
    if not password or len(password) > 1024 or len(address) > 320:
        return None
    try:
        canonical = canonical_address(address)
    except InvalidAddressError:
        _burn(password)
        return None
    app_password = None
    if allow_app_password and looks_like_app_password(password):
        app_password = (
            AppPassword.objects.filter(secret_hash=app_password_hash(password))
            .select_related("account")
            .first()
        )
    if app_password is not None and app_password.account.address == canonical:
        account: Account | None = app_password.account  # already read with it
    else:
        # With its domain (one join, no round trip): the web login reads whether the domain
        # requires 2단계 인증 (mailcore.directory.twofactor.needs_enrolment).
        account = Account.objects.select_related("domain").filter(address=canonical).first()
    if account is None:
        _burn(password)
        return None
    if app_password is not None and app_password.account_id == account.pk:
        if not account.is_active:
            return None
        record_app_password_use(app_password, ip)
        account.login_method = "app_password"  # for the login history (not a field)
        return account
    if not account.check_password(password) or not account.is_active:
        return None
    account.login_method = "password"
    return account
