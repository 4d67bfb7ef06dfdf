"""Session bookkeeping: which browser sessions belong to which account, and ending them.

Works with any SESSION_ENGINE (keys are deleted through the engine's SessionStore). Tokens of
DRF's authtoken are ended here too: they are the other way an account stays signed in.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from mailcore.directory.models import Account
from webmail.accounts.models import SessionRecord


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def record_session(account: Account, session_key: str | None) -> None:
    """Remember that `session_key` signs `account` in; prune the account's expired records."""
    if not session_key:
        return
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    SessionRecord.objects.filter(account=account, created_at__lt=cutoff).delete()
    SessionRecord.objects.update_or_create(session_key=session_key, defaults={"account": account})


def forget_session(session_key: str | None) -> None:
    if session_key:
        SessionRecord.objects.filter(session_key=session_key).delete()


def end_sessions(account: Account, *, keep: str | None = None) -> int:
    """End every recorded session of `account` except `keep`; returns how many were ended."""
    keys = list(
        SessionRecord.objects.filter(account=account)
        .exclude(session_key=keep or "")
        .values_list("session_key", flat=True)
    )
    store = _store()
    for key in keys:
        store.delete(key)
    SessionRecord.objects.filter(account=account, session_key__in=keys).delete()
    return len(keys)


def keep_current_session(request: HttpRequest, account: Account) -> None:
    """After a password change: keep the caller's own session signed in (it gets a new key
    and the new password's auth hash) and keep its record in step."""
    old_key = request.session.session_key
    update_session_auth_hash(request, account)
    if old_key != request.session.session_key:
        forget_session(old_key)
    record_session(account, request.session.session_key)


def revoke_tokens(account: Account) -> None:
    Token.objects.filter(user=account).delete()


def on_logged_in(sender: Any, request: HttpRequest, user: Account, **kwargs: Any) -> None:
    # login() has just cycled the key, so this is the session's final key.
    record_session(user, request.session.session_key)


def on_logged_out(sender: Any, request: HttpRequest, user: Account | None, **kwargs: Any) -> None:
    # Sent before the session is flushed: its key is still readable here.
    forget_session(request.session.session_key)
