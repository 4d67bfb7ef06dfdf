"""Queue entries: accepting one (spool + row, the promise behind SMTP's 250), ringing the
doorbell for it, and what an attempt makes of a recipient (Outcome).

The bottom of the delivery layers (import-linter keeps it so): local delivery
(delivery.actions), remote delivery (delivery.outbound), submission and queue operations
all build on this module, and it imports none of them.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from mailcore.dbutil import insert_is_one_statement, insert_with_children
from mailcore.delivery import spool
from mailcore.delivery.doorbell import doorbell
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient, RecipientState
from mailcore.directory.models import Account
from mailcore.mime import get_header
from mailcore.store.models import Message

log = logging.getLogger("mailroom")

FINAL_STATES = (RecipientState.DELIVERED, RecipientState.BOUNCED)


def dispatch(entry_id: int) -> None:
    """Ring the doorbell (coalesced, never raises): the sweep covers a lost notice."""
    doorbell.ring(entry_id)


def do_enqueue(
    *,
    sender: str,
    recipients: list[str],
    data: bytes,
    client_ip: str | None = None,
    client_helo: str = "",
    smtputf8: bool = False,
    authenticated_as: Account | None = None,
    direction: str = Direction.INBOUND,
    origin: str = "",
    queue_id: str | None = None,
    sent_copy: Message | None = None,
    dsn: MailDsn | None = None,
    rcpt_dsn: Mapping[str, RcptDsn] | None = None,
    due_at: datetime | None = None,
) -> QueueEntry:
    """Spool `data` durably and commit its queue row; only then may the caller say 250.
    `dsn` and `rcpt_dsn` (by recipient) are the RFC 3461 parameters the client gave.
    `due_at` (the outbox: a scheduled send, or the end of an undo window) keeps the entry
    untried until then: it counts as received then too (retry expiry and delay notices
    start there), and no doorbell rings now; the sweep's due scan takes it at its time.

    Raises StorageError (spool) or a database error (row); in either case nothing is queued
    and no spool file is left behind.
    """
    queue_id = queue_id or spool.new_queue_id()
    stored = spool.write(queue_id, data)
    now = timezone.now()
    later = due_at is not None and due_at > now
    if due_at is not None and later:
        now = due_at
    entry = QueueEntry(
        queue_id=queue_id,
        direction=direction,
        sender=sender,
        spool_name=stored.name,
        size=stored.size,
        sha256=stored.sha256,
        client_ip=client_ip,
        client_helo=client_helo[:255],
        smtputf8=smtputf8,
        authenticated_as=authenticated_as,
        received_at=now,
        next_attempt_at=now,
        origin=origin,
        sent_copy=sent_copy,
        message_id=header_message_id(data),
        dsn_ret=dsn.ret if dsn else "",
        dsn_envid=dsn.envid if dsn else "",
    )
    asked = rcpt_dsn or {}
    rows = [
        QueueRecipient(
            entry=entry,
            address=r,
            dsn_notify=asked[r].notify if r in asked else "",
            dsn_orcpt=asked[r].orcpt if r in asked else "",
        )
        for r in dict.fromkeys(recipients)
    ]
    # Once per accepted message: raw inserts (no ORM query building) and, on PostgreSQL
    # outside a caller's transaction, one autocommitted statement instead of BEGIN, two
    # INSERTs and COMMIT. Either way the rows are committed (or rolled back) together.
    try:
        one_statement = insert_is_one_statement() and connection.get_autocommit()
        with contextlib.nullcontext() if one_statement else transaction.atomic():
            insert_with_children(entry, rows, "entry")
            if not later:
                transaction.on_commit(lambda: dispatch(entry.pk), robust=True)
            else:
                wait = (now - timezone.now()).total_seconds()
                transaction.on_commit(lambda: doorbell.ring_later(entry.pk, wait), robust=True)
    except BaseException:
        spool.remove(stored.name)
        raise
    log.info(
        "%s: from=<%s>, size=%d, nrcpt=%d, client=%s",
        queue_id,
        sender,
        stored.size,
        len(recipients),
        client_ip,
    )
    return entry


def header_message_id(data: bytes) -> str:
    """The Message-ID of `data` without <> ('' if none). Only the header block is read, and
    only its first MAX_HEADER_BYTES; folded values are unfolded, CRLF and bare LF alike."""
    value = get_header(data, "message-id")
    if value is None:
        return ""
    text = re.sub(rb"\s+", b"", value).decode("ascii", "replace")
    return text.removeprefix("<").removesuffix(">")[:998]


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    reply: str
