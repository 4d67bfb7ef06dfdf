"""The queue: deliver what was accepted (delivery.entries: spool + row, the promise behind
SMTP's 250) — alias expansion, Maildir + rows, idempotent per recipient, remote recipients
through delivery.outbound — and sweep what is due.

Each attempt is recorded before it is made; a killed worker costs the time until its death is
noticed (delivery.workers), never mail.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from mailcore.dbutil import bulk_set, bulk_set_many
from mailcore.delivery import containment, memo, rowsets, spool
from mailcore.delivery.doorbell import doorbell
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.entries import FINAL_STATES, Outcome, dispatch, do_enqueue
from mailcore.delivery.entries import header_message_id as header_message_id  # re-exported
from mailcore.delivery.filtering import BatchRules
from mailcore.delivery.models import (
    DeliveryAttempt,
    Direction,
    EntryState,
    QueueEntry,
    QueueRecipient,
    RecipientState,
)
from mailcore.delivery.outbound import do_queue_notices, do_relay_entry
from mailcore.directory.models import Account
from mailcore.directory.queries import Expansion
from mailcore.errors import MailcoreError, StorageError
from mailcore.faults import fault_point
from mailcore.inbound import UNEXAMINED, Verdict, examine_many, folder_for
from mailcore.mime import ParsedMessage, parse_message
from mailcore.mime.headers import (
    delivered_to,
    final_delivery_top,
    with_delivered_to,
    without_return_path,
)
from mailcore.mtasts.tlsrpt import take_reports
from mailcore.store.actions import Arrival, Delivered, do_deliver_many
from mailcore.store.maildir import safe_hostname
from mailcore.store.models import Folder, Message, Source
from mailcore.store.quota import Usage, usage, warn_if_nearly_full

log = logging.getLogger("mailroom")


def retry_delay(attempt: int, direction: str = Direction.INBOUND) -> timedelta:
    base, cap = settings.DELIVERY_RETRY_BASE_SECONDS, settings.DELIVERY_RETRY_MAX_SECONDS
    if direction == Direction.OUTBOUND:  # remote servers: 5 m, 10 m, 20 m … (greylisting)
        base, cap = settings.RELAY_RETRY_BASE_SECONDS, settings.RELAY_RETRY_MAX_SECONDS
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempt - 1))))


def lease_for(direction: str) -> timedelta:
    """How long a claim holds: local delivery takes milliseconds; one SMTP session to a slow
    remote server may take the RFC 5321 §4.5.3.2 timeouts (up to 10 min for the final reply
    alone) per MX host, and a lease that ran out would let a second worker send it again."""
    if direction == Direction.OUTBOUND:
        return timedelta(seconds=max(settings.DELIVERY_LEASE_SECONDS, settings.RELAY_LEASE_SECONDS))
    return timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


def _claim(
    entry_ids: list[int], worker: str, *, fill_to: int = 0, inbound_only: bool = False
) -> list[tuple[QueueEntry, DeliveryAttempt]]:
    """Take the leases of those entries that are due and free, and record their attempts
    (R3: before making them), in one transaction. In a registered worker process the attempt
    carries the process's name: its liveness is what keeps the lease (delivery.workers).
    With `fill_to`, other due and free inbound entries (oldest first) join the claim until
    it holds that many: under a backlog one batch takes many messages.

    An outbound entry's next attempt is set here (its lease is long: a slow remote server);
    an inbound entry's only when it is deferred (_record). So the claim changes no indexed
    column of an inbound row, and PostgreSQL updates it in place (HOT, no index entries;
    see the migration 0010): its lease (locked_until) is what keeps other workers off."""
    from mailcore.delivery.workers import current

    me = current()
    worker = me.name if me else worker
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(entry_ids, worker[:200], fill_to, now, inbound_only)
    with transaction.atomic():
        # Due, not only free: a second notice for an entry that was just deferred (a sweep that
        # read it as due a moment before the first attempt) must not retry it at once: the
        # retry delay is what a greylisting remote server asked for. Everything that means
        # "now" (enqueue, `mailq flush`, release, dead workers) sets next_attempt_at to now.
        due = QueueEntry.objects.filter(state=EntryState.QUEUED, next_attempt_at__lte=now).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rung = due.filter(pk__in=entry_ids)
        if inbound_only:
            rung = rung.filter(direction=Direction.INBOUND)
        entries = list(rung.order_by("pk"))
        if fill_to > len(entries):
            taken = {e.pk for e in entries} | set(entry_ids)
            extra = due.filter(direction=Direction.INBOUND).exclude(pk__in=taken)
            entries += list(extra.order_by("pk")[: fill_to - len(entries)])
        if not entries:
            return []
        for entry in entries:
            entry.attempts += 1
            entry.locked_until = now + lease_for(entry.direction)
            if entry.direction == Direction.OUTBOUND:
                entry.next_attempt_at = now + retry_delay(entry.attempts, entry.direction)
        bulk_set(
            QueueEntry,
            ["attempts", "locked_until", "next_attempt_at"],
            [(e.pk, e.attempts, e.locked_until, e.next_attempt_at) for e in entries],
        )
        attempts = DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(entry=e, number=e.attempts, started_at=now, worker=worker[:200])
            for e in entries
        )
    return list(zip(entries, attempts, strict=True))


def _claim_in_one_statement(
    entry_ids: list[int], worker: str, fill_to: int, now: datetime, inbound_only: bool
) -> list[tuple[QueueEntry, DeliveryAttempt]]:
    """_claim on PostgreSQL as ONE statement (one round trip, atomic by itself): pick the due,
    free rows (rung ones first) FOR UPDATE SKIP LOCKED, take their leases and record their
    attempts (data-modifying WITH clauses), returning the claimed rows. The lease and retry
    delay are lease_for() and retry_delay() written in SQL."""
    qe = connection.ops.quote_name(QueueEntry._meta.db_table)
    da = connection.ops.quote_name(DeliveryAttempt._meta.db_table)
    columns = ", ".join(
        f"c.{connection.ops.quote_name(str(f.column))}" for f in QueueEntry._meta.concrete_fields
    )
    out = Direction.OUTBOUND

    def by_direction(inbound: float, outbound: float) -> str:
        return f"(CASE WHEN q.direction = '{out}' THEN {float(outbound)} ELSE {float(inbound)} END)"

    lease = by_direction(
        lease_for(Direction.INBOUND).total_seconds(), lease_for(out).total_seconds()
    )
    base = by_direction(settings.DELIVERY_RETRY_BASE_SECONDS, settings.RELAY_RETRY_BASE_SECONDS)
    cap = by_direction(settings.DELIVERY_RETRY_MAX_SECONDS, settings.RELAY_RETRY_MAX_SECONDS)
    inbound = f"direction = '{Direction.INBOUND}'"
    rung = f"(id = ANY(%s::bigint[]){f' AND {inbound}' if inbound_only else ''})"
    fill = f"OR {inbound}" if fill_to > len(entry_ids) else ""
    sql = f"""
        WITH picked AS (
            SELECT id FROM {qe}
            WHERE state = %s AND next_attempt_at <= %s
              AND (locked_until IS NULL OR locked_until < %s)
              AND ({rung} {fill})
            ORDER BY (id = ANY(%s::bigint[])) DESC, id
            LIMIT %s
            FOR UPDATE SKIP LOCKED
        ), c AS (
            UPDATE {qe} q SET
                attempts = q.attempts + 1,
                locked_until = %s + {lease} * interval '1 second',
                next_attempt_at = CASE WHEN q.direction = '{out}' THEN
                    %s + LEAST({cap}, {base} * power(2, GREATEST(0, q.attempts)))
                    * interval '1 second' ELSE q.next_attempt_at END
            FROM picked WHERE q.id = picked.id
            RETURNING q.*
        ), a AS (
            INSERT INTO {da} (entry_id, number, started_at, finished_at, worker, result, detail)
            SELECT id, attempts, %s, NULL, %s, '', '' FROM c
            RETURNING id AS attempt_pk, entry_id
        )
        SELECT {columns}, a.attempt_pk FROM c JOIN a ON a.entry_id = c.id ORDER BY c.id
    """  # noqa: S608 (names from the models, values as parameters)
    ids = [int(i) for i in entry_ids]
    limit = max(fill_to, len(ids))
    params = [EntryState.QUEUED, now, now, ids, ids, limit, now, now, now, worker]
    # Prepared and bound server-side (its text depends only on inbound_only and the fill),
    # the rows read without a RawQuerySet (rowsets.models_from).
    rows = rowsets.fetch_rows(sql, params)
    entries = rowsets.models_from(QueueEntry, [row[:-1] for row in rows])
    attempts = rowsets.models_from(
        DeliveryAttempt,
        [
            (row[-1], entry.pk, entry.attempts, now, None, worker, "", "")
            for row, entry in zip(rows, entries, strict=True)
        ],
    )
    for entry, attempt in zip(entries, attempts, strict=True):
        attempt.entry = entry
    return list(zip(entries, attempts, strict=True))


def local_key(entry: QueueEntry, account: Account, size: int, n: int = 0) -> str:
    """Maildir base name derived from (queue entry, recipient): the idempotency key (R4).
    `size` is that copy's (S=, as Dovecot reads it): the same on every attempt, since the
    copy is made from the same spool file, envelope sender and recipient. `n` numbers the
    further copies a rule files (fileinto :copy) into other folders."""
    digest = hashlib.sha256((account.address + (f"#{n}" if n else "")).encode()).hexdigest()[:16]
    return f"{entry.queue_id}.{digest}.{safe_hostname(settings.MAIL_HOSTNAME)},S={size}"


def do_process_entry(entry_id: int, *, worker: str = "") -> str:
    """One delivery attempt of one queue entry: "done", "deferred", "held" or "skipped"."""
    return do_process_entries([entry_id], worker=worker).get(entry_id, "skipped")


@dataclass(slots=True)
class _Attempt:
    entry: QueueEntry
    attempt: DeliveryAttempt
    outcomes: dict[int, Outcome]
    state: str = EntryState.QUEUED
    result: str = ""
    detail: str = ""


def do_process_entries(
    entry_ids: list[int], *, worker: str = "", fill_to: int = 0
) -> dict[int, str]:
    """One delivery attempt for each of `entry_ids` that is due and not leased elsewhere,
    and with `fill_to` for other due inbound entries too, up to that many in the batch.

    Inbound entries go as one batch: claims and the final bookkeeping are one transaction
    each, and every local delivery commits on its own (Maildir file first), so a crash repeats
    at most bookkeeping, never a message. Outbound entries are claimed one at a time right
    before their attempt, so a slow remote server never runs down another entry's lease.
    """
    outbound = outbound_among(entry_ids)
    inbound = [i for i in entry_ids if i not in outbound]
    results = _process_batch(inbound, worker, fill_to) if inbound or fill_to else {}
    for entry_id in sorted(outbound):
        results.update(_process_batch([entry_id], worker))
    return results


def outbound_among(entry_ids: list[int]) -> set[int]:
    """Those of `entry_ids` that are outbound (relayed one at a time, never in a batch)."""
    return set(
        QueueEntry.objects.filter(pk__in=entry_ids, direction=Direction.OUTBOUND).values_list(
            "pk", flat=True
        )
    )


def do_deliver_inbound(
    entry_ids: list[int],
    *,
    worker: str = "",
    fill_to: int = 0,
    remove: Callable[[str], None] = spool.remove,
) -> dict[int, str]:
    """One batch of the delivery loop (delivery.loop): those of `entry_ids` that are inbound
    and, with `fill_to`, other due inbound entries, up to that many. `remove` is handed the
    spool file of each entry done, once its state is committed (the loop's remover thread
    unlinks them off the batch's path; a file it never gets to is the sweep's, see
    do_sweep: a done entry's file is an orphan)."""
    if not entry_ids and not fill_to:
        return {}
    return _process_batch(entry_ids, worker, fill_to, inbound_only=True, remove=remove)


def _process_batch(
    entry_ids: list[int],
    worker: str,
    fill_to: int = 0,
    *,
    inbound_only: bool = False,
    remove: Callable[[str], None] = spool.remove,
) -> dict[int, str]:
    claimed = _claim(entry_ids, worker, fill_to=fill_to, inbound_only=inbound_only)
    if not claimed:
        return {}
    recipients: dict[int, list[QueueRecipient]] = {}
    for rcpt in QueueRecipient.objects.filter(entry__in=[e for e, _ in claimed]).order_by("pk"):
        recipients.setdefault(rcpt.entry_id, []).append(rcpt)
    inboxes: dict[int, Folder | None] = {}
    work: list[_Attempt] = []
    local: list[tuple[_Attempt, list[QueueRecipient], bytes]] = []  # inbound work
    for entry, attempt in claimed:
        job = _Attempt(entry, attempt, {})
        work.append(job)
        if entry.attempts > (
            settings.RELAY_MAX_ATTEMPTS
            if entry.direction == Direction.OUTBOUND
            else settings.DELIVERY_MAX_ATTEMPTS
        ):
            job.state, job.result = EntryState.HELD, "held"
            job.detail = f"held after {entry.attempts - 1} attempts"
            continue
        try:
            data = spool.read(entry.spool_name, size=entry.size, sha256=entry.sha256)
        except StorageError as exc:
            # A spool file that is missing or does not match its row is never delivered.
            job.state, job.result, job.detail = EntryState.HELD, "held", str(exc)
            continue
        pending = [r for r in recipients.get(entry.pk, []) if r.state not in FINAL_STATES]
        if entry.direction == Direction.OUTBOUND:
            job.outcomes = _relay_outbound(entry, data, pending, inboxes)
        else:
            # TLS-RPT (RFC 8460 §5.3): a report mailed to our rua address is stored too.
            take_reports([r.address for r in pending], data, queue_id=entry.queue_id)
            local.append((job, pending, data))
    if local:
        outcomes = _deliver_local(
            [(job.entry, pending, data, None) for job, pending, data in local],
            inboxes,
            {pk: [r.address for r in rcpts] for pk, rcpts in recipients.items()},
        )
        for job, pending, data in local:
            job.outcomes = {r.pk: outcomes[r.pk] for r in pending}
            _send_inbound_notices(job.entry, data, pending, job.outcomes)
    for job in work:
        if job.state == EntryState.HELD:
            continue
        open_left = any(o.state not in FINAL_STATES for o in job.outcomes.values())
        job.state = EntryState.QUEUED if open_left else EntryState.DONE
        job.result = "deferred" if open_left else "done"
        job.detail = (
            "; ".join(o.reply for o in job.outcomes.values() if o.state == RecipientState.DEFERRED)
            or "ok"
        )
    fault_point("deliver.before_record")  # after remote 250s / local commits, before bookkeeping
    _record(work)
    # Containment: an entry of an account held meanwhile pauses again; bounces may hold one.
    containment.after_attempts(
        [job.entry for job in work if job.entry.authenticated_as_id],
        {
            job.entry.pk
            for job in work
            if any(o.state == RecipientState.BOUNCED for o in job.outcomes.values())
        },
    )
    results: dict[int, str] = {}
    for job in work:
        if job.state == EntryState.DONE:
            remove(job.entry.spool_name)
        for rcpt_id, outcome in job.outcomes.items():
            log.info(
                "%s: rcpt#%s status=%s (%s)",
                job.entry.queue_id,
                rcpt_id,
                outcome.state,
                outcome.reply,
            )
        results[job.entry.pk] = job.result
    return results


def _record(work: list[_Attempt]) -> None:
    """Recipient states, entry states and attempt results for a batch, in one transaction."""
    now = timezone.now()
    rcpts = [
        (rcpt_id, o.state, o.reply[:2000], now)
        for job in work
        for rcpt_id, o in job.outcomes.items()
    ]
    entries = [
        (
            job.entry.pk,
            job.state,
            None,
            "" if job.result == "done" else job.detail[:2000],
            _next_attempt(job),
        )
        for job in work
    ]
    attempts = [(job.attempt.pk, now, job.result, job.detail[:4000]) for job in work]
    updates: list[rowsets.Update] = [
        (QueueRecipient, ["state", "last_reply", "updated_at"], rcpts),
        (QueueEntry, ["state", "locked_until", "last_error", "next_attempt_at"], entries),
        (DeliveryAttempt, ["finished_at", "result", "detail"], attempts),
    ]
    if rowsets.applies():
        rowsets.update_many(updates)  # one prepared statement
    else:
        bulk_set_many(updates)


def _next_attempt(job: _Attempt) -> datetime:
    """When the entry is next due: an inbound entry deferred now waits the retry delay from
    its attempt's start (the claim left its time alone, see _claim); any other keeps the time
    it has (an outbound claim set it already)."""
    entry = job.entry
    if job.state == EntryState.QUEUED and entry.direction != Direction.OUTBOUND:
        return job.attempt.started_at + retry_delay(entry.attempts, entry.direction)
    return entry.next_attempt_at


def _inbox(account: Account, inboxes: dict[int, Folder | None]) -> Folder | None:
    if account.pk not in inboxes:
        inboxes[account.pk] = memo.inbox(account)
    return inboxes[account.pk]


@dataclass(slots=True)
class _LocalRcpt:
    entry: QueueEntry
    rcpt: QueueRecipient
    data: bytes
    expansion: Expansion
    copies: list[int]  # indexes into the batch's arrivals
    early: Outcome | None = None  # settled without a copy: a bounce, or a missing INBOX
    # Members of an alias whose own rule refused the mail (address, reason): the others
    # still get it, and the sender hears of these in a DSN of their own (see _member_refusals).
    refused: list[tuple[str, str]] = field(default_factory=list)


def _deliver_local(
    jobs: list[tuple[QueueEntry, list[QueueRecipient], bytes, ParsedMessage | None]],
    inboxes: dict[int, Folder | None],
    addresses: dict[int, list[str]] | None = None,
) -> dict[int, Outcome]:
    """Deliver recipients in our domains (aliases expanded) and return each one's outcome.

    Every local copy of the batch goes through one do_deliver_many (all Maildir files first,
    then one index transaction); forwards to outside addresses are queued after that commit.
    """
    expansions: dict[str, Expansion] = {}
    arrivals: list[Arrival] = []
    plans: list[_LocalRcpt] = []
    room = _QuotaRoom()
    rules = BatchRules()
    junk_folders: dict[int, Folder | None] = {}
    # Sender checks and spam scan, once per entry (mailcore.inbound), kept on the entries in
    # one statement before any copy is written. `addresses`: each entry's recipients as the
    # batch loaded them (the checks read none again).
    examined = iter(
        examine_many([(entry, data) for entry, pending, data, _ in jobs if pending], addresses)
    )
    for entry, pending, data, known in jobs:
        # Forged trust headers go, ours go on top, and a parse made before that is made again.
        verdict = next(examined) if pending else UNEXAMINED
        stamped = verdict.stamp(data, settings.MAIL_HOSTNAME) if pending else data
        known = known if stamped == data else None
        data = stamped
        facts = _facts(verdict)
        parsed = known or (parse_message(data) if pending else None)
        been = delivered_to(data) if pending else set()
        stripped = without_return_path(data) if pending else data  # once, for every mailbox
        for rcpt in pending:
            if rcpt.address.lower() in been:
                # It came back to an address that already delivered or forwarded it.
                plans.append(_LocalRcpt(entry, rcpt, data, Expansion(), []))
                plans[-1].early = Outcome(
                    RecipientState.BOUNCED, f"5.4.6 mail forwarding loop for {rcpt.address}"
                )
                continue
            expansion = expansions.get(rcpt.address)
            if expansion is None:
                expansion = expansions[rcpt.address] = memo.expansion(rcpt.address)
            plan = _LocalRcpt(entry, rcpt, data, expansion, [])
            plans.append(plan)
            if not expansion.accounts and not expansion.external:
                problems = "; ".join(expansion.problems) or "no such mailbox"
                plan.early = Outcome(RecipientState.BOUNCED, "5.1.1 " + problems)
                if expansion.unrouted_postmaster:
                    # Accepted because RFC 5321 §4.5.1 says so: kept until a route exists.
                    plan.early = Outcome(
                        RecipientState.DEFERRED,
                        f"4.3.0 {rcpt.address} has nowhere to go yet ({problems}): create it, "
                        "alias it or set POSTMASTER_ADDRESS; it is delivered on the next retry",
                    )
                continue
            for account in expansion.accounts:
                if account.address in been:
                    plan.early = Outcome(
                        RecipientState.BOUNCED, f"5.4.6 mail forwarding loop for {account.address}"
                    )
                    break
                inbox = _inbox(account, inboxes)
                if inbox is None:
                    plan.early = Outcome(
                        RecipientState.DEFERRED, f"4.3.0 {account.address} has no INBOX"
                    )
                    break
                inbox = folder_for(verdict, account, inbox, junk_folders)
                top = final_delivery_top(return_path=entry.sender, recipient=account.address)
                copy = top + stripped
                assert parsed is not None
                ruled = rules.verdict(entry, rcpt, account, inbox, parsed, copy, facts)
                if ruled.verdict.reject is not None:  # RFC 5429: refused, with the reason
                    reason = " ".join(ruled.verdict.reject.split())[:500] or "rejected"
                    if len(expansion.accounts) > 1 or expansion.external:
                        # One member of an alias refuses for themselves only, as when Postfix
                        # expands the alias and one LMTP recipient is refused.
                        plan.refused.append((account.address, reason))
                        continue
                    plan.early = Outcome(RecipientState.BOUNCED, f"5.7.1 {reason}")
                    break
                full = None
                for n, filed in enumerate(ruled.verdict.copies):
                    key = local_key(entry, account, len(copy), n)
                    full = room.refusal(entry, account, key, len(copy))
                    if full is not None:
                        break
                    ruled.copies.append((len(arrivals), filed))
                    plan.copies.append(len(arrivals))
                    arrivals.append(
                        Arrival(
                            account=account,
                            folder=filed.folder,
                            data=copy,
                            key=key,
                            parsed=parsed,
                            internal_date=entry.received_at,
                            source=Source.SMTP,
                            new_key=entry.attempts == 1,  # no earlier attempt made a copy
                        )
                    )
                if full is not None:
                    plan.early = full
                    break
            if plan.early is None and plan.refused and not plan.copies and not expansion.external:
                # Every member refused it: the recipient bounces, naming each reason.
                reasons = "; ".join(f"{a}: {r}" for a, r in plan.refused)
                plan.early = Outcome(RecipientState.BOUNCED, f"5.7.1 {reasons}"[:900])
                plan.refused.clear()
    results = do_deliver_many(arrivals) if arrivals else []
    outcomes: dict[int, Outcome] = {}
    if any(isinstance(r, Delivered) for r in results):
        fault_point("deliver.after_commit")  # after the index commit, before the bookkeeping
        room.warn(arrivals, results)
    for plan in plans:
        outcome: Outcome | None = None
        delivered: list[str] = []
        for n in plan.copies:
            result = results[n]
            if not isinstance(result, Delivered):
                address = arrivals[n].account.address
                outcome = Outcome(RecipientState.DEFERRED, f"4.3.0 {address}: {result}")
                break
            delivered.append(arrivals[n].account.address)
        outcome = outcome or plan.early
        if outcome is None and plan.expansion.external:
            forwarded = with_delivered_to(plan.data, plan.rcpt.address)
            _forward(plan.entry, plan.rcpt, plan.expansion.external, forwarded)
            delivered.append("forwarded to " + ", ".join(plan.expansion.external))
        outcomes[plan.rcpt.pk] = outcome or Outcome(
            RecipientState.DELIVERED, "2.0.0 " + (", ".join(delivered) or "filtered")
        )
        if plan.refused and outcomes[plan.rcpt.pk].state == RecipientState.DELIVERED:
            _member_refusals(plan)
    rules.after_commit(results, lambda r: outcomes[r.pk].state != RecipientState.DEFERRED, _forward)
    return outcomes


def _member_refusals(plan: _LocalRcpt) -> None:
    """The failure DSN for the members of an alias whose rules refused the mail while the
    others got it: one per recipient and set of members (queued once: a retry of the entry
    finds it by its key), as the recipient's NOTIFY asks (RFC 3461 §4.1)."""
    from mailcore.delivery.dsn import DsnRecipient
    from mailcore.delivery.outbound import do_queue_dsn, failure_key

    rcpt = plan.rcpt
    if not RcptDsn(rcpt.dsn_notify).wants("FAILURE"):
        return
    orcpt = rcpt.dsn_orcpt or f"rfc822;{rcpt.address}"
    members = [a for a, _ in plan.refused]
    do_queue_dsn(
        plan.entry,
        plan.data,
        [DsnRecipient(a, "failed", "5.7.1", reason, orcpt=orcpt) for a, reason in plan.refused],
        key="refused:" + failure_key([rcpt.address, *members]),
    )


def _facts(verdict: Verdict) -> dict[str, object]:
    """What the rules may test about the sender's authenticity and spam ("dmarc", "spf",
    "dkim", "arc", "spam_score", "junk"), from the entry's one inbound verdict. A check that
    did not run leaves its fact out, and a rule on it then simply does not match."""
    if not verdict.examined:
        return {}
    facts: dict[str, object] = {
        "dmarc": verdict.dmarc,
        "spf": verdict.spf,
        "dkim": verdict.dkim,
        "arc": verdict.arc,
        "junk": verdict.junk,
    }
    if verdict.spam_score is not None:
        facts["spam_score"] = verdict.spam_score
    return facts


class _QuotaRoom:
    """Quota checks for one delivery batch: each account's usage read once, then counted up
    by the copies planned for it, so a batch cannot overshoot a quota either."""

    def __init__(self) -> None:
        self.start: dict[int, Usage] = {}
        self.planned: dict[int, int] = {}

    def refusal(self, entry: QueueEntry, account: Account, key: str, size: int) -> Outcome | None:
        if not account.quota_bytes:
            return None
        if account.pk not in self.start:
            self.start[account.pk] = usage(account)
        state = self.start[account.pk]
        planned = self.planned.get(account.pk, 0)
        if state.limit and state.used + planned + size > state.limit:
            if Message.objects.filter(account=account, maildir_key=key).exists():
                return None  # delivered by an earlier attempt: a repeat takes no room
            age = timezone.now() - entry.received_at
            if age >= timedelta(seconds=settings.QUOTA_BOUNCE_AFTER_SECONDS):
                return Outcome(RecipientState.BOUNCED, f"5.2.2 {account.address}: mailbox full")
            return Outcome(RecipientState.DEFERRED, f"4.2.2 {account.address}: mailbox full")
        self.planned[account.pk] = planned + size
        return None

    def warn(self, arrivals: list[Arrival], results: list[Delivered | MailcoreError]) -> None:
        added: dict[int, int] = {}
        accounts: dict[int, Account] = {}
        for item, result in zip(arrivals, results, strict=True):
            if isinstance(result, Delivered) and result.created and item.account.pk in self.start:
                added[item.account.pk] = added.get(item.account.pk, 0) + len(item.data)
                accounts[item.account.pk] = item.account
        for account_id, size in added.items():
            warn_if_nearly_full(accounts[account_id], self.start[account_id], size)


def _send_inbound_notices(
    entry: QueueEntry, data: bytes, pending: list[QueueRecipient], outcomes: dict[int, Outcome]
) -> None:
    """A DSN to the sender for local recipients that failed for good after the 250 (alias
    problems, a mailbox full for too long): accepted mail is never dropped silently. And the
    success notice ("delivered") for those whose NOTIFY asked for one (RFC 3461 §4.1)."""
    from mailcore.delivery.dsn import status_of
    from mailcore.delivery.relay import RcptResult

    results = {
        pk: RcptResult(
            o.state,
            "2.0.0"
            if o.state == RecipientState.DELIVERED
            else status_of(o.reply, permanent=o.state == RecipientState.BOUNCED),
            o.reply,
        )
        for pk, o in outcomes.items()
        if o.state in FINAL_STATES
    }
    if results:
        do_queue_notices(entry, data, pending, results, local=set(results))


def _forward(
    entry: QueueEntry,
    rcpt: QueueRecipient,
    targets: list[str],
    data: bytes,
    *,
    origin: str = "",
    sender: str | None = None,
) -> None:
    """An alias pointing outside, or a rule's redirect (its own `origin` and SRS `sender`):
    queue an outbound copy (once per origin: per original recipient by default)."""
    origin = origin or f"fwd:{entry.queue_id}:{rcpt.pk}"
    if QueueEntry.objects.filter(origin=origin).exists():
        return
    # The sender's DSN request goes along (Postfix): failures and delays of the forwarded
    # copies still reach them; success was reported here ("expanded"), so not again.
    notify = ",".join(w for w in rcpt.dsn_notify.split(",") if w and w != "SUCCESS")
    asked = RcptDsn(
        notify or ("NEVER" if rcpt.dsn_notify else ""),
        rcpt.dsn_orcpt or f"{'rfc822' if rcpt.address.isascii() else 'utf-8'};{rcpt.address}",
    )
    do_enqueue(
        sender=entry.sender if sender is None else sender,
        recipients=targets,
        data=data,
        origin=origin,
        smtputf8=entry.smtputf8,
        direction=Direction.OUTBOUND,
        dsn=MailDsn(entry.dsn_ret, entry.dsn_envid),
        rcpt_dsn=dict.fromkeys(targets, asked),
    )


def _relay_outbound(
    entry: QueueEntry, data: bytes, pending: list[QueueRecipient], inboxes: dict[int, Folder | None]
) -> dict[int, Outcome]:
    """Remote recipients by MX, recipients in our own domains locally like inbound mail; DKIM,
    bounces and delay notices in mailcore.delivery.outbound."""
    parsed: list[ParsedMessage] = []

    def deliver_local(rcpt: QueueRecipient) -> Outcome:
        if not parsed:
            parsed.append(parse_message(data))
        return _deliver_local([(entry, [rcpt], data, parsed[0])], inboxes)[rcpt.pk]

    return do_relay_entry(entry, data, pending, deliver_local=deliver_local)


def due_entries(limit: int = 1000, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        QueueEntry.objects.filter(state=EntryState.QUEUED, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def do_dispatch_untried() -> int:
    """Ring for entries never tried that are due now: scheduled sends and undo holds (the
    outbox), and fresh entries whose doorbell was lost. Run every OUTBOX_DUE_SCAN_SECONDS
    so a scheduled message leaves within seconds of its time; one indexed range scan
    (queue_due) of what came due, never the deferred backlog (that is do_sweep's)."""
    now = timezone.now()
    ids = list(
        QueueEntry.objects.filter(
            state=EntryState.QUEUED, next_attempt_at__lte=now, attempts=0, locked_until__isnull=True
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        dispatch(pk)
    doorbell.flush()
    return len(ids)


def do_sweep(*, dispatch_due: bool = True) -> dict[str, int]:
    """Free the leases of dead workers, remove rows whose commit was never acknowledged,
    re-ring the bell for every due entry; drop spool files no committed row claims."""
    from mailcore.delivery.recovery import do_retire_unacknowledged
    from mailcore.delivery.workers import do_release_dead_leases

    released = do_release_dead_leases()
    retired = do_retire_unacknowledged()
    ids = due_entries()
    if dispatch_due:
        for pk in ids:
            dispatch(pk)
        doorbell.flush()
    removed = 0
    for name, _mtime in spool.iter_files(settings.SPOOL_ORPHAN_SECONDS):
        entry = QueueEntry.objects.filter(spool_name=name).only("state").first()
        if entry is None or entry.state == EntryState.DONE:
            spool.remove(name)
            removed += 1
    return {
        "dispatched": len(ids),
        "orphans_removed": removed,
        "released": len(released),
        "unacknowledged_removed": len(retired),
    }
