"""Containment of a compromised account: the adaptive sending policy (Gmail's and Naver's
"sending suspended", Postfix's hold queue).

Every authenticated send (web, API, SMTP submission, the outbox) asks `admit_submission`
inside its transaction. The account's SendingState row is locked there, so its submissions
are decided one after another and a burst cannot slip past the threshold in parallel.

- Norm: the account's busiest clock hour over the last CONTAIN_NORM_DAYS days (SendingHour
  rows, written here), in messages and recipients. A new account has no history: the floors.
- Burst: more than max(floor, CONTAIN_BURST_FACTOR x norm) messages (or recipients) within the
  last CONTAIN_WINDOW_SECONDS (a sliding window over the queue of record) holds the account.
- Bounces: over CONTAIN_BOUNCE_WINDOW_SECONDS, of the account's submitted recipients that
  became final, a hard-bounce share of CONTAIN_BOUNCE_RATE (with at least
  CONTAIN_BOUNCE_MIN_SAMPLE of them), or CONTAIN_SPAM_MIN refusals whose reply reads as spam
  and a share of CONTAIN_SPAM_RATE, holds it. Checked at each submission and after each
  delivery attempt of its mail that bounced (`after_attempts`), so queued mail stops too.
- The daily limit (SUBMISSION_MAX_MESSAGES_PER_DAY) is part of the same policy: refused with
  DailyLimitError (API 429 daily_limit, SMTP 550 5.7.1), held mail counting too.
- Overrides (SendingOverride) per account, else per domain: exempt, or other limits.

Held means: every queued entry the account submitted (remote and local recipients alike) is
PAUSED in the queue of record, new submissions are accepted (the 250 still means durable)
and queued PAUSED, and the user and the admins get a notice mail. Nothing is deleted; an
admin releases (paused entries are queued again, counters start afresh) or deletes it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from mailcore.delivery import spool
from mailcore.delivery.entries import dispatch
from mailcore.delivery.models import (
    EntryState,
    HoldReason,
    QueueEntry,
    QueueRecipient,
    RecipientState,
    SendingHour,
    SendingOverride,
    SendingState,
)
from mailcore.directory.models import Account, DomainAdmin
from mailcore.errors import DailyLimitError

if TYPE_CHECKING:
    from mailcore.directory.roles import AdminScope

log = logging.getLogger("mailroom")

SUBMITTED = "submit:"  # the origin prefix of submitted entries (mailcore.delivery.submit)
# Words remote servers use when they refuse mail as spam or for the sender's reputation.
_SPAMMY = re.compile(
    r"spam|\bUBE\b|junk|blocklist|blacklist|block ?list|reputation|abuse|phish|"
    r"spamhaus|barracuda|5\.7\.1|5\.7\.26|5\.7\.27|5\.7\.28|bulk mail|suspicious",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What the policy applies to one account: `daily` 0 = no daily limit; `burst` None =
    adaptive (from the norm); `source` says where it came from (account, domain, default)."""

    exempt: bool
    daily: int
    burst: int | None
    source: str


@dataclass(frozen=True, slots=True)
class Threshold:
    messages: int
    recipients: int
    norm_messages: int  # busiest hour of the history
    norm_recipients: int


@dataclass(frozen=True, slots=True)
class Admission:
    held: bool  # queue this submission PAUSED


def limits_for(account: Account) -> Limits:
    found = {
        ("account" if o.account_id else "domain"): o
        for o in SendingOverride.objects.filter(
            Q(account_id=account.pk) | Q(domain_id=account.domain_id)
        )
    }
    default = settings.SUBMISSION_MAX_MESSAGES_PER_DAY
    for source in ("account", "domain"):
        o = found.get(source)
        if o is not None:
            daily = default if o.daily_limit is None else o.daily_limit
            return Limits(o.exempt, 0 if o.exempt else daily, o.burst_limit, source)
    return Limits(False, default, None, "default")


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def norm_of(account: Account, now: datetime | None = None) -> tuple[int, int]:
    """(messages, recipients) of the account's busiest hour in the last CONTAIN_NORM_DAYS
    days, the current hour left out (a burst must not raise its own bar)."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.CONTAIN_NORM_DAYS)
    best = SendingHour.objects.filter(
        account=account, hour__gte=since, hour__lt=_hour(now)
    ).aggregate(messages=Max("messages"), recipients=Max("recipients"))
    return best["messages"] or 0, best["recipients"] or 0


def threshold_for(account: Account, limits: Limits, now: datetime | None = None) -> Threshold:
    norm_m, norm_r = norm_of(account, now)
    factor = settings.CONTAIN_BURST_FACTOR
    messages = max(settings.CONTAIN_BURST_FLOOR_MESSAGES, math.ceil(factor * norm_m))
    recipients = max(settings.CONTAIN_BURST_FLOOR_RECIPIENTS, math.ceil(factor * norm_r))
    if limits.burst is not None:  # an admin's fixed number: recipients scale with it
        scale = limits.burst / messages if messages else 1
        messages, recipients = limits.burst, max(limits.burst, math.ceil(recipients * scale))
    return Threshold(messages, recipients, norm_m, norm_r)


def _submitted(account: Account) -> Q:
    return Q(authenticated_as=account, origin__startswith=SUBMITTED)


def messages_since(account: Account, since: datetime) -> int:
    """Messages the account submitted since then (one per submission, however many entries)."""
    return (
        QueueEntry.objects.filter(_submitted(account), received_at__gte=since)
        .values("origin")
        .distinct()
        .count()
    )


def check_daily_limit(account: Account, limits: Limits | None = None) -> None:
    """DailyLimitError when the account submitted its daily number in the last 24 hours."""
    limits = limits or limits_for(account)
    if not limits.daily:
        return
    if messages_since(account, timezone.now() - timedelta(days=1)) >= limits.daily:
        raise DailyLimitError(
            f"daily sending limit of {limits.daily} messages reached; try again later",
            limit=limits.daily,
        )


def _locked_state(account: Account) -> SendingState:
    """The account's state row, locked until the caller's transaction ends (made if new)."""
    found = SendingState.objects.select_for_update().filter(account=account).first()
    if found is not None:
        return found
    SendingState.objects.get_or_create(account=account)
    return SendingState.objects.select_for_update().get(account=account)


def _counting_since(state: SendingState, window: timedelta, now: datetime) -> datetime:
    since = now - window
    return max(since, state.counted_since) if state.counted_since else since


@dataclass(frozen=True, slots=True)
class _Recent:
    day: int  # messages in the last 24 hours (the daily limit)
    messages: int  # in the burst window (since the last release)
    recipients: int


def _recent(account: Account, since: datetime, now: datetime) -> _Recent:
    """One query over the account's submissions of the last day (or window, if longer)."""
    day_ago = now - timedelta(days=1)
    counts = QueueRecipient.objects.filter(
        entry__authenticated_as=account,
        entry__origin__startswith=SUBMITTED,
        entry__received_at__gte=min(day_ago, since),
    ).aggregate(
        day=Count("entry__origin", distinct=True, filter=Q(entry__received_at__gte=day_ago)),
        messages=Count("entry__origin", distinct=True, filter=Q(entry__received_at__gte=since)),
        recipients=Count("id", filter=Q(entry__received_at__gte=since)),
    )
    return _Recent(counts["day"], counts["messages"], counts["recipients"])


def admit_submission(account: Account, recipients: int) -> Admission:
    """The policy's answer for one submission of `recipients` recipients; call inside the
    submission's transaction (the hold and the pause commit with it, or not at all).
    Raises DailyLimitError. The bounce trigger is not asked here: bounces only change when
    a delivery attempt records them, and after_attempts asks it then."""
    if not settings.CONTAIN_ENABLED:
        check_daily_limit(account)
        return Admission(held=False)
    now = timezone.now()
    state = _locked_state(account)
    limits = limits_for(account)
    window = timedelta(seconds=settings.CONTAIN_WINDOW_SECONDS)
    recent = _recent(account, _counting_since(state, window, now), now)
    if limits.daily and recent.day >= limits.daily:
        raise DailyLimitError(
            f"daily sending limit of {limits.daily} messages reached; try again later",
            limit=limits.daily,
        )
    held = state.held_at is not None
    if not held and not limits.exempt:
        reason = _burst(account, limits, recent, recipients, now, window)
        if reason is not None:
            _hold(state, *reason)
            held = True
    _count(account, recipients, now)
    return Admission(held=held)


def _burst(
    account: Account,
    limits: Limits,
    recent: _Recent,
    recipients: int,
    now: datetime,
    window: timedelta,
) -> tuple[str, str] | None:
    bar = threshold_for(account, limits, now)
    minutes = int(window.total_seconds()) // 60
    if recent.messages + 1 > bar.messages:
        return HoldReason.BURST, (
            f"{recent.messages + 1} messages within {minutes} minutes; the limit is "
            f"{bar.messages} (norm: {bar.norm_messages} in its busiest hour)"
        )
    if recent.recipients + recipients > bar.recipients:
        return HoldReason.BURST, (
            f"{recent.recipients + recipients} recipients within {minutes} minutes; the limit "
            f"is {bar.recipients} (norm: {bar.norm_recipients} in its busiest hour)"
        )
    return None


def bounce_trigger(account: Account, state: SendingState) -> tuple[str, str] | None:
    """(reason, detail) when the account's submitted mail bounced or was refused as spam at
    a rate over the settings' within the bounce window (since its last release), else None."""
    now = timezone.now()
    since = _counting_since(state, timedelta(seconds=settings.CONTAIN_BOUNCE_WINDOW_SECONDS), now)
    final = QueueRecipient.objects.filter(
        entry__authenticated_as=account,
        entry__origin__startswith=SUBMITTED,
        updated_at__gte=since,
        state__in=(RecipientState.DELIVERED, RecipientState.BOUNCED),
    )
    counts = final.aggregate(
        total=Count("id"), bounced=Count("id", filter=Q(state=RecipientState.BOUNCED))
    )
    if not counts["bounced"]:
        return None  # the common case: one aggregate, no rows read
    bounced = list(
        final.filter(state=RecipientState.BOUNCED)
        .order_by("-updated_at")
        .values_list("last_reply", flat=True)[:5000]
    )
    spam = [reply for reply in bounced if _SPAMMY.search(reply)]
    total = counts["total"]
    if len(spam) >= settings.CONTAIN_SPAM_MIN and len(spam) / total >= settings.CONTAIN_SPAM_RATE:
        return HoldReason.SPAM, (
            f"{len(spam)} of {total} recipients refused as spam; last: {spam[0][:300]}"
        )
    if total >= settings.CONTAIN_BOUNCE_MIN_SAMPLE and counts["bounced"] / total >= (
        settings.CONTAIN_BOUNCE_RATE
    ):
        return HoldReason.BOUNCES, (
            f"{counts['bounced']} of {total} recipients bounced "
            f"({counts['bounced'] / total:.0%}); "
            f"last: {bounced[0][:300]}"
        )
    return None


def _count(account: Account, recipients: int, now: datetime) -> None:
    """One more message in the account's history (under its state lock: no lost update)."""
    hour = _hour(now)
    updated = SendingHour.objects.filter(account=account, hour=hour).update(
        messages=F("messages") + 1, recipients=F("recipients") + recipients
    )
    if not updated:
        SendingHour.objects.create(account=account, hour=hour, messages=1, recipients=recipients)


def _hold(state: SendingState, reason: str, detail: str) -> int:
    """Hold the account of the locked `state`: pause its queued submissions; the notices go
    once this commits. Returns how many entries were paused."""
    now = timezone.now()
    state.held_at, state.reason, state.detail = now, reason, detail[:2000]
    state.save(update_fields=["held_at", "reason", "detail"])
    paused = QueueEntry.objects.filter(_submitted(state.account), state=EntryState.QUEUED).update(
        state=EntryState.PAUSED
    )
    log.warning(
        "containment: %s held (%s: %s); %d queued entries paused",
        state.account.address,
        reason,
        detail,
        paused,
    )
    transaction.on_commit(partial(_notify, state.account_id, now), robust=True)
    return paused


def do_hold_account(account: Account, *, reason: str = HoldReason.ADMIN, detail: str = "") -> bool:
    """Hold the account now (an admin's hold, or a trigger seen outside a submission);
    False when it was held already."""
    with transaction.atomic():
        state = _locked_state(account)
        if state.held_at is not None:
            return False
        _hold(state, reason, detail or "held by an administrator")
    return True


def is_held(account: Account) -> bool:
    return SendingState.objects.filter(account=account, held_at__isnull=False).exists()


def held_entries(account: Account) -> list[QueueEntry]:
    return list(
        QueueEntry.objects.filter(_submitted(account), state=EntryState.PAUSED).order_by("pk")
    )


def do_release_account(account: Account, *, actor: str) -> list[str]:
    """The admin's release: the account is no longer held, its counters start again now, and
    every paused entry is queued (a scheduled one keeps its time). Returns their queue ids."""
    now = timezone.now()
    with transaction.atomic():
        state = _locked_state(account)
        state.held_at, state.counted_since = None, now
        state.released_at, state.released_by = now, actor[:320]
        state.save(update_fields=["held_at", "counted_since", "released_at", "released_by"])
        paused = QueueEntry.objects.filter(_submitted(account), state=EntryState.PAUSED)
        entries = list(paused.select_for_update().values_list("pk", "queue_id"))
        QueueEntry.objects.filter(pk__in=[pk for pk, _ in entries]).update(
            state=EntryState.QUEUED,
            next_attempt_at=Greatest(F("next_attempt_at"), now),
        )  # a lease still running (a worker was in flight at the hold) is kept: no double send
        for pk, _ in entries:
            transaction.on_commit(partial(dispatch, pk), robust=True)
    log.warning(
        "containment: %s released by %s; %d entries queued", account.address, actor, len(entries)
    )
    return [qid for _, qid in entries]


def do_delete_held(account: Account, *, queue_ids: list[str] | None = None) -> list[str]:
    """Delete the account's paused entries (all, or those of `queue_ids`) with their spool
    files; no DSN (postsuper -d). The account stays held. Returns the deleted queue ids."""
    with transaction.atomic():
        qs = QueueEntry.objects.filter(_submitted(account), state=EntryState.PAUSED)
        if queue_ids is not None:
            qs = qs.filter(queue_id__in=queue_ids)
        rows = list(qs.select_for_update().values_list("pk", "queue_id", "spool_name"))
        QueueEntry.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    for _, _, name in rows:
        spool.remove(name)
    return [qid for _, qid, _ in rows]


def after_attempts(entries: list[QueueEntry], bounced: set[int]) -> None:
    """After a delivery batch was recorded: an entry of a held account that went back to
    queued (it was in flight when the hold came) is paused again; an account whose mail
    bounced in it (`bounced`: entry ids) is checked against the bounce trigger."""
    accounts = {
        e.authenticated_as_id
        for e in entries
        if e.authenticated_as_id and e.origin.startswith(SUBMITTED)
    }
    if not accounts or not settings.CONTAIN_ENABLED:
        return
    held = set(
        SendingState.objects.filter(account_id__in=accounts, held_at__isnull=False).values_list(
            "account_id", flat=True
        )
    )
    if held:
        QueueEntry.objects.filter(
            pk__in=[e.pk for e in entries if e.authenticated_as_id in held],
            state=EntryState.QUEUED,
        ).update(state=EntryState.PAUSED)
    suspects = {
        a for e in entries if e.pk in bounced and (a := e.authenticated_as_id) is not None
    } - held
    for account in Account.objects.filter(pk__in=suspects).select_related("domain"):
        if limits_for(account).exempt:
            continue
        with transaction.atomic():
            state = _locked_state(account)
            if state.held_at is not None:
                continue
            reason = bounce_trigger(account, state)
            if reason is not None:
                _hold(state, *reason)


# --- notices --------------------------------------------------------------------------------


def admins_of(account: Account) -> list[Account]:
    """Who is told about a hold: the domain's admins and every superadmin (active ones)."""
    domain_admins = DomainAdmin.objects.filter(domain_id=account.domain_id).values("account_id")
    return list(
        Account.objects.filter(Q(is_staff=True) | Q(pk__in=domain_admins), is_active=True)
        .exclude(pk=account.pk)
        .select_related("domain")
        .order_by("pk")
    )


def _notify(account_id: int, held_at: datetime) -> None:
    """The user's notice and the admins' notice, each a mail in their INBOX. A notice is a
    courtesy: failing to deliver it never undoes the hold (it is logged)."""
    account = Account.objects.filter(pk=account_id).select_related("domain").first()
    state = SendingState.objects.filter(account_id=account_id).first()
    if account is None or state is None or state.held_at is None:
        return
    count = QueueEntry.objects.filter(_submitted(account), state=EntryState.PAUSED).count()
    _deliver_notice(account, _user_notice(account, state, count), f"held.{_stamp(held_at)}")
    for admin in admins_of(account):
        data = _admin_notice(admin, account, state, count)
        _deliver_notice(admin, data, f"held-admin.{account.pk}.{_stamp(held_at)}")


def _stamp(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def _deliver_notice(to: Account, data: bytes, name: str) -> None:
    from mailcore.store.actions import do_deliver
    from mailcore.store.models import Folder, Source, SpecialUse

    inbox = Folder.objects.filter(account=to, special_use=SpecialUse.INBOX).first()
    if inbox is None:
        return
    key = f"contain-{name}.{to.pk}.{settings.MAIL_HOSTNAME},S={len(data)}"
    try:
        do_deliver(to, inbox, data, key=key, source=Source.SMTP)
    except Exception:
        log.warning("containment: could not deliver a notice to %s", to.address, exc_info=True)


_REASON_KO: dict[str, str] = {
    HoldReason.BURST: "평소보다 훨씬 많은 메일을 짧은 시간에 보냈습니다",
    HoldReason.BOUNCES: "보낸 메일이 높은 비율로 반송되었습니다",
    HoldReason.SPAM: "보낸 메일이 상대 서버에서 스팸으로 거부되었습니다",
    HoldReason.ADMIN: "관리자가 발송을 보류했습니다",
}


def _compose(to: Account, subject: str, text: str) -> bytes:
    from mailcore.mime.build import ComposeRequest, build_message, make_recipient

    request = ComposeRequest(
        sender=make_recipient("Mail system", f"postmaster@{to.domain.name}"),
        to=(make_recipient("", to.address),),
        subject=subject,
        text=text,
        date=datetime.now(tz=UTC),
    )
    return build_message(request, max_bytes=1024 * 1024).data


def _user_notice(account: Account, state: SendingState, count: int) -> bytes:
    why_ko = _REASON_KO.get(state.reason, state.reason)
    why_en = HoldReason(state.reason).label if state.reason in HoldReason.values else state.reason
    return _compose(
        account,
        "메일 발송이 보류되었습니다 / Sending from your account is on hold",
        f"{account.address} 계정의 메일 발송이 보류되었습니다.\n"
        f"이유: {why_ko}.\n{state.detail}\n\n"
        f"보류된 메일 {count}통은 지워지지 않았고, 관리자가 확인한 뒤 발송하거나 삭제합니다.\n"
        "새로 보내는 메일도 접수되지만 관리자가 해제할 때까지 나가지 않습니다.\n"
        "직접 보낸 메일이 아니라면 계정이 도용되었을 수 있습니다: 비밀번호를 바꾸고 "
        "관리자에게 알려 주세요.\n\n"
        f"Sending from {account.address} is on hold.\n"
        f"Reason: {why_en}.\n{state.detail}\n\n"
        f"The {count} held message(s) are kept, not deleted; an administrator will review\n"
        "them and send or delete them. New mail you send is accepted but waits too until\n"
        "an administrator releases your account. If you did not send this mail, your\n"
        "account may be compromised: change your password and tell your administrator.\n",
    )


def _admin_notice(admin: Account, account: Account, state: SendingState, count: int) -> bytes:
    why_ko = _REASON_KO.get(state.reason, state.reason)
    why_en = HoldReason(state.reason).label if state.reason in HoldReason.values else state.reason
    return _compose(
        admin,
        f"[발송 보류] {account.address} / Sending held for {account.address}",
        f"{account.address} 계정의 발송이 보류되었습니다: {why_ko}.\n{state.detail}\n"
        f"보류된 메일: {count}통. 관리 콘솔의 '발송 보류'에서 해제하거나 삭제하세요.\n\n"
        f"Sending from {account.address} was held: {why_en}.\n{state.detail}\n"
        f"Held messages: {count}. Release or delete them under 'Held senders' in the admin\n"
        "console.\n",
    )


def held_counts(account_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(paused entries, their recipients) per account."""
    out = dict.fromkeys(account_ids, (0, 0))
    entries = (
        QueueEntry.objects.filter(
            authenticated_as_id__in=account_ids,
            origin__startswith=SUBMITTED,
            state=EntryState.PAUSED,
        )
        .order_by()
        .values("authenticated_as_id")
        .annotate(n=Count("id"))
    )
    for row in entries:
        out[row["authenticated_as_id"]] = (row["n"], 0)
    rcpts = (
        QueueRecipient.objects.filter(
            entry__authenticated_as_id__in=account_ids,
            entry__origin__startswith=SUBMITTED,
            entry__state=EntryState.PAUSED,
        )
        .order_by()
        .values("entry__authenticated_as_id")
        .annotate(n=Count("id"))
    )
    for counted in rcpts:
        a = counted["entry__authenticated_as_id"]
        out[a] = (out[a][0], counted["n"])
    return out


# --- admin: overrides and the held list ------------------------------------------------------


def _override_of(account: Account | None, domain_id: int | None) -> Q:
    """The one override row of an account, or else of a domain."""
    if account is not None:
        return Q(account=account)
    if domain_id is None:
        raise ValueError("an override is for one account or one domain")
    return Q(domain_id=domain_id)


def get_override(
    *, account: Account | None = None, domain_id: int | None = None
) -> SendingOverride | None:
    return SendingOverride.objects.filter(_override_of(account, domain_id)).first()


def do_set_override(
    *,
    account: Account | None = None,
    domain_id: int | None = None,
    exempt: bool,
    burst_limit: int | None,
    daily_limit: int | None,
    actor: str,
) -> SendingOverride:
    """Set the override of one account or one domain (exactly one of them)."""
    if (account is None) == (domain_id is None):
        raise ValueError("an override is for one account or one domain")
    values = {
        "exempt": exempt,
        "burst_limit": burst_limit,
        "daily_limit": daily_limit,
        "updated_at": timezone.now(),
        "updated_by": actor[:320],
    }
    target = {"account": account} if account is not None else {"domain_id": domain_id}
    found, _ = SendingOverride.objects.update_or_create(**target, defaults=values)
    return found


def do_remove_override(*, account: Account | None = None, domain_id: int | None = None) -> bool:
    deleted, _ = SendingOverride.objects.filter(_override_of(account, domain_id)).delete()
    return bool(deleted)


def held_states(scope: AdminScope, *, domain: str = "") -> QuerySet[SendingState]:
    """Held accounts an admin may see (a domain admin: of its domains), oldest hold first."""
    qs = SendingState.objects.filter(
        scope.domain_filter("account__domain__name"), held_at__isnull=False
    )
    if domain:
        qs = qs.filter(account__domain__name=domain)
    return qs.select_related("account", "account__domain")


def state_of(account: Account) -> SendingState | None:
    return SendingState.objects.filter(account=account).first()


def any_paused(queue_ids: list[str]) -> bool:
    """Whether any of these entries waits for an admin (its sender is held)."""
    return bool(queue_ids) and (
        QueueEntry.objects.filter(queue_id__in=queue_ids, state=EntryState.PAUSED).exists()
    )
