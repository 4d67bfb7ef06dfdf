"""aiosmtpd hooks of the MX listener: cheap recipient and relay-access checks at RCPT, and at
DATA the durable hand-off (spool + queue row) that alone allows a 250. No parsing or delivery
happens here."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from mailcore.asyncdb import run_db
from mailcore.delivery import spool
from mailcore.delivery.cleanup import CleanupClient, CleanupError
from mailcore.delivery.groupcommit import queue_committer
from mailcore.delivery.submit import do_enqueue_routed, remote_address, spool_routed
from mailcore.directory import cache as dircache
from mailcore.directory.models import RelayAction
from mailcore.directory.queries import (
    AccessRule,
    Recipient,
    Resolution,
    access_rules_for_ip,
    pick_access_rule,
)
from mailcore.errors import InvalidAddressError, StorageError
from mailcore.inbound import check_at_smtp, refuses_at_smtp
from mailcore.mime.headers import header_fields
from mailcore.rules.queries import blocked_for_address, cached_blocked_for_address, is_blocked
from mailcore.store.quota import Usage, usage_of_address

log = logging.getLogger("mailroom")

_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True, slots=True)
class IngressPolicy:
    hostname: str
    max_recipients: int
    max_received_headers: int
    bare_lf: str  # "normalize" | "reject"
    group_commit: bool = False  # queue rows through the group committer (SMTP_GROUP_COMMIT)
    block_at_rcpt: bool = True  # 수신차단: refuse a blocked sender at RCPT (RULES_BLOCK_AT_RCPT)


def count_received(data: bytes) -> int:
    """Received: fields of the header block only, where every reader ends it (RFC 5321 §6.3
    loop detection; a "Received:" line in the body is not a hop)."""
    return sum(1 for name, _ in header_fields(data) if name.lower() == b"received")


_HELO_UNSAFE = re.compile(r"[^\x21-\x7e]")
_STAMP: list[Any] = [None, ""]  # (the second, its RFC 5322 date): one format per second


def _date_stamp() -> str:
    """The Received header's date (RFC 5322 §3.3), formatted once per second (the second
    from time.time(): timezone.now() reads settings.USE_TZ through Django's lazy settings on
    every call)."""
    second = int(time.time())
    if _STAMP[0] != second:
        _STAMP[:] = [second, format_datetime(timezone.now().replace(microsecond=0))]
    stamp: str = _STAMP[1]
    return stamp


def received_header(
    *,
    helo: str,
    ip: str,
    hostname: str,
    queue_id: str,
    tls: bool,
    auth: bool,
    recipient: str | None,
    utf8: bool = False,
) -> bytes:
    # RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA); RFC 6531 §3.7.3 for SMTPUTF8 transactions.
    proto = ("UTF8SMTP" if utf8 else "ESMTP") + ("S" if tls else "") + ("A" if auth else "")
    helo_clean = _HELO_UNSAFE.sub("?", helo)[:100] or "unknown"
    for_clause = f"\r\n\tfor <{recipient}>" if recipient else ""
    stamp = _date_stamp()
    # RFC 5321 §4.4: "from" domain, "by" domain, "with" protocol, "id", "for"; then the date.
    return (
        f"Received: from {helo_clean} ([{ip}])\r\n\tby {hostname} (Mailroom) with {proto} "
        f"id {queue_id}{for_clause};\r\n\t{stamp}\r\n"
    ).encode("utf-8", "replace")


def with_extensions(responses: list[str]) -> list[str]:
    """aiosmtpd's EHLO lines plus what MailroomSMTP adds: RFC 2920 and RFC 2034 (honoured by
    the session, see server.py) and DSN (RFC 3461, parameters kept with the queue entry)."""
    out = list(responses)
    for line in ("250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-DSN"):
        out.insert(-1, line)
    return out


class IngressHandler:
    """Hooks for aiosmtpd.smtp.SMTP (the handler object of every MX connection)."""

    def __init__(self, policy: IngressPolicy, cleanup: CleanupClient | None = None) -> None:
        self.policy = policy
        # The SMTP process's cleanup process (mailcore.delivery.cleanup), when it has one:
        # each message's durable step runs there instead of on this process's committer.
        self.cleanup = cleanup

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        out = [r for r in responses if not r[4:].startswith("AUTH")]
        return with_extensions(out)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if address and not address.isascii() and not envelope.smtp_utf8:
            return "553 5.6.7 Non-ASCII sender address needs the SMTPUTF8 parameter"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.policy.max_recipients:
            return "452 4.5.3 Too many recipients"
        if not address.isascii() and not envelope.smtp_utf8:
            # RFC 6531 §3.4: without SMTPUTF8 a non-ASCII mailbox is refused.
            return "553 5.6.7 Non-ASCII recipient address needs the SMTPUTF8 parameter"
        rules: list[AccessRule] | None = getattr(session, "mailroom_access_rules", None)
        ip = _peer_ip(session) if rules is None else None
        try:
            # From the directory memo when it has the answers (no thread hop); otherwise one
            # trip to the database thread per RCPT: the session's access rules (loaded once,
            # like an access map lookup) together with the recipient and, for 수신차단, whether
            # the account blocks this sender.
            sender = reverse_path(envelope) if self.policy.block_at_rcpt else ""
            answer = _cached_lookup(ip, address, sender)
            if answer is None:
                answer = await run_db(_lookup, ip, address, sender)
            loaded, found, room, blocked = answer
        except DatabaseError:
            log.exception("recipient lookup failed for %s", address)
            return "451 4.3.0 Temporary lookup failure, try again later"
        if rules is None:
            rules = session.mailroom_access_rules = loaded or []
        shown = _printable(address)
        rule = pick_access_rule(rules, sender=reverse_path(envelope), recipient=address)
        action = rule.action if rule is not None else ""
        if action == RelayAction.REJECT:
            log.info(
                "access rule #%s (%s) rejects %s -> %s",
                rule.pk if rule else "",
                _peer_ip(session),
                _printable(reverse_path(envelope)),
                shown,
            )
            return f"554 5.7.1 <{shown}>: Access denied"
        if blocked:
            # 수신차단: the account refuses this sender (the worker discards what gets past).
            return f"550 5.7.1 <{shown}>: Sender blocked by the recipient"
        match found.resolution:
            case Resolution.ACCOUNT if room is not None and not room.has_room(
                max(_declared_size(envelope), 1)
            ):
                # Dovecot's quota_full_tempfail: the sender retries; the user can make room.
                return f"452 4.2.2 <{shown}>: Mailbox full"
            case Resolution.ACCOUNT | Resolution.ALIAS | Resolution.POSTMASTER:
                return _accept(envelope, found.address, action=action)
            case Resolution.DISABLED:
                return f"550 5.2.1 <{shown}>: Mailbox disabled"
            case Resolution.UNKNOWN:
                return f"550 5.1.1 <{shown}>: Recipient address rejected: User unknown"
            case Resolution.INVALID:
                return f"501 5.1.3 <{shown}>: Bad recipient address syntax"
            case _:
                # Relaying needs an authenticated client or a RELAY (or DISCARD) rule for the
                # client's address; never the sender domain alone (security.md R17).
                if not (
                    session.authenticated or action in (RelayAction.RELAY, RelayAction.DISCARD)
                ):
                    return f"554 5.7.1 <{shown}>: Relay access denied"
                if not found.address:  # address literals, trailing dots, quoted tricks
                    return f"553 5.1.3 <{shown}>: Bad recipient address syntax"
                try:
                    remote = remote_address(address)
                except InvalidAddressError:
                    return f"553 5.1.3 <{shown}>: Bad recipient address syntax"
                return _accept(envelope, remote, action=action, remote=True)

    def _checked_data(self, envelope: Any) -> tuple[bytes, str]:
        """The message bytes ready to spool, or '' and the refusal reply."""
        data: bytes = envelope.original_content or b""
        # Every CRLF holds one CR and one LF, so a CR or LF outside a CRLF shows as more CRs
        # (LFs) than CRLFs: three bytes.count() scans in C, where two regular expressions with
        # lookarounds took 4 % of the event loop thread's samples.
        crlf = data.count(b"\r\n")
        if data.count(b"\r") != crlf:
            return b"", "554 5.6.0 Message contains a bare CR; refused (SMTP smuggling protection)"
        if data.count(b"\n") != crlf:
            if self.policy.bare_lf == "reject":
                return b"", (
                    "554 5.6.0 Message contains a bare LF; refused (SMTP smuggling protection)"
                )
            data = _BARE_LF.sub(b"\r\n", data)
        if count_received(data) > self.policy.max_received_headers:
            return b"", "554 5.4.6 Too many hops (Received headers); mail loop suspected"
        return data, ""

    def _trace(
        self, server: Any, session: Any, envelope: Any, queue_id: str, recipients: list[str]
    ) -> bytes:
        return received_header(
            helo=session.host_name or "",
            ip=_peer_ip(session),
            hostname=self.policy.hostname,
            queue_id=queue_id,
            tls=session.ssl is not None or _implicit_tls(server),
            auth=bool(session.authenticated),
            recipient=recipients[0] if len(recipients) == 1 else None,
            utf8=bool(envelope.smtp_utf8),
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data, refusal = self._checked_data(envelope)
        if refusal:
            return refusal
        recipients = kept_recipients(envelope)
        if not envelope.rcpt_tos:
            return "554 5.5.1 No valid recipients"
        queue_id = spool.new_queue_id()
        if not recipients:
            return discarded(envelope, queue_id, _peer_ip(session))
        remote = set(getattr(envelope, "mailroom_remote", ()))
        ip = _peer_ip(session)
        trace = self._trace(server, session, envelope, queue_id, recipients)
        message: dict[str, Any] = {
            "queue_id": queue_id,
            "sender": reverse_path(envelope),
            "local": [r for r in recipients if r not in remote],
            "remote": [r for r in recipients if r in remote],
            "data": trace + data,
            "client_ip": ip if ip != "unknown" else None,
            "client_helo": session.host_name or "",
            "smtputf8": bool(envelope.smtp_utf8),
            "dsn": getattr(envelope, "mailroom_dsn", None),
            "rcpt_dsn": getattr(envelope, "mailroom_rcpt_dsn", None),
        }
        if message["local"] and not session.authenticated and refuses_at_smtp():
            # The admin chose to refuse at SMTP time: the worker's checks, run before 250.
            check = functools.partial(
                check_at_smtp,
                message["data"],
                queue_id=queue_id,
                ip=message["client_ip"],
                helo=message["client_helo"],
                sender=message["sender"],
                rcpts=message["local"][:1],
            )
            verdict, refused = await asyncio.to_thread(check)
            if refused:
                log.info("%s: refused at DATA: %s", queue_id, refused)
                return refused
            message["verdict"] = verdict.to_json()
        try:
            if self.cleanup is not None:
                first = await self.cleanup.commit(message)
            elif self.policy.group_commit:
                # Spool write on a pool thread, then the rows committed with those of other
                # sessions; the 250 waits for that commit (durable=True in the committer).
                spooled = await queue_committer().prepare_and_commit(
                    functools.partial(spool_routed, **message)
                )
                first = spooled[0].entry.queue_id
            else:
                first = (await run_db(do_enqueue_routed, **message))[0].queue_id
        except CleanupError as exc:
            log.error("queue commit failed: %s", exc)
            return "451 4.3.0 Local error in processing, try again later"
        except StorageError as exc:
            log.error("spool failure: %s", exc)
            if "No space" in str(exc):
                return "452 4.3.1 Insufficient system storage"
            return "451 4.3.0 Local error in processing, try again later"
        except Exception:  # any failure before the commit must be temporary, never 250 or 5xx
            log.exception("queue commit failed")
            return "451 4.3.0 Local error in processing, try again later"
        return f"250 2.0.0 Ok: queued as {first}"


def _accept(envelope: Any, address: str, *, action: str, remote: bool = False) -> str:
    if address in envelope.rcpt_tos:
        return "250 2.1.5 Recipient OK (duplicate)"
    envelope.rcpt_tos.append(address)
    if remote:
        envelope.mailroom_remote = [*getattr(envelope, "mailroom_remote", ()), address]
    if action == RelayAction.DISCARD:
        envelope.mailroom_discard = [*getattr(envelope, "mailroom_discard", ()), address]
    return "250 2.1.5 Recipient OK"


def kept_recipients(envelope: Any) -> list[str]:
    """The envelope's recipients minus those a DISCARD rule swallows."""
    dropped = set(getattr(envelope, "mailroom_discard", ()))
    return [r for r in envelope.rcpt_tos if r not in dropped]


def discarded(envelope: Any, queue_id: str, ip: str) -> str:
    """sendmail's DISCARD: the client is told 250, nothing is queued, the log says so."""
    log.warning(
        "%s: discarded by access rule: from=<%s> client=%s rcpts=%s",
        queue_id,
        _printable(reverse_path(envelope)),
        ip,
        ",".join(_printable(r) for r in envelope.rcpt_tos),
    )
    return f"250 2.0.0 Ok: queued as {queue_id}"


def _peer_ip(session: Any) -> str:
    return str(session.peer[0]) if session.peer else "unknown"


def _lookup(
    ip: str | None, address: str, sender: str = ""
) -> tuple[list[AccessRule] | None, Recipient, Usage | None, bool]:
    found = dircache.recipient(address)
    # Quota usage only for accounts that have a quota: one more indexed query, not for all.
    room = usage_of_address(found.address) if found.quota_bytes else None
    rules = access_rules_for_ip(dircache.access_rules(), ip) if ip is not None else None
    blocked = _blocks(found, sender) and is_blocked(blocked_for_address(found.address), sender)
    return rules, found, room, blocked


def _blocks(found: Recipient, sender: str) -> bool:
    """Whether 수신차단 applies: an account recipient and a non-null sender."""
    return found.resolution is Resolution.ACCOUNT and bool(sender)


def _cached_lookup(
    ip: str | None, address: str, sender: str = ""
) -> tuple[list[AccessRule] | None, Recipient, Usage | None, bool] | None:
    """_lookup's answer from the directory memo and the block-list memo alone, or None when it
    needs the database (a miss, or an account with a quota: its usage changes with every
    delivery)."""
    found = dircache.cached_recipient(address)
    if found is None or found.quota_bytes:
        return None
    blocked = False
    if _blocks(found, sender):
        block_list = cached_blocked_for_address(found.address)
        if block_list is None:
            return None
        blocked = is_blocked(block_list, sender)
    if ip is None:
        return None, found, None, blocked
    rules = dircache.cached_access_rules()
    if rules is None:
        return None
    return access_rules_for_ip(rules, ip), found, None, blocked


def _declared_size(envelope: Any) -> int:
    """The SIZE= of MAIL FROM (RFC 1870), 0 when absent or malformed."""
    for option in envelope.mail_options:
        name, _, value = str(option).partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            return int(value)
    return 0


def _implicit_tls(server: Any) -> bool:
    transport = getattr(server, "transport", None)
    return transport is not None and transport.get_extra_info("sslcontext") is not None


def reverse_path(envelope: Any) -> str:
    """The envelope sender as stored: aiosmtpd keeps a null reverse-path (`MAIL FROM:<>`, the
    sender of every bounce) as the string "<>" so that its own "need MAIL" checks see a true
    value; everywhere past the wire it is the empty string (RFC 5321 §4.5.5)."""
    sender = envelope.mail_from or ""
    return "" if sender == "<>" else sender


def _printable(address: str) -> str:
    if address.isprintable() and "<" not in address and ">" not in address:
        return address[:320]  # the common case, without a generator over its characters
    return "".join(c if c.isprintable() and c not in "<>" else "?" for c in address)[:320]
