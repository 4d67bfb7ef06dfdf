"""do_submit(): an authenticated user sends a message (SMTP submission now, the REST API too).
Checks the sender, applies the per-account limits, stores the Sent copy once and queues the
message: local recipients inbound, remote ones outbound. It never speaks a protocol."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import errors, policy
from email.headerregistry import Address
from email.parser import HeaderParser
from email.utils import format_datetime, make_msgid
from typing import Unpack

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mailcore.addresses import canonical_domain, canonical_local, split_address
from mailcore.delivery import containment, spool
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.entries import EntryOptions, SpooledEntry, do_enqueue, spool_entry
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.directory.models import Account
from mailcore.directory.queries import Resolution, account_owns_address, resolve_recipient
from mailcore.errors import (
    InvalidAddressError,
    InvalidMessageError,
    RecipientRejectedError,
    SenderNotAllowedError,
    TooManyRecipientsError,
)
from mailcore.mime.headers import MAX_HEADER_BYTES, find_header_block, header_lines
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.queries import get_folder_by_special_use, maildir_for

log = logging.getLogger("mailroom")

ORIGIN_PREFIX = "submit:"
_ANY_EOL = re.compile(rb"\r\n|\r|\n")
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_STRIPPED_FIELDS = {b"bcc", b"resent-bcc"}
_TOO_LARGE = f"the header block is larger than {MAX_HEADER_BYTES // 1024} KB"


@dataclass(frozen=True, slots=True)
class Submission:
    """`entries`: one inbound entry for local recipients, one outbound for remote ones (either
    may be absent); `sent_message`: the copy stored in the sender's Sent folder (or None)."""

    entries: list[QueueEntry]
    sent_message: Message | None


# --- header surgery on raw bytes (the body is never touched, so signatures stay valid) -------


def _split(data: bytes) -> tuple[list[bytes], bytes] | None:
    """Header lines (each without its line end) and the body (after the blank line, if any);
    None when the header block does not end within MAX_HEADER_BYTES: a block whose end was
    not seen cannot be edited safely (a Bcc could follow)."""
    block = find_header_block(data)
    if block.truncated:
        return None
    return header_lines(data[: block.end]), data[block.body_start :]


def _join(lines: list[bytes], body: bytes) -> bytes:
    return b"".join(ln + b"\r\n" for ln in lines) + b"\r\n" + body


def _field_names(lines: list[bytes]) -> set[bytes]:
    return {m.group(1).lower() for ln in lines if (m := _FIELD.match(ln))}


def _without_fields(lines: list[bytes], names: set[bytes]) -> list[bytes]:
    out: list[bytes] = []
    dropping = False
    for ln in lines:
        if ln[:1] in (b" ", b"\t"):  # RFC 5322 §2.2.3: a folded continuation line
            if not dropping:
                out.append(ln)
            continue
        m = _FIELD.match(ln)
        dropping = bool(m and m.group(1).lower() in names)
        if not dropping:
            out.append(ln)
    return out


def complete_headers(data: bytes, *, hostname: str) -> bytes:
    """CRLF line ends everywhere; Message-ID and Date added when missing (RFC 5322 §3.6:
    Date is required, Message-ID should be present; RFC 6409 §8.3 lets the MSA add both).
    A header block larger than MAX_HEADER_BYTES is left as it is."""
    data = _ANY_EOL.sub(b"\r\n", data)
    split = _split(data)
    if split is None:  # only relayed mail: do_submit refuses such a block
        return data
    lines, body = split
    present = _field_names(lines)
    if b"date" not in present:
        lines.append(b"Date: " + format_datetime(datetime.now(UTC)).encode())
    if b"message-id" not in present:
        lines.append(b"Message-ID: " + make_msgid(domain=hostname).encode())
    return _join(lines, body)


def strip_bcc(data: bytes) -> bytes:
    """The copy that goes out: no Bcc (RFC 5322 §3.6.3), the rest byte for byte."""
    split = _split(data)
    if split is None:
        raise InvalidMessageError(_TOO_LARGE)
    lines, body = split
    return _join(_without_fields(lines, _STRIPPED_FIELDS), body)


def header_from_address(data: bytes) -> str:
    """The one mailbox of the one From field, or raise SenderNotAllowedError. Ambiguous forms
    (two From fields, two mailboxes, groups, parse defects) are refused, never guessed at
    (security.md S26, A2); so is a header block too large to see a second From in."""
    split = _split(data)
    if split is None:
        raise SenderNotAllowedError(_TOO_LARGE)
    lines, _ = split
    try:
        head = b"\r\n".join(lines).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SenderNotAllowedError("the From header is not valid UTF-8") from exc
    parsed = HeaderParser(policy=policy.default).parsestr(head + "\r\n\r\n")
    fields = parsed.get_all("From") or []
    if len(fields) != 1:
        raise SenderNotAllowedError("the message needs exactly one From header")
    field = fields[0]
    addresses: tuple[Address, ...] = getattr(field, "addresses", ())
    bad = [
        d
        for d in getattr(field, "defects", ())
        if isinstance(d, (errors.InvalidHeaderDefect, errors.NonPrintableDefect))
    ]
    if len(addresses) != 1 or bad or not addresses[0].addr_spec:
        raise SenderNotAllowedError("the From header must hold exactly one plain address")
    return str(addresses[0].addr_spec)


# --- checks ----------------------------------------------------------------------------------


def check_sender(account: Account, address: str, *, what: str = "sender") -> None:
    if not address or not account_owns_address(account, address):
        raise SenderNotAllowedError(f"{what} <{address}> is not an address of {account.address}")


def messages_sent_today(account: Account) -> int:
    return containment.messages_since(account, timezone.now() - timedelta(days=1))


def check_daily_limit(account: Account) -> None:
    """The daily limit of the containment policy (the account's own, or its domain's, or
    SUBMISSION_MAX_MESSAGES_PER_DAY): DailyLimitError when reached."""
    containment.check_daily_limit(account)


def check_recipient_count(count: int) -> None:
    limit = settings.SUBMISSION_MAX_RECIPIENTS
    if limit and count > limit:
        raise TooManyRecipientsError(f"at most {limit} recipients per message")


def remote_address(address: str) -> str:
    """A recipient outside our domains: domain as A-label, local part as given (only the
    destination may interpret it, RFC 5321 §2.4) but checked for syntax."""
    local, domain = split_address(address)
    canonical_local(local)
    return f"{local}@{canonical_domain(domain)}"


def route_recipients(recipients: list[str]) -> tuple[list[str], list[str]]:
    """(local, remote) canonical recipients; RecipientRejectedError for any that cannot be."""
    local, remote, _ = _route(recipients)
    return local, remote


def _route(recipients: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
    """route_recipients() and the canonical form of each recipient as given."""
    local: list[str] = []
    remote: list[str] = []
    canonical: dict[str, str] = {}
    for raw in recipients:
        found = resolve_recipient(raw)
        match found.resolution:
            case Resolution.ACCOUNT | Resolution.ALIAS | Resolution.POSTMASTER:
                local.append(found.address)
                canonical[raw] = found.address
            case Resolution.NOT_LOCAL if found.address:
                try:
                    remote.append(remote_address(raw))
                except InvalidAddressError as exc:
                    raise RecipientRejectedError(f"<{raw}>: {exc}") from exc
                canonical[raw] = remote[-1]
            case Resolution.DISABLED:
                raise RecipientRejectedError(f"<{raw}>: mailbox disabled")
            case Resolution.UNKNOWN:
                raise RecipientRejectedError(f"<{raw}>: no such local mailbox")
            case _:
                raise RecipientRejectedError(f"<{raw}>: not a deliverable address")
    return list(dict.fromkeys(local)), list(dict.fromkeys(remote)), canonical


# --- the actions -----------------------------------------------------------------------------


def do_enqueue_routed(
    *,
    sender: str,
    local: list[str],
    remote: list[str],
    data: bytes,
    queue_id: str | None = None,
    **options: Unpack[EntryOptions],
) -> list[QueueEntry]:
    """Queue one message for local recipients (an inbound entry, delivered by the worker like
    mail from outside) and remote ones (one outbound entry for the relay), both or neither.
    `queue_id` names the inbound entry (the id the SMTP client is told); `options["rcpt_dsn"]`
    is keyed by the recipients as given here."""
    jobs = _routed_jobs(local, remote, queue_id)

    def enqueue(direction: str, rcpts: list[str], qid: str | None) -> QueueEntry:
        return do_enqueue(
            sender=sender, recipients=rcpts, data=data, direction=direction, queue_id=qid, **options
        )

    if len(jobs) == 1:  # the common case: no outer transaction, no savepoint round trips
        return [enqueue(*jobs[0])]
    entries: list[QueueEntry] = []
    try:
        with transaction.atomic():
            for job in jobs:
                entries.append(enqueue(*job))  # noqa: PERF401 - one by one: cleanup needs them
    except BaseException:
        for entry in entries:  # committed savepoints, rolled back with the block: files too
            spool.remove(entry.spool_name)
        raise
    return entries


def spool_routed(
    *,
    sender: str,
    local: list[str],
    remote: list[str],
    data: bytes,
    queue_id: str | None = None,
    **options: Unpack[EntryOptions],
) -> list[SpooledEntry]:
    """The first half of do_enqueue_routed for the group committer (mailcore.smtp): the spool
    files written (neither they nor their directories fsynced yet) and the rows built. Nothing
    is accepted until do_commit_spooled has fsynced the files and committed the rows. No
    database access."""
    out: list[SpooledEntry] = []
    try:
        for direction, rcpts, qid in _routed_jobs(local, remote, queue_id):
            out.append(
                spool_entry(
                    sender=sender,
                    recipients=rcpts,
                    data=data,
                    direction=direction,
                    queue_id=qid,
                    sync_dir=False,
                    sync_file=False,
                    **options,
                )
            )
    except BaseException:
        for spooled in out:
            spool.discard(spooled.file)
        raise
    return out


def _routed_jobs(
    local: list[str], remote: list[str], queue_id: str | None
) -> list[tuple[str, list[str], str | None]]:
    """(direction, recipients, queue id) of each entry a routed message makes."""
    return [
        (direction, rcpts, qid)
        for direction, rcpts, qid in (
            (Direction.INBOUND, local, queue_id),
            (Direction.OUTBOUND, remote, None if local else queue_id),
        )
        if rcpts
    ]


def do_submit(
    *,
    acting_account: Account,
    envelope_sender: str,
    recipients: list[str],
    data: bytes,
    source: str,
    save_copy: bool = True,
    copy_folder: Folder | None = None,
    trace: bytes = b"",
    client_ip: str | None = None,
    client_helo: str = "",
    smtputf8: bool = False,
    queue_id: str | None = None,
    dsn: MailDsn | None = None,
    rcpt_dsn: Mapping[str, RcptDsn] | None = None,
    due_at: datetime | None = None,
    within: Callable[[Submission], None] | None = None,
) -> Submission:
    """Send `data` as `acting_account`.

    Raises SenderNotAllowedError (envelope sender or header From not owned),
    TooManyRecipientsError / DailyLimitError (limits), RecipientRejectedError; StorageError or
    a database error when nothing could be stored. All or nothing: the Sent copy and the queue
    rows commit in one transaction, and files of a failed attempt are removed, so a client
    that retries after an error never causes a second copy or a second send.
    `trace` (a Received header) goes on the queued copies only, not on the Sent copy;
    `queue_id` (default: a new one) is the id of the first queue entry, named in `trace`.
    `dsn`, `rcpt_dsn` (keyed by the addresses in `recipients`): RFC 3461 parameters.
    `due_at` (mailcore.outbox: scheduled, or held for undo): the entries wait until then.
    `within` runs inside the transaction with the result (the outbox's own rows commit with
    the queue rows, or not at all).
    """
    check_sender(acting_account, envelope_sender, what="envelope sender")
    message = complete_headers(data, hostname=settings.MAIL_HOSTNAME)
    check_sender(acting_account, header_from_address(message), what="header From")
    local, remote, canonical = _route(recipients)
    check_recipient_count(len(local) + len(remote))
    asked = {canonical[raw]: params for raw, params in (rcpt_dsn or {}).items() if raw in canonical}
    outgoing = trace + strip_bcc(message)
    submission_id = queue_id or spool.new_queue_id()
    origin = f"{ORIGIN_PREFIX}{submission_id}"
    spooled: list[str] = []
    sent: Message | None = None
    try:
        with transaction.atomic(durable=True):
            held = False
            if local or remote:  # the containment policy: daily limit, burst, bounces
                admitted = containment.admit_submission(acting_account, len(local) + len(remote))
                held = admitted.held
            if save_copy:
                folder = copy_folder or get_folder_by_special_use(acting_account, SpecialUse.SENT)
                sent = do_append(
                    acting_account=acting_account,
                    folder=folder,
                    data=message,
                    source=source,
                    flags=("seen",),
                )
            entries = do_enqueue_routed(
                sender=envelope_sender,
                local=local,
                remote=remote,
                data=outgoing,
                queue_id=submission_id,
                client_ip=client_ip,
                client_helo=client_helo,
                smtputf8=smtputf8,
                authenticated_as=acting_account,
                origin=origin,
                sent_copy=sent,
                dsn=dsn,
                rcpt_dsn=asked,
                due_at=due_at,
                paused=held,
            )
            spooled.extend(e.spool_name for e in entries)
            if within is not None:
                within(Submission(entries=entries, sent_message=sent))
    except BaseException:
        for name in spooled:
            spool.remove(name)
        if sent is not None:
            folder_path = sent.folder.path
            maildir_for(acting_account).unlink(
                folder_path, sent.maildir_key, in_cur=sent.in_cur, info=sent.info
            )
        raise
    log.info(
        "submit %s: account=%s from=<%s> local=%d remote=%d sent_copy=%s%s",
        submission_id,
        acting_account.address,
        envelope_sender,
        len(local),
        len(remote),
        sent.pk if sent else None,
        " held" if held else "",
    )
    return Submission(entries=entries, sent_message=sent)
