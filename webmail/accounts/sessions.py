"""Session bookkeeping: which browser sessions belong to which account, and ending them.

Works with any SESSION_ENGINE (keys are deleted through the engine's SessionStore). Tokens of
DRF's authtoken are ended here too: they are the other way an account stays signed in.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from mailcore.directory.models import Account
from webmail.accounts.models import SessionRecord, TokenRecord

log = logging.getLogger(__name__)


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


TOUCH_SECONDS = 300  # "last used" is kept to this precision: at most one write per 5 min
_touched: dict[str, float] = {}  # per process: session key or token → when last written


def record_session(
    account: Account, session_key: str | None, *, ip: str = "", user_agent: str = ""
) -> None:
    """Remember that `session_key` signs `account` in; prune the account's expired records."""
    if not session_key:
        return
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    SessionRecord.objects.filter(account=account, created_at__lt=cutoff).delete()
    SessionRecord.objects.update_or_create(
        session_key=session_key,
        defaults={
            "account": account,
            "ip": ip[:45],
            "user_agent": user_agent[:300],
            "last_seen_at": timezone.now(),
        },
    )


def _due(key: str) -> bool:
    """Whether `key`'s last-use time should be written now (not within TOUCH_SECONDS)."""
    now = time.monotonic()
    if now - _touched.get(key, -TOUCH_SECONDS) < TOUCH_SECONDS:
        return False
    if len(_touched) > 100_000:  # a long-lived process forgets old keys, not memory
        _touched.clear()
    _touched[key] = now
    return True


# Last uses waiting to be written, so a request never pays for its own: a thread of the
# process writes them every FLUSH_SECONDS (SESSION_TOUCH_BACKGROUND; tests call flush_pending).
FLUSH_SECONDS = 5.0
_pending_sessions: dict[str, tuple[str, datetime]] = {}
_pending_tokens: dict[str, tuple[str, str, datetime]] = {}
_pending_lock = threading.Lock()
_flusher_pid = 0
_stop = threading.Event()  # tests stop the writer; a process never does (daemon thread)


def touch_session(session_key: str | None, ip: str) -> None:
    if session_key and _due("s:" + session_key):
        with _pending_lock:
            _pending_sessions[session_key] = (ip[:45], timezone.now())
        _start_flusher()


def touch_token(token: Token, ip: str, user_agent: str, *, force: bool = False) -> None:
    """A token's last use; `force` (its issue at sign-in) writes now, in the request."""
    if force:
        _write_token(token.key, ip[:45], user_agent[:300], timezone.now())
    elif _due("t:" + token.key):
        with _pending_lock:
            _pending_tokens[token.key] = (ip[:45], user_agent[:300], timezone.now())
        _start_flusher()


def _write_token(key: str, ip: str, user_agent: str, at: datetime) -> None:
    with _best_effort("token"):
        if Token.objects.filter(key=key).exists():
            TokenRecord.objects.update_or_create(
                token_id=key, defaults={"ip": ip, "user_agent": user_agent, "last_seen_at": at}
            )


def flush_pending() -> int:
    """Write the waiting last uses (in this thread, on its connection); how many."""
    with _pending_lock:
        sessions = dict(_pending_sessions)
        tokens = dict(_pending_tokens)
        _pending_sessions.clear()
        _pending_tokens.clear()
    for key, (ip, at) in sessions.items():
        with _best_effort("session"):
            SessionRecord.objects.filter(session_key=key).update(last_seen_at=at, ip=ip)
    for key, (ip, agent, at) in tokens.items():
        _write_token(key, ip, agent, at)
    return len(sessions) + len(tokens)


def _start_flusher() -> None:
    """One writer thread per process (a forked worker starts its own)."""
    global _flusher_pid
    if not settings.SESSION_TOUCH_BACKGROUND or _flusher_pid == os.getpid():
        return
    with _pending_lock:
        if _flusher_pid == os.getpid():
            return
        _flusher_pid = os.getpid()
    threading.Thread(target=_flush_loop, name="session-last-use", daemon=True).start()


def stop_flusher() -> None:
    """Tests: end this process's writer thread after its current round."""
    global _flusher_pid
    _stop.set()
    _flusher_pid = 0


def _flush_loop() -> None:
    _stop.clear()
    while not _stop.wait(FLUSH_SECONDS):
        try:
            flush_pending()
        except Exception:  # never let the writer die: the next round tries again
            log.exception("session last-use writer")
        finally:
            connection.close()  # this thread's own connection: none left open between rounds


@contextmanager
def _best_effort(what: str) -> Iterator[None]:
    """ "Last used" is a courtesy: a busy database (SQLite's lock, a lost connection) must not
    fail the request that carries it. A savepoint keeps an enclosing transaction usable."""
    try:
        with transaction.atomic():
            yield
    except DatabaseError:
        log.warning("could not record the last use of a %s", what, exc_info=True)


def sign_out_everywhere(account: Account, *, keep: str | None = None) -> int:
    """The one place every "end all of them" goes through (password change, sign out
    everywhere, "this was not me", an admin's reset): every browser session but `keep` (the
    caller's own, when it stays signed in) and the API token. Returns the sessions ended."""
    ended = end_sessions(account, keep=keep)
    revoke_tokens(account)
    return ended


def end_session(account: Account, record_id: int) -> bool:
    """End one of the account's browser sessions by its record id; False if not theirs."""
    key = (
        SessionRecord.objects.filter(account=account, pk=record_id)
        .values_list("session_key", flat=True)
        .first()
    )
    if key is None:
        return False
    _store().delete(key)
    SessionRecord.objects.filter(pk=record_id).delete()
    return True


def active_sessions(account: Account) -> list[SessionRecord]:
    """The account's browser sessions that still exist, most recently used first."""
    store = _store()
    records = list(
        SessionRecord.objects.filter(account=account).order_by("-last_seen_at", "-created_at")
    )
    live = [r for r in records if store.exists(r.session_key)]
    gone = [r.pk for r in records if r not in live]
    if gone:
        SessionRecord.objects.filter(pk__in=gone).delete()
    return live


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
    on_logged_in(None, request, account)


def revoke_tokens(account: Account) -> None:
    Token.objects.filter(user=account).delete()


def on_logged_in(sender: Any, request: HttpRequest, user: Account, **kwargs: Any) -> None:
    from webmail.api.clientip import client_ip

    # login() has just cycled the key, so this is the session's final key.
    record_session(
        user,
        request.session.session_key,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def on_logged_out(sender: Any, request: HttpRequest, user: Account | None, **kwargs: Any) -> None:
    # Sent before the session is flushed: its key is still readable here.
    forget_session(request.session.session_key)


class SessionActivityMiddleware:
    """Keeps each signed-in browser session's "last used" (and IP) for Settings → sessions, at
    most one UPDATE per session per TOUCH_SECONDS (a per-process memory skips the rest)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            from webmail.api.clientip import client_ip

            touch_session(request.session.session_key, client_ip(request))
        return response


def on_factors_reset(sender: object, account: Account, **kwargs: object) -> None:
    """mailcore.directory.twofactor.factors_reset: an admin reset the account's factors."""
    sign_out_everywhere(account)
