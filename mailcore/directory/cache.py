"""A short-lived, per-process memo of the lookups the SMTP listener makes for every message
(Postfix's proxymap and trivial-rewrite keep theirs for a process's lifetime): recipients that
resolve to a mailbox, and the relay access rules. A hit costs no database query and no thread
hop. A change made in this process clears everything at once (signals, below); one made in
another process (the admin console) is seen within TTL_SECONDS.

Only answers that accept are kept: a recipient that is unknown now may be created a second
later, and a stale refusal would be a permanent 550 to the sender, whereas a stale acceptance
is settled by the worker (which resolves the recipient again at delivery)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from mailcore.directory.models import Account, Alias, Domain, RelayRule
from mailcore.directory.queries import (
    AccessRule,
    Recipient,
    Resolution,
    list_access_rules,
    resolve_recipient,
)

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000
_KEPT = (Resolution.ACCOUNT, Resolution.ALIAS, Resolution.POSTMASTER)

_recipients: dict[str, tuple[float, Recipient]] = {}
_rules: list[tuple[float, list[AccessRule]]] = []


def cached_recipient(address: str) -> Recipient | None:
    """resolve_recipient(address) if it was answered (and accepted) within the TTL, else None."""
    hit = _recipients.get(address)
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def recipient(address: str) -> Recipient:
    """resolve_recipient(address), from the memo when it can be."""
    found = cached_recipient(address)
    if found is None:
        found = resolve_recipient(address)
        if found.resolution in _KEPT:
            if len(_recipients) >= MAX_ENTRIES:
                _recipients.clear()
            _recipients[address] = (time.monotonic() + TTL_SECONDS, found)
    return found


def cached_access_rules() -> list[AccessRule] | None:
    """Every relay access rule if they were loaded within the TTL, else None."""
    hit = _rules[0] if _rules else None
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def access_rules() -> list[AccessRule]:
    """Every relay access rule (list_access_rules), from the memo when it can be."""
    rules = cached_access_rules()
    if rules is None:
        rules = list_access_rules()
        _rules[:] = [(time.monotonic() + TTL_SECONDS, rules)]
    return rules


def clear(**_: Any) -> None:
    """Forget everything (a directory row changed in this process; the tables were flushed):
    now, and again once the change commits (a lookup in between may have read the old rows)."""
    _forget()
    transaction.on_commit(_forget)


_listeners: list[Callable[[], None]] = []


def on_clear(forget: Callable[[], None]) -> None:
    """Call `forget` whenever this memo is forgotten: another per-process memo of directory
    answers (mailcore.delivery.memo) follows the same changes, explicit clear() calls after
    a bulk update included."""
    _listeners.append(forget)


def _forget() -> None:
    _recipients.clear()
    _rules.clear()
    for forget in _listeners:
        forget()


for _model in (Domain, Account, Alias, RelayRule):
    post_save.connect(clear, sender=_model, weak=False, dispatch_uid=f"dircache-save-{_model}")
    post_delete.connect(clear, sender=_model, weak=False, dispatch_uid=f"dircache-del-{_model}")
post_migrate.connect(clear, weak=False, dispatch_uid="dircache-migrate")
