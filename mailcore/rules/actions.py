"""Changes to a user's rules: the rule list (compiled to the active Sieve script), the script
text itself (validated, line/column errors), blocked senders, forwarding, vacation, and
starting an "apply to existing mail" job. Every action touches only the acting account."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction

from mailcore.addresses import canonical_address, canonical_domain
from mailcore.directory.models import Account, Domain
from mailcore.errors import InvalidAddressError, UserError
from mailcore.rules.models import (
    BlockedSender,
    DomainRulesPolicy,
    Forwarding,
    RuleJob,
    RuleSet,
    Vacation,
)
from mailcore.rules.queries import forget_blocked, forward_outside
from mailcore.rules.rulelist import RuleListError, clean_rules, generate_script
from mailcore.rules.sieve import SieveSyntaxError, parse
from mailcore.store.models import Folder

MAX_BLOCKED = 1000


class RuleError(UserError):
    code = "rule_invalid"


class ScriptError(UserError):
    """A script that does not parse; `line` and `column` point at the problem."""

    code = "sieve_invalid"

    def __init__(self, error: SieveSyntaxError) -> None:
        super().__init__(str(error))
        self.line = error.line
        self.column = error.column


@transaction.atomic
def do_save_rules(*, acting_account: Account, rules: Any) -> RuleSet:
    """Replace the rule list; the script is generated from it and is no longer custom."""
    try:
        cleaned = clean_rules(rules)
    except RuleListError as exc:
        raise RuleError(str(exc)) from None
    script = generate_script(cleaned)
    parse(script)  # generated text always parses; a failure here is a bug, not user input
    ruleset, _ = RuleSet.objects.select_for_update().get_or_create(account=acting_account)
    ruleset.rules, ruleset.script, ruleset.custom = cleaned, script, False
    ruleset.save()
    return ruleset


@transaction.atomic
def do_save_script(*, acting_account: Account, script: str) -> RuleSet:
    """Store a hand-edited script (advanced users, admins); it must parse."""
    if not isinstance(script, str):
        raise RuleError("script must be text")
    try:
        parse(script)
    except SieveSyntaxError as exc:
        raise ScriptError(exc) from None
    ruleset, _ = RuleSet.objects.select_for_update().get_or_create(account=acting_account)
    ruleset.script, ruleset.custom = script, True
    ruleset.save()
    return ruleset


def _block_value(value: str) -> str:
    value = value.strip().lower().lstrip("@")
    if not value or len(value) > 320 or any(c in value for c in " <>,;\r\n\"'"):
        raise InvalidAddressError("Enter an address (a@b.c) or a domain (b.c)")
    try:
        if "@" in value:
            return canonical_address(value)
        if "." not in value:
            raise InvalidAddressError("Enter an address (a@b.c) or a domain (b.c)")
        return canonical_domain(value)
    except (ValueError, UnicodeError) as exc:
        raise InvalidAddressError("Enter an address (a@b.c) or a domain (b.c)") from exc


def do_block_sender(*, acting_account: Account, value: str) -> BlockedSender:
    clean = _block_value(value)
    if clean == acting_account.address.lower():
        raise RuleError("You cannot block your own address")
    if BlockedSender.objects.filter(account=acting_account).count() >= MAX_BLOCKED:
        raise RuleError(f"At most {MAX_BLOCKED} blocked senders")
    try:
        with transaction.atomic():
            row, _ = BlockedSender.objects.get_or_create(account=acting_account, value=clean)
    except IntegrityError:
        row = BlockedSender.objects.get(account=acting_account, value=clean)
    forget_blocked(acting_account.address)
    return row


def do_unblock_sender(*, acting_account: Account, value: str) -> int:
    try:
        clean = _block_value(value)
    except InvalidAddressError:
        clean = value.strip().lower()
    count, _ = BlockedSender.objects.filter(account=acting_account, value=clean).delete()
    forget_blocked(acting_account.address)
    return count


@transaction.atomic
def do_set_forward_policy(*, domain: Domain, allowed: bool | None) -> None:
    """The admin's choice for `domain`: may its accounts forward outside it? None = the server
    default (RULES_FORWARD_OUTSIDE). Forwarding already set up stays; it is checked again when
    the user changes it, and at delivery (mailcore.delivery.filtering)."""
    if allowed is None:
        DomainRulesPolicy.objects.filter(domain=domain).delete()
    else:
        DomainRulesPolicy.objects.update_or_create(
            domain=domain, defaults={"forward_outside": allowed}
        )


@transaction.atomic
def do_set_forwarding(
    *, acting_account: Account, enabled: bool, address: str, keep_copy: bool
) -> Forwarding:
    address = address.strip()
    if enabled or address:
        try:
            address = canonical_address(address)
        except (InvalidAddressError, ValueError, UnicodeError) as exc:
            raise InvalidAddressError("Enter the address to forward to") from exc
    if enabled and address == acting_account.address.lower():
        raise RuleError("Mail cannot be forwarded to the same account")
    if enabled:
        domain = address.rpartition("@")[2]
        own_domain = acting_account.address.rpartition("@")[2]
        if domain != own_domain and not forward_outside(acting_account):
            raise RuleError("Your domain does not allow forwarding outside it")
    row, _ = Forwarding.objects.select_for_update().get_or_create(account=acting_account)
    row.enabled, row.address, row.keep_copy = enabled, address, keep_copy
    row.save()
    return row


@transaction.atomic
def do_set_vacation(
    *,
    acting_account: Account,
    enabled: bool,
    start: date | None,
    end: date | None,
    subject: str,
    body: str,
    days: int,
) -> Vacation:
    if start and end and end < start:
        raise RuleError("The end date is before the start date")
    if enabled and not body.strip():
        raise RuleError("Write the reply text")
    if not 1 <= days <= 30:
        raise RuleError("Reply once per 1 to 30 days")
    if len(subject) > 200 or len(body) > 10_000:
        raise RuleError("Subject or text too long")
    row, _ = Vacation.objects.select_for_update().get_or_create(account=acting_account)
    row.enabled, row.start, row.end = enabled, start, end
    row.subject, row.body, row.days = subject.strip(), body, days
    row.save()
    return row


def do_start_rule_job(*, acting_account: Account, folder: Folder) -> RuleJob:
    """Queue "apply to existing mail" over `folder` (the caller checked access)."""
    from mailcore.rules.tasks import apply_rules_to_folder

    job = RuleJob.objects.create(account=acting_account, folder=folder)
    transaction.on_commit(lambda: apply_rules_to_folder.delay(job.pk))
    return job
