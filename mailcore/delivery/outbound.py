"""One attempt of an outbound queue entry: local recipients delivered like inbound mail, remote
ones signed (DKIM) and relayed by MX; then expiry, bounces and the delay notice.

Called by mailcore.delivery.actions inside a leased attempt; returns outcomes and never writes
recipient states itself. DSNs are queued (committed) before the caller records the states, and
are keyed by origin so that a repeated attempt never sends the same DSN twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from django.conf import settings
from django.utils import timezone

from mailcore.delivery import dkim
from mailcore.delivery.dsn import DsnRecipient, build_dsn, status_of
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.entries import Outcome, do_enqueue
from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient, RecipientState
from mailcore.delivery.relay import (
    BOUNCED,
    DEFERRED,
    DELIVERED,
    RcptResult,
    normalize_lines,
    relay_config,
    relay_message,
)
from mailcore.delivery.submit import complete_headers
from mailcore.directory.models import Domain
from mailcore.directory.queries import is_local_domain
from mailcore.mtasts.hooks import RelaySts


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def author_domain(data: bytes) -> str:
    """Domain of the single From address (RFC 5322 §3.6.2), '' when absent or ambiguous."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(data)
    values = headers.get_all("From") or []
    addrs = [a for _, a in getaddresses([str(v) for v in values]) if a]
    if len(values) != 1 or len(addrs) != 1 or addrs[0].count("@") != 1:
        return ""
    return _domain(addrs[0])


def prepare_outgoing(entry: QueueEntry, data: bytes, hostname: str) -> bytes:
    """The bytes that go on the wire: CRLF, Message-ID/Date when missing, DKIM signatures.

    Forwarded mail (alias to an outside address) leaves as it came, so its own signatures hold.
    """
    body = normalize_lines(data)
    if entry.origin.startswith("fwd:"):
        return body
    body = complete_headers(body, hostname=hostname)
    domain = author_domain(body) or _domain(entry.sender)
    return dkim.sign(body, domain) if domain else body


def do_queue_dsn(
    entry: QueueEntry,
    original: bytes,
    recipients: Sequence[DsnRecipient],
    *,
    key: str,
    retry_until: datetime | None = None,
) -> QueueEntry | None:
    """Queue a DSN about `entry` to its envelope sender, from the null sender (RFC 5321 §4.5.5):
    locally when the sender is ours, else outbound. None for a null-sender entry (never a DSN
    for a DSN, security.md S20) or when this DSN was already queued."""
    if not entry.sender or not recipients:
        return None
    origin = f"dsn:{entry.queue_id}:{key}"[:100]
    if QueueEntry.objects.filter(origin=origin).exists():
        return None
    message = build_dsn(
        original=original,
        envelope_sender=entry.sender,
        queue_id=entry.queue_id,
        arrival=entry.received_at,
        reporting_mta=settings.MAIL_HOSTNAME,
        recipients=recipients,
        retry_until=retry_until,
        envid=entry.dsn_envid,
        ret=entry.dsn_ret,
    )
    local = is_local_domain(_domain(entry.sender))
    return do_enqueue(
        sender="",
        recipients=[entry.sender],
        data=message,
        origin=origin,
        direction=Direction.INBOUND if local else Direction.OUTBOUND,
        smtputf8=not (message.isascii() and entry.sender.isascii()),
    )


def failure_key(addresses: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(addresses)).encode()).hexdigest()[:16]


def do_queue_notices(
    entry: QueueEntry,
    data: bytes,
    rcpts: Sequence[QueueRecipient],
    results: Mapping[int, RcptResult],
    *,
    local: Collection[int],
) -> None:
    """The failure notice and the success notice for one attempt's final results, each to
    the recipients whose NOTIFY asks for it (RFC 3461 §4.1; no NOTIFY: failures only).
    Success is "delivered" for a local mailbox, "expanded" for an alias that also forwarded,
    and "relayed" for a remote server that does not offer DSN; one that does was given the
    NOTIFY and reports itself (Postfix)."""
    by_pk = {r.pk: r for r in rcpts}

    def item(pk: int, action: str) -> DsnRecipient:
        res = results[pk]
        rcpt = by_pk[pk]
        return DsnRecipient(
            rcpt.address, action, res.status, res.diagnostic, res.remote_mta, rcpt.dsn_orcpt
        )

    def wants(pk: int, what: str) -> bool:
        return RcptDsn(by_pk[pk].dsn_notify).wants(what)

    failed = [
        item(pk, "failed")
        for pk, res in results.items()
        if res.state == BOUNCED and wants(pk, "FAILURE")
    ]
    if failed:
        do_queue_dsn(entry, data, failed, key=failure_key([f.address for f in failed]))
    succeeded: list[DsnRecipient] = []
    for pk, res in results.items():
        if res.state != DELIVERED or not wants(pk, "SUCCESS"):
            continue
        if pk in local:
            action = "expanded" if "forwarded to" in res.diagnostic else "delivered"
        elif res.dsn_passed:
            continue
        else:
            action = "relayed"
        succeeded.append(item(pk, action))
    if succeeded:
        key = "ok:" + failure_key([f.address for f in succeeded])
        do_queue_dsn(entry, data, succeeded, key=key)


def do_relay_entry(
    entry: QueueEntry,
    data: bytes,
    pending: list[QueueRecipient],
    *,
    deliver_local: Callable[[QueueRecipient], Outcome],
) -> dict[int, Outcome]:
    cfg = relay_config()
    wanted = {_domain(r.address) for r in pending}
    local_domains = set(
        Domain.objects.filter(name__in=wanted, is_active=True).values_list("name", flat=True)
    )
    outcomes: dict[int, Outcome] = {}
    results: dict[int, RcptResult] = {}
    remote: list[QueueRecipient] = []
    local: set[int] = set()
    for rcpt in pending:
        if _domain(rcpt.address) not in local_domains:
            remote.append(rcpt)
            continue
        local.add(rcpt.pk)
        outcome = deliver_local(rcpt)
        outcomes[rcpt.pk] = outcome
        results[rcpt.pk] = RcptResult(
            outcome.state,
            status_of(outcome.reply, permanent=outcome.state == BOUNCED)
            if outcome.state != DELIVERED
            else "2.0.0",
            outcome.reply,
        )
    if remote:
        wire = prepare_outgoing(entry, data, cfg.hostname)
        by_address = relay_message(
            sender=entry.sender,
            recipients=[r.address for r in remote],
            data=wire,
            smtputf8=entry.smtputf8,
            cfg=cfg,
            dsn=MailDsn(entry.dsn_ret, entry.dsn_envid),
            rcpt_dsn={
                r.address: RcptDsn(r.dsn_notify, r.dsn_orcpt)
                for r in remote
                if r.dsn_notify or r.dsn_orcpt
            },
            sts=RelaySts(cfg) if settings.RELAY_MTA_STS else None,
        )
        for rcpt in remote:
            results[rcpt.pk] = res = by_address[rcpt.address]
            outcomes[rcpt.pk] = Outcome(res.state, res.reply)

    now = timezone.now()
    lifetime = timedelta(seconds=settings.RELAY_MAX_QUEUE_LIFETIME_SECONDS)
    age = now - entry.received_at
    if age >= lifetime:
        for pk, res in list(results.items()):
            if res.state == DEFERRED:
                # RFC 3463 X.4.7: delivery time expired; the last reply says why.
                results[pk] = RcptResult(
                    BOUNCED,
                    "5.4.7",
                    f"delivery time expired; last error: {res.reply}",
                    res.remote_mta,
                )
                outcomes[pk] = Outcome(RecipientState.BOUNCED, results[pk].reply)
    do_queue_notices(entry, data, pending, results, local=local)
    by_pk = {r.pk: r for r in pending}
    delayed = [
        DsnRecipient(
            by_pk[pk].address,
            "delayed",
            res.status,
            res.diagnostic,
            res.remote_mta,
            by_pk[pk].dsn_orcpt,
        )
        for pk, res in results.items()
        if res.state == DEFERRED and RcptDsn(by_pk[pk].dsn_notify).wants("DELAY")
    ]
    notice_after = settings.RELAY_DELAY_NOTICE_SECONDS
    if delayed and notice_after and age >= timedelta(seconds=notice_after):
        do_queue_dsn(entry, data, delayed, key="delay", retry_until=entry.received_at + lifetime)
    return outcomes
