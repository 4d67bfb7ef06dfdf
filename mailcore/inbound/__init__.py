"""Inbound trust: what the delivery worker learns about a message from outside before filing it
(issue 13 §1-2): SPF, DKIM, ARC, DMARC (mailcore.inbound.auth) and rspamd's spam verdict
(mailcore.inbound.rspamd), as one Verdict and the header block recording it.

examine() runs once per inbound queue entry, in the worker. Its Verdict is kept on the queue
entry, so a retried delivery stores byte-identical copies (the Maildir key holds the size). It
never raises for DNS or rspamd trouble: those become temperror results and an "unscanned" mark,
and the mail is delivered.

check_at_smtp() is the admin's choice to refuse at the end of DATA instead (SMTP_REJECT_DMARC
for DMARC p=reject failures, SMTP_REJECT_SPAM for rspamd's reject action or a score of at least
SPAM_REJECT_SCORE): the same checks, run in the SMTP process before 250; the Verdict of a
message it lets through rides on its queue entry, so the worker does not check it twice. Off by
default: accepting stays fast, as issue 13 asks.
"""

from __future__ import annotations

import inspect
import logging
import time
from email.utils import getaddresses
from typing import TYPE_CHECKING

from django.conf import settings

from mailcore.inbound.verdict import HeaderParts, Verdict, render
from mailcore.mime.headers import header_fields

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mailcore.delivery.models import QueueEntry
    from mailcore.directory.models import Account
    from mailcore.store.models import Folder

__all__ = [
    "UNEXAMINED",
    "Verdict",
    "check_at_smtp",
    "examine",
    "examine_many",
    "folder_for",
    "refuses_at_smtp",
    "warm_up",
]

log = logging.getLogger("mailroom")

UNEXAMINED = Verdict()
# CVE-2023-27043: the strict parser (3.11.10+, 3.12.6+) refuses ambiguous addresses.
_STRICT = "strict" in inspect.signature(getaddresses).parameters


def examinable(entry: QueueEntry) -> bool:
    """Mail from outside: not our users' own submissions (their local copies), not our DSNs or
    alias forwards (origin set), not outbound entries delivered locally."""
    from mailcore.delivery.models import Direction

    return (
        entry.direction == Direction.INBOUND
        and entry.authenticated_as_id is None
        and not entry.origin
    )


def examine(entry: QueueEntry, data: bytes) -> Verdict:
    """The Verdict on `data` (the spooled bytes of `entry`), computed once and kept on the entry:
    a later attempt gets the same one. Unexaminable entries get UNEXAMINED (no headers)."""
    return examine_many([(entry, data)])[0]


def examine_many(
    items: list[tuple[QueueEntry, bytes]], rcpts: Mapping[int, list[str]] | None = None
) -> list[Verdict]:
    """examine() for a delivery batch: each entry's Verdict, and those computed now kept on
    their entries in ONE statement (a commit per message cost the worker a third of its time).
    They are kept before the caller writes any copy: a retry after a crash must store the same
    bytes (the Maildir key holds the size). A Verdict the MX computed at SMTP time
    (check_at_smtp) is on the entry already. `rcpts`: each entry's recipient addresses by
    entry pk, as the caller loaded them (the checks use the first); an entry left out has
    them read here (a query each)."""
    from mailcore.dbutil import bulk_set
    from mailcore.delivery import rowsets
    from mailcore.delivery.models import QueueEntry

    verdicts: list[Verdict] = []
    fresh: list[QueueEntry] = []
    for entry, data in items:
        if entry.verdict is not None:
            verdicts.append(Verdict.from_json(entry.verdict))
            continue
        if not examinable(entry) or not (settings.INBOUND_AUTH or settings.RSPAMD_URL):
            verdicts.append(UNEXAMINED)
            continue
        started = time.monotonic()
        verdict = _examined(
            data,
            queue_id=entry.queue_id,
            ip=str(entry.client_ip) if entry.client_ip else None,
            helo=entry.client_helo,
            sender=entry.sender,
            rcpts=(
                rcpts[entry.pk][:1]
                if rcpts is not None and entry.pk in rcpts
                else [r.address for r in entry.recipients.order_by("pk")[:1]]
            ),
        )
        _log_verdict(entry.queue_id, verdict, started)
        entry.verdict = verdict.to_json()  # kept either way: a retry must store the same bytes
        fresh.append(entry)
        verdicts.append(verdict)
    kept = [(e.pk, e.verdict) for e in fresh]
    if rowsets.applies():
        rowsets.update_many([(QueueEntry, ["verdict"], kept)])  # prepared, binary
    else:
        bulk_set(QueueEntry, ["verdict"], kept)
    return verdicts


def warm_up() -> None:
    """Load what the checks read on every message once, when a worker process starts rather
    than inside its first batch: the modules, and the public suffix list behind DMARC's
    organisational domain (about 35 ms of CPU to parse). Started before the process freezes
    its heap (delivery.workers.settle_heap), so full collections skip those tables too."""
    if not settings.INBOUND_AUTH:
        return
    import dkim  # noqa: F401 (imported for its tables)
    import spf  # noqa: F401

    from mailcore.inbound import auth

    auth.org_domain("example.com")


def refuses_at_smtp() -> bool:
    """Has the admin chosen to refuse some mail at SMTP time (and are the checks on)?"""
    from mailcore.inbound import rspamd

    return bool(
        (settings.SMTP_REJECT_DMARC and settings.INBOUND_AUTH)
        or (settings.SMTP_REJECT_SPAM and rspamd.enabled())
    )


def check_at_smtp(
    data: bytes, *, queue_id: str, ip: str | None, helo: str, sender: str, rcpts: list[str]
) -> tuple[Verdict, str | None]:
    """The checks of examine(), run before the MX answers DATA: the Verdict, and the reply
    that refuses the message when the admin's SMTP-time policy says so (None = accept). A
    temporary failure (DNS, rspamd down) never refuses: the mail is accepted and delivered as
    examine() would have. Blocking (DNS, HTTP): run it off the event loop."""
    started = time.monotonic()
    verdict = _examined(data, queue_id=queue_id, ip=ip, helo=helo, sender=sender, rcpts=rcpts)
    _log_verdict(queue_id, verdict, started)
    if settings.SMTP_REJECT_DMARC and verdict.dmarc_enforced and verdict.dmarc_policy == "reject":
        domain = verdict.from_domain[:253]
        return verdict, f"550 5.7.1 Rejected by the DMARC policy of {domain} (p=reject)"
    if (
        settings.SMTP_REJECT_SPAM
        and verdict.scanned
        and (
            verdict.spam_action == "reject"
            or (verdict.spam_score or 0.0) >= float(settings.SPAM_REJECT_SCORE)
        )
    ):
        return verdict, f"554 5.7.1 Rejected as spam (score {verdict.spam_score or 0.0:.1f})"
    return verdict, None


def _examined(
    data: bytes, *, queue_id: str, ip: str | None, helo: str, sender: str, rcpts: list[str]
) -> Verdict:
    try:
        return _examine(data, ip=ip, helo=helo, sender=sender, rcpts=rcpts)
    except Exception as exc:  # a bug or a library's surprise on hostile input: deliver anyway
        log.exception("%s: sender checks failed; delivering without a verdict", queue_id)
        return Verdict(examined=True, reasons=(f"checks failed: {type(exc).__name__}",))


def _log_verdict(queue_id: str, verdict: Verdict, started: float) -> None:
    log.info(
        "%s: spf=%s dkim=%s dmarc=%s arc=%s spam=%s%s (%.0f ms)",
        queue_id,
        verdict.spf,
        verdict.dkim,
        verdict.dmarc,
        verdict.arc,
        "-" if verdict.spam_score is None else f"{verdict.spam_score:.2f}",
        " junk" if verdict.junk else "",
        (time.monotonic() - started) * 1000,
    )


def _from_domains(data: bytes) -> list[str]:
    """The domains of the From header's mailboxes (RFC 7489 §6.6.1), one per address; a second
    From field counts as another address (security.md A2)."""
    values = [v.decode("utf-8", "replace") for n, v in header_fields(data) if n.lower() == b"from"]
    if not values:
        return []
    domains = []
    for value in values:
        pairs = getaddresses([value], strict=True) if _STRICT else getaddresses([value])
        for _name, addr in pairs:
            domains.append(addr.rpartition("@")[2].lower() if "@" in addr else "")
    return domains or [""]


def _examine(data: bytes, *, ip: str | None, helo: str, sender: str, rcpts: list[str]) -> Verdict:
    from mailcore.inbound import auth, dnsbox, rspamd

    parts = HeaderParts(authserv_id=settings.MAIL_HOSTNAME, auth_checked=settings.INBOUND_AUTH)
    reasons: list[str] = []
    res = auth.AuthResults()
    if settings.INBOUND_AUTH:
        with dnsbox.budget(float(settings.INBOUND_AUTH_TIMEOUT)):
            res.spf, res.spf_domain, spf_reason = auth.check_spf(ip, sender, helo)
            res.dkim = auth.check_dkim(data)
            res.arc, res.arc_reason = auth.check_arc(data)
            auth.check_dmarc(res, _from_domains(data))
        reasons += [f"spf: {spf_reason}", f"dmarc: {res.dmarc_reason}"]
        parts.spf, parts.spf_domain, parts.spf_helo = res.spf, res.spf_domain, helo
        parts.dkim = [(d.result, d.domain, d.selector, d.algorithm) for d in res.dkim]
        parts.dmarc, parts.dmarc_policy, parts.from_domain = (
            res.dmarc,
            res.dmarc_policy,
            res.from_domain,
        )
        parts.arc = res.arc
    junk = enforced = False
    if res.dmarc == "fail" and res.dmarc_policy in ("quarantine", "reject"):
        # RFC 7489 §6.3: the owner asked for this; an ARC chain sealed by a host the admin
        # trusts (a mailing list, a forwarder) vouches for the original result (RFC 8617 §7.2).
        sealer = auth.arc_sealer(data) if res.arc == "pass" else ""
        if sealer and sealer in _trusted_sealers():
            parts.arc_note = f"trusted sealer {sealer}: DMARC policy not applied"
        else:
            junk = enforced = True
            reasons.append(f"DMARC p={res.dmarc_policy}")
    scan = None
    if rspamd.enabled():
        parts.spam_asked = True
        scan = rspamd.scan(
            data,
            ip=ip,
            helo=helo,
            mail_from=sender,
            rcpts=rcpts,
            hostname=settings.MAIL_HOSTNAME,
        )
        if scan is not None:
            spam = scan.action in rspamd.JUNK_ACTIONS or scan.score >= settings.SPAM_JUNK_SCORE
            junk = junk or spam
            parts.spam_score, parts.spam_required = scan.score, scan.required
            parts.spam_action, parts.spam_symbols = scan.action, scan.symbols
        else:
            reasons.append("spam filter unavailable")
    parts.junk = junk
    return Verdict(
        spf=res.spf,
        dkim=res.dkim_summary,
        dmarc=res.dmarc,
        arc=res.arc,
        spam_score=scan.score if scan else None,
        junk=junk,
        headers=render(parts),
        examined=True,
        scanned=scan is not None,
        spam_action=scan.action if scan else "",
        spam_symbols=scan.symbols if scan else (),
        dmarc_policy=res.dmarc_policy,
        from_domain=res.from_domain,
        reasons=tuple(r[:200] for r in reasons),
        dmarc_enforced=enforced,
    )


def _trusted_sealers() -> set[str]:
    return {d.strip().lower() for d in settings.INBOUND_ARC_TRUSTED_SEALERS.split(",") if d.strip()}


def folder_for(
    verdict: Verdict,
    account: Account,
    inbox: Folder,
    junk: dict[int, Folder | None] | None = None,
) -> Folder:
    """Where this account's copy goes: its Junk folder for junk (INBOX if it has none).
    `junk`: the Junk folders looked up so far (by account id), e.g. for one delivery batch,
    so a wave of junk costs one look-up per account, not one per message."""
    if not verdict.junk:
        return inbox
    from mailcore.store.models import Folder, SpecialUse

    if junk is not None and account.pk in junk:
        return junk[account.pk] or inbox
    found = Folder.objects.filter(account=account, special_use=SpecialUse.JUNK).first()
    if junk is not None:
        junk[account.pk] = found
    return found or inbox
