"""verify_credentials(): the one password check behind web login, API tokens, SMTP AUTH, IMAP
and POP3. Unknown users cost the same time as wrong passwords (no account enumeration)."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError

_DUMMY_HASH: str | None = None


def _burn(password: str) -> None:
    global _DUMMY_HASH
    from django.contrib.auth.hashers import check_password

    if _DUMMY_HASH is None:
        _DUMMY_HASH = make_password("mailroom-dummy-password")
    check_password(password, _DUMMY_HASH)


def verify_credentials(address: str, password: str) -> Account | None:
    """The active account for (address, password), or None. Never says which part was wrong."""
    if not password or len(password) > 1024 or len(address) > 320:
        return None
    try:
        canonical = canonical_address(address)
    except InvalidAddressError:
        _burn(password)
        return None
    account = Account.objects.filter(address=canonical).first()
    if account is None:
        _burn(password)
        return None
    if not account.check_password(password) or not account.is_active:
        return None
    return account
