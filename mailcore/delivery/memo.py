"""A short-lived, per-process memo of the look-ups a delivery batch makes for each recipient
(mailcore.delivery.actions._deliver_local): the alias expansion, the account's INBOX and its
rules profile, three statements a batch. It is kept the way mailcore.directory.cache keeps the
SMTP listener's: a change saved in this process clears everything at once (signals, and
mailcore.directory.cache.clear); one made in another process (the web process's admin console
or API) is seen within TTL_SECONDS (Postfix's proxymap and Dovecot's auth cache keep theirs
longer).

Only answers that deliver are kept, never ones that refuse or defer: an expansion to local
mailboxes without a problem, an INBOX that exists, a profile without any rule (the common
case; an account with rules reads them at each batch). A stale "no such mailbox" would bounce
mail for good; a stale delivery is what a change one second later would have got anyway.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from mailcore.directory import cache as dircache
from mailcore.directory.models import Account, Alias, Domain
from mailcore.directory.queries import Expansion, expand_recipient
from mailcore.rules.models import BlockedSender, DomainRulesPolicy, Forwarding, RuleSet, Vacation
from mailcore.rules.queries import Profile, get_profile
from mailcore.store.models import Folder, SpecialUse

TTL_SECONDS = dircache.TTL_SECONDS
MAX_ENTRIES = 10_000

_expansions: dict[str, tuple[float, Expansion]] = {}
_inboxes: dict[int, tuple[float, Folder]] = {}
_profiles: dict[int, tuple[float, Profile]] = {}


def expansion(address: str) -> Expansion:
    """expand_recipient(address), from the memo when it can be. The caller must not change
    the answer (it may be another batch's too)."""
    hit = _expansions.get(address)
    if hit is not None and hit[0] >= time.monotonic():
        return hit[1]
    found = expand_recipient(address)
    if found.accounts and not (found.problems or found.unrouted_postmaster):
        _keep(_expansions, address, found)
    return found


def inbox(account: Account) -> Folder | None:
    """The account's INBOX folder row (None when it has none), from the memo when it can be.
    Only its identity (pk, account, path) is read from it: counters come from the database."""
    hit = _inboxes.get(account.pk)
    if hit is not None and hit[0] >= time.monotonic():
        return hit[1]
    found = Folder.objects.filter(account=account, special_use=SpecialUse.INBOX).first()
    if found is not None:
        _keep(_inboxes, account.pk, found)
    return found


def profile(account: Account) -> Profile:
    """get_profile(account), from the memo when the account has no rules at all."""
    hit = _profiles.get(account.pk)
    if hit is not None and hit[0] >= time.monotonic():
        return hit[1]
    found = get_profile(account)
    if found.empty:
        _keep(_profiles, account.pk, found)
    return found


def _keep(memo: dict[Any, tuple[float, Any]], key: Any, value: Any) -> None:
    if len(memo) >= MAX_ENTRIES:
        memo.clear()
    memo[key] = (time.monotonic() + TTL_SECONDS, value)


def clear(**_: Any) -> None:
    """Forget everything (a row they depend on changed in this process; tables flushed): now,
    and again once the change commits (a look-up in between may have read the old rows)."""
    forget()
    transaction.on_commit(forget)


def forget() -> None:
    """Forget everything now (tests: rows rolled back send no signal)."""
    _expansions.clear()
    _inboxes.clear()
    _profiles.clear()


dircache.on_clear(forget)  # what clears the SMTP memo clears this one (e.g. a bulk update)
for _model in (
    Domain,
    Account,
    Alias,
    Folder,
    RuleSet,
    BlockedSender,
    Forwarding,
    Vacation,
    DomainRulesPolicy,
):
    post_save.connect(clear, sender=_model, weak=False, dispatch_uid=f"dlvmemo-save-{_model}")
    post_delete.connect(clear, sender=_model, weak=False, dispatch_uid=f"dlvmemo-del-{_model}")
post_migrate.connect(clear, weak=False, dispatch_uid="dlvmemo-migrate")
