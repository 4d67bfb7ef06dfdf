"""Read side of the rules: an account's profile (script, blocks, forwarding, vacation) as the
delivery worker needs it, and the cheap blocked-sender check the SMTP RCPT stage asks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Final

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.rules.models import (
    BlockedSender,
    DomainRulesPolicy,
    Forwarding,
    RuleJob,
    RuleSet,
    Vacation,
)
from mailcore.rules.sieve import Script, SieveSyntaxError, parse


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything the delivery of one copy consults; None/empty when the user set nothing."""

    script: Script | None
    blocked: frozenset[str]
    forwarding: Forwarding | None
    vacation: Vacation | None
    forward_outside: bool

    @property
    def empty(self) -> bool:
        return not (self.script or self.blocked or self.forwarding or self.vacation)


_SCRIPTS: dict[tuple[int, str], Script] = {}
_SCRIPTS_LOCK = threading.Lock()


def _parsed(ruleset: RuleSet) -> Script | None:
    """The parsed script, cached per (account, last change): parsing is the costly part."""
    if not ruleset.script.strip():
        return None
    key = (ruleset.account_id, ruleset.updated_at.isoformat())
    with _SCRIPTS_LOCK:
        found = _SCRIPTS.get(key)
    if found is None:
        try:
            found = parse(ruleset.script)
        except SieveSyntaxError:
            return None  # validated on save; a script that stopped parsing runs as none
        with _SCRIPTS_LOCK:
            if len(_SCRIPTS) > 10_000:
                _SCRIPTS.clear()
            _SCRIPTS[key] = found
    return found


def vacation_on(vacation: Vacation | None, today: date | None = None) -> bool:
    if vacation is None or not vacation.enabled:
        return False
    today = today or timezone.localdate()
    if vacation.start and today < vacation.start:
        return False
    return not (vacation.end and today > vacation.end)


def get_profile(account: Account) -> Profile:
    """One indexed query for the common case (a user with no rules at all); the settings
    that exist are read after it. The caller keeps the result for the batch."""
    mine = OuterRef("pk")
    row = (
        Account.objects.filter(pk=account.pk)
        .annotate(
            has_script=Exists(RuleSet.objects.filter(account=mine).exclude(script="")),
            has_blocks=Exists(BlockedSender.objects.filter(account=mine)),
            has_forward=Exists(Forwarding.objects.filter(account=mine, enabled=True)),
            has_vacation=Exists(Vacation.objects.filter(account=mine, enabled=True)),
        )
        .values("has_script", "has_blocks", "has_forward", "has_vacation")
        .first()
    )
    present = {str(k): bool(v) for k, v in row.items()} if row else {}
    if not any(present.values()):
        return Profile(None, frozenset(), None, None, True)
    ruleset = RuleSet.objects.filter(account=account).first() if present["has_script"] else None
    forwarding = (
        Forwarding.objects.filter(account=account, enabled=True).exclude(address="").first()
        if present["has_forward"]
        else None
    )
    vacation = (
        Vacation.objects.filter(account=account, enabled=True).first()
        if present["has_vacation"]
        else None
    )
    blocked = (
        frozenset(BlockedSender.objects.filter(account=account).values_list("value", flat=True))
        if present["has_blocks"]
        else frozenset()
    )
    return Profile(
        script=_parsed(ruleset) if ruleset else None,
        blocked=blocked,
        forwarding=forwarding,
        vacation=vacation,
        forward_outside=forward_outside(account),
    )


def domain_forward_policy(domain_id: int) -> bool | None:
    """The admin's choice for the domain (None = the server default)."""
    policy = DomainRulesPolicy.objects.filter(domain_id=domain_id).first()
    return policy.forward_outside if policy else None


def forward_outside(account: Account) -> bool:
    """May `account` forward outside its domain (the domain's policy, else the setting)?"""
    policy = domain_forward_policy(account.domain_id)
    return bool(settings.RULES_FORWARD_OUTSIDE) if policy is None else policy


def is_blocked(blocked: frozenset[str], sender: str) -> bool:
    """`sender` (an address) matches a blocked address or its domain (or a parent domain)."""
    sender = sender.strip().lower()
    if not sender or not blocked:
        return False
    if sender in blocked:
        return True
    domain = sender.rpartition("@")[2]
    parts = domain.split(".")
    return any(".".join(parts[i:]) in blocked for i in range(len(parts) - 1))


_RCPT_TTL: Final = 30.0
_rcpt_cache: dict[str, tuple[float, frozenset[str]]] = {}
_rcpt_lock = threading.Lock()


def blocked_for_address(address: str) -> frozenset[str]:
    """The block list of the account at `address`, cached for 30 s per process: the RCPT
    stage asks for every recipient, and a block list changes rarely (a new block is
    enforced at delivery at once anyway)."""
    key = address.lower()
    now = time.monotonic()
    with _rcpt_lock:
        hit = _rcpt_cache.get(key)
    if hit is not None and now - hit[0] < _RCPT_TTL:
        return hit[1]
    values = frozenset(
        BlockedSender.objects.filter(account__address=key).values_list("value", flat=True)
    )
    with _rcpt_lock:
        if len(_rcpt_cache) > 50_000:
            _rcpt_cache.clear()
        _rcpt_cache[key] = (now, values)
    return values


def cached_blocked_for_address(address: str) -> frozenset[str] | None:
    """blocked_for_address's answer if this process has a fresh one; never asks the database."""
    with _rcpt_lock:
        hit = _rcpt_cache.get(address.lower())
    return hit[1] if hit is not None and time.monotonic() - hit[0] < _RCPT_TTL else None


def forget_blocked(address: str) -> None:
    with _rcpt_lock:
        _rcpt_cache.pop(address.lower(), None)


def get_ruleset(account: Account) -> RuleSet:
    return RuleSet.objects.filter(account=account).first() or RuleSet(account=account)


def list_blocked(account: Account) -> list[BlockedSender]:
    return list(BlockedSender.objects.filter(account=account))


def get_forwarding(account: Account) -> Forwarding:
    return Forwarding.objects.filter(account=account).first() or Forwarding(account=account)


def get_vacation(account: Account) -> Vacation:
    return Vacation.objects.filter(account=account).first() or Vacation(account=account)


def access_job(account: Account, job_id: int) -> RuleJob:
    from mailcore.errors import NotFoundError

    job = RuleJob.objects.filter(Q(account=account) & Q(pk=job_id)).first()
    if job is None:
        raise NotFoundError("job not found")
    return job
