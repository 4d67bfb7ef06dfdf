"""Signed, cookie-less URLs for the inline (cid:) images of a message body.

The body is shown in a sandboxed frame whose origin is opaque, so its image requests carry no
SameSite cookies. Each image URL carries ?sig=, an HMAC (django.core.signing, SECRET_KEY)
over (account id, message id) with a timestamp; it works for CID_URL_MAX_AGE seconds and only
for that message. Anything else about the request is checked as for a signed-in user.
"""

from __future__ import annotations

from django.core import signing
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from mailcore.errors import NotFoundError
from mailcore.store.models import Message
from mailcore.store.queries import access_message
from webmail.accounts.current import current_account
from webmail.accounts.queries import get_active_account

CID_URL_MAX_AGE = 3600  # seconds; a body left open longer is reloaded to get fresh URLs
_SALT = "mailroom.api.cid-url"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def sign_cid_access(*, account_id: int, message_id: int) -> str:
    return _signer().sign(f"{account_id}.{message_id}")


def signed_account_id(sig: str, *, message_id: int) -> int | None:
    """The account id a valid, unexpired signature for `message_id` grants; else None."""
    try:
        value = _signer().unsign(sig, max_age=CID_URL_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    account, _, message = value.partition(".")
    if not (account.isdigit() and message.isdigit()) or int(message) != message_id:
        return None
    return int(account)


def access_message_for_cid(request: Request, message_id: int) -> Message:
    """The message whose inline image is asked for: through a valid ?sig= (no cookies needed)
    or the signed-in user's own access. A bad, expired or foreign signature without a usable
    sign-in is a 404; no signature and no sign-in stays "not authenticated"."""
    sig = request.query_params.get("sig")
    if sig is not None:
        account_id = signed_account_id(sig, message_id=message_id)
        if account_id is not None:
            return access_message(get_active_account(account_id), message_id)
    if request.user.is_authenticated:
        return access_message(current_account(request), message_id)
    if sig is not None:
        raise NotFoundError("bad or expired image signature")
    raise NotAuthenticated
