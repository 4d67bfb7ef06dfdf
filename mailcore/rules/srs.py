"""Sender Rewriting Scheme for forwarded mail: the envelope sender becomes an address of ours
that carries the original, signed and dated, so SPF at the next hop passes and a bounce can
find its way back (the SRS0 form of Shevek's paper, as postsrsd writes it). Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Final

_B32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_DAYS: Final = 1024  # the timestamp wraps every 1024 days (two base32 characters)
MAX_AGE_DAYS: Final = 21


def _stamp(day: int) -> str:
    day %= _DAYS
    return _B32[day >> 5] + _B32[day & 31]


def _hash(secret: bytes, *parts: str) -> str:
    mac = hmac.new(secret, "".join(parts).lower().encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()[:4]


def forward_sender(sender: str, our_domain: str, secret: bytes, now: float | None = None) -> str:
    """The envelope sender for a copy we forward. A null sender stays null (a bounce is
    never rewritten); one of ours already (SRS0 or our domain) is kept as it is."""
    if not sender or "@" not in sender:
        return sender
    local, _, domain = sender.rpartition("@")
    if domain.lower() == our_domain.lower():
        return sender
    if local.upper().startswith("SRS0="):
        return sender  # forwarded twice: SRS1 would chain; postsrsd keeps SRS0 by default too
    day = int((now if now is not None else time.time()) // 86400)
    stamp = _stamp(day)
    digest = _hash(secret, stamp, domain, local)
    return f"SRS0={digest}={stamp}={domain}={local}@{our_domain}"


def reverse(address: str, secret: bytes, now: float | None = None) -> str | None:
    """The original sender of an SRS0 address we made, or None (bad hash, too old, not SRS)."""
    local, _, _ = address.rpartition("@")
    if not local.upper().startswith("SRS0="):
        return None
    parts = local[5:].split("=", 3)
    if len(parts) != 4:
        return None
    digest, stamp, domain, orig_local = parts
    # Case-insensitive, as postsrsd: the address may come back lower-cased (canonical form).
    if not hmac.compare_digest(digest.lower(), _hash(secret, stamp, domain, orig_local).lower()):
        return None
    if len(stamp) != 2 or any(c not in _B32 for c in stamp.upper()):
        return None
    then = _B32.index(stamp[0].upper()) * 32 + _B32.index(stamp[1].upper())
    today = int((now if now is not None else time.time()) // 86400) % _DAYS
    if (today - then) % _DAYS > MAX_AGE_DAYS:
        return None
    return f"{orig_local}@{domain}"


def secret() -> bytes:
    """SRS_SECRET, else a key derived from SECRET_KEY (so it is stable across restarts)."""
    from django.conf import settings

    configured = str(settings.SRS_SECRET)
    if configured:
        return configured.encode()
    return hashlib.sha256(b"mailroom-srs:" + str(settings.SECRET_KEY).encode()).digest()


def original_of(address: str) -> str | None:
    """The sender an SRS0 address of ours stands for (bounces of forwarded mail), or None."""
    if address[:5].upper() != "SRS0=":
        return None
    return reverse(address, secret())
