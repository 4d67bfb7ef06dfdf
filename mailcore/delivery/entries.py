"""Queue entries: accepting one (spool + row, the promise behind SMTP's 250), ringing the
doorbell for it, and what an attempt makes of a recipient (Outcome).

The bottom of the delivery layers (import-linter keeps it so): local delivery
(delivery.actions), remote delivery (delivery.outbound), submission and queue operations
all build on this module, and it imports none of them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from django.db import connection, models, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from mailcore.dbutil import (
    array_of,
    array_params,
    array_values,
    column_values,
    insert_is_one_statement,
    insert_with_children,
    typed_arrays_on,
)
from mailcore.delivery import spool
from mailcore.delivery.doorbell import doorbell
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.models import (
    Direction,
    EntryState,
    QueueEntry,
    QueueRecipient,
    RecipientState,
)
from mailcore.directory.models import Account
from mailcore.mime import find_header_block
from mailcore.store.models import Message

log = logging.getLogger("mailroom")

FINAL_STATES = (RecipientState.DELIVERED, RecipientState.BOUNCED)


def dispatch(entry_id: int) -> None:
    """Ring the doorbell (coalesced, never raises): the sweep covers a lost notice."""
    doorbell.ring(entry_id)


class EntryOptions(TypedDict, total=False):
    """What a queue entry records besides its sender, recipients and bytes: the client, the
    submitting account and the origin when not SMTP, the Sent copy of a submission, and the
    RFC 3461 parameters the client gave (`rcpt_dsn` by recipient). `due_at` (the outbox: a
    scheduled send, or the end of an undo window) keeps the entry untried until then: it
    counts as received then too (retry expiry and delay notices start there), and no doorbell
    rings now; the sweep's due scan takes it at its time."""

    client_ip: str | None
    client_helo: str
    smtputf8: bool
    authenticated_as: Account | None
    origin: str
    sent_copy: Message | None
    dsn: MailDsn | None
    rcpt_dsn: Mapping[str, RcptDsn] | None
    due_at: datetime | None
    verdict: dict[str, Any] | None  # inbound checks already run at SMTP time (mailcore.inbound)
    paused: bool  # its sending account is held (delivery.containment): queued PAUSED


def do_enqueue(
    *,
    sender: str,
    recipients: list[str],
    data: bytes,
    direction: str = Direction.INBOUND,
    queue_id: str | None = None,
    **options: Unpack[EntryOptions],
) -> QueueEntry:
    """Spool `data` durably and commit its queue row; only then may the caller say 250.

    Raises StorageError (spool) or a database error (row); in either case nothing is queued
    and no spool file is left behind.
    """
    spooled = spool_entry(
        sender=sender,
        recipients=recipients,
        data=data,
        direction=direction,
        queue_id=queue_id,
        **options,
    )
    # Once per accepted message: raw inserts (no ORM query building) and, on PostgreSQL
    # outside a caller's transaction, one autocommitted statement instead of BEGIN, two
    # INSERTs and COMMIT. Either way the rows are committed (or rolled back) together.
    try:
        one_statement = insert_is_one_statement() and connection.get_autocommit()
        with contextlib.nullcontext() if one_statement else transaction.atomic():
            _insert(spooled)
    except BaseException:
        spool.remove(spooled.entry.spool_name)
        raise
    _log_queued(spooled)
    return spooled.entry


@dataclass(frozen=True, slots=True)
class SpooledEntry:
    """A message in the spool (file fsynced) whose queue rows are built but not inserted: not
    yet accepted. See do_commit_spooled."""

    entry: QueueEntry
    rows: list[QueueRecipient]
    file: spool.SpoolFile  # with sync_file=False: still to be fsynced (do_commit_spooled)


_ENTRY_ACCOUNT = QueueEntry._meta.get_field("authenticated_as")
_ENTRY_SENT_COPY = QueueEntry._meta.get_field("sent_copy")
_RECIPIENT_ENTRY = QueueRecipient._meta.get_field("entry")


def spool_entry(
    *,
    sender: str,
    recipients: list[str],
    data: bytes,
    direction: str = Direction.INBOUND,
    queue_id: str | None = None,
    sync_dir: bool = True,
    sync_file: bool = True,
    **options: Unpack[EntryOptions],
) -> SpooledEntry:
    """Write and fsync the spool file of `data` (its directory too unless `sync_dir` is
    False, the file itself unless `sync_file` is False: see spool.write) and build its
    unsaved queue rows. No database access."""
    queue_id = queue_id or spool.new_queue_id()
    stored = spool.write(queue_id, data, sync_dir=sync_dir, sync_file=sync_file)
    now = timezone.now()
    due_at = options.get("due_at")
    if due_at is not None and due_at > now:
        now = due_at
    dsn = options.get("dsn")
    account = options.get("authenticated_as")
    sent_copy = options.get("sent_copy")
    given: dict[str, Any] = {
        "queue_id": queue_id,
        "direction": direction,
        "sender": sender,
        "spool_name": stored.name,
        "size": stored.size,
        "sha256": stored.sha256,
        "client_ip": options.get("client_ip"),
        "client_helo": options.get("client_helo", "")[:255],
        "smtputf8": options.get("smtputf8", False),
        "authenticated_as_id": account.pk if account is not None else None,
        "received_at": now,
        "next_attempt_at": now,
        "origin": options.get("origin", ""),
        "sent_copy_id": sent_copy.pk if sent_copy is not None else None,
        "message_id": header_message_id(data),
        "dsn_ret": dsn.ret if dsn else "",
        "dsn_envid": dsn.envid if dsn else "",
        "verdict": options.get("verdict") if direction == Direction.INBOUND else None,
    }
    if options.get("paused"):
        given["state"] = EntryState.PAUSED
    entry: QueueEntry = _positional(QueueEntry, given)
    # The related objects cached (None too) as QueueEntry(authenticated_as=…, sent_copy=…) did
    # (their ids are set above: no descriptor needed).
    _ENTRY_ACCOUNT.set_cached_value(entry, account)
    _ENTRY_SENT_COPY.set_cached_value(entry, sent_copy)
    asked = options.get("rcpt_dsn") or {}
    rows: list[QueueRecipient] = []
    for r in dict.fromkeys(recipients):
        wanted: dict[str, Any] = {"address": r}
        if r in asked:
            wanted["dsn_notify"] = asked[r].notify
            wanted["dsn_orcpt"] = asked[r].orcpt
        row: QueueRecipient = _positional(QueueRecipient, wanted)
        # As row.entry = entry: entry_id None until batch_insert/_mark_inserted.
        _RECIPIENT_ENTRY.set_cached_value(row, entry)
        rows.append(row)
    return SpooledEntry(entry, rows, stored)


# The unsaved queue rows are built as Model.__init__ builds them from positional values (every
# concrete field's value set as the instance's attribute), without its per-field loop, its
# foreign keys' descriptors and its two signals (when nothing listens to them): 3.4 us for an
# entry and one recipient against 11 (timeit; Django's keyword path took about 3 times that).
_IMMUTABLE = (str, int, bool, type(None))


@functools.cache
def _defaults(model: type[models.Model]) -> dict[str, Any]:
    """attname -> default of each concrete field of `model`, in the order its constructor
    takes them positionally. Only constant defaults can be shared between instances."""
    out: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        default = f.get_default()
        if not isinstance(default, _IMMUTABLE):
            raise TypeError(f"{model.__name__}.{f.name}: default {default!r} is not a constant")
        out[f.attname] = default
    return out


@functools.cache
def _plain_init(model: type[models.Model]) -> bool:
    """Nothing listens to `model`'s pre_init/post_init (checked once, at its first row)."""
    return not (pre_init.has_listeners(model) or post_init.has_listeners(model))


def _positional(model: Any, given: dict[str, Any]) -> Any:
    """An unsaved `model` with the values of `given` (by attname), the defaults elsewhere."""
    defaults = _defaults(model)
    if not defaults.keys() >= given.keys():
        raise TypeError(f"not fields of {model.__name__}: {sorted(given.keys() - defaults.keys())}")
    if not _plain_init(model):
        return model(*[given.get(name, default) for name, default in defaults.items()])
    obj = model.__new__(model)
    obj._state = ModelState()
    vars(obj).update(defaults, **given)
    return obj


def do_commit_spooled(spooled: list[SpooledEntry]) -> None:
    """Accept many spooled messages at once (group commit): their spool files and directories
    fsynced (side by side, a directory once), then every row in one transaction. Raises
    StorageError or a database error when any of it fails; then none of them is queued and
    their spool files are removed."""
    one_statement = batch_insert_is_one_statement()
    try:
        spool.sync([s.file for s in spooled])
        if one_statement:
            # One autocommitted statement: committed (or not at all) when it returns.
            batch_insert(spooled)
        else:
            with transaction.atomic(durable=True):
                _insert_values(spooled)
    except BaseException:
        for s in spooled:
            spool.remove(s.entry.spool_name)
        raise
    _ring_all(spooled)  # committed: the doorbell may ring
    for s in spooled:
        _log_queued(s)


def _insert(spooled: SpooledEntry) -> None:
    """Insert the rows of `spooled` (inside the caller's transaction, or as one statement) and
    ring the doorbell once they are committed (an entry due later: at its time)."""
    entry = spooled.entry
    insert_with_children(entry, spooled.rows, "entry")
    if entry.state == EntryState.PAUSED:
        return  # no doorbell: it waits for an admin's release
    wait = (entry.next_attempt_at - timezone.now()).total_seconds()
    if wait <= 0:
        transaction.on_commit(lambda: dispatch(entry.pk), robust=True)
    else:
        transaction.on_commit(lambda: doorbell.ring_later(entry.pk, wait), robust=True)


def batch_insert_is_one_statement() -> bool:
    """Does batch_insert() apply (PostgreSQL, outside any transaction)?"""
    return (
        connection.vendor == "postgresql"
        and connection.get_autocommit()
        and not connection.in_atomic_block
    )


@functools.cache
def _batch_fields() -> tuple[list[models.Field[Any, Any]], list[models.Field[Any, Any]]]:
    """The columns batch_insert writes: every one but the key, of the entry and of the
    recipient (whose link is set from the entry inserted)."""
    return (
        [f for f in QueueEntry._meta.concrete_fields if not f.primary_key],
        [
            f
            for f in QueueRecipient._meta.concrete_fields
            if not f.primary_key and f.name != "entry"
        ],
    )


@functools.cache
def _batch_sql() -> str:
    """The statement of batch_insert, built once from the two models: the entries from one
    array per column (unnest), their recipients from arrays too, joined to the new entries by
    queue_id (unique). Its text never changes with the batch's size, so PostgreSQL parses
    and plans it once per connection (a prepared statement). The arrays travel in binary:
    psycopg's text form escapes every element (most of the statement's client cost)."""
    qn = connection.ops.quote_name
    arrays = array_params
    entry_fields, rcpt_fields = _batch_fields()
    entry_cols = ", ".join(qn(f.column or f.attname) for f in entry_fields)
    rcpt_cols = ", ".join(qn(f.column or f.attname) for f in rcpt_fields)
    rcpt_names = ", ".join(f"w.c{i}" for i in range(len(rcpt_fields)))
    return (
        f"WITH e AS (INSERT INTO {qn(QueueEntry._meta.db_table)} ({entry_cols}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays(entry_fields)}) RETURNING id, queue_id), "
        f"r AS (INSERT INTO {qn(QueueRecipient._meta.db_table)} (entry_id, {rcpt_cols}) "
        f"SELECT e.id, {rcpt_names} FROM unnest(%b::varchar[], {arrays(rcpt_fields)}) "
        f"AS w(queue_id, {', '.join(f'c{i}' for i in range(len(rcpt_fields)))}) "
        "JOIN e ON e.queue_id = w.queue_id RETURNING 1) "
        "SELECT id, queue_id FROM e"
    )


_queue_id_field = QueueEntry._meta.get_field("queue_id")


def batch_insert(spooled: list[SpooledEntry]) -> None:
    """The rows of every entry of `spooled` and of their recipients in one statement (one
    round trip, no BEGIN/COMMIT), server-side bound and prepared: no ORM query building.
    PostgreSQL only, in autocommit (batch_insert_is_one_statement). Field values go through
    pre_save and get_db_prep_save, as in Model.save(); the entries get their primary keys."""
    import psycopg

    entry_fields, rcpt_fields = _batch_fields()
    entries = [s.entry for s in spooled]
    columns = [array_values(f, entries) for f in entry_fields]
    rows = [row for s in spooled for row in s.rows]
    rcpt_columns = [array_of(_queue_id_field, [row.entry.queue_id for row in rows])] + [
        array_values(f, rows) for f in rcpt_fields
    ]
    connection.ensure_connection()
    typed_arrays_on(connection.connection)
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_batch_sql(), [*columns, *rcpt_columns], prepare=True)
        ids = {qid: pk for pk, qid in cursor.fetchall()}
    for s in spooled:
        _mark_inserted(s, ids[s.entry.queue_id])


# SQLite allows 32,766 parameters per statement; recipients are inserted this many at a time.
_ROWS_PER_INSERT = 1000


def _insert_values(spooled: list[SpooledEntry]) -> None:
    """batch_insert for SQLite (and PostgreSQL inside a transaction), inside the caller's
    transaction: one multi-row INSERT … RETURNING for the entries, then their recipients by
    multi-row INSERTs; no ORM query building. The entries get their primary keys."""
    qn = connection.ops.quote_name
    entry_fields, rcpt_fields = _batch_fields()
    entries = [s.entry for s in spooled]
    columns = [column_values(f, entries) for f in entry_fields]
    row = "(" + ", ".join(["%s"] * len(entry_fields)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(QueueEntry._meta.db_table)} "  # noqa: S608
            f"({', '.join(qn(f.column or f.attname) for f in entry_fields)}) "
            f"VALUES {', '.join([row] * len(entries))} RETURNING id, queue_id",
            [value for values in zip(*columns, strict=True) for value in values],
        )
        ids = {qid: pk for pk, qid in cursor.fetchall()}
        for s in spooled:
            _mark_inserted(s, ids[s.entry.queue_id])
        rows = [row for s in spooled for row in s.rows]
        for at in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[at : at + _ROWS_PER_INSERT]
            rcpt_columns = [[r.entry_id for r in chunk]] + [
                column_values(f, chunk) for f in rcpt_fields
            ]
            rrow = "(" + ", ".join(["%s"] * len(rcpt_columns)) + ")"
            cursor.execute(
                f"INSERT INTO {qn(QueueRecipient._meta.db_table)} (entry_id, "  # noqa: S608
                f"{', '.join(qn(f.column or f.attname) for f in rcpt_fields)}) "
                f"VALUES {', '.join([rrow] * len(chunk))}",
                [value for values in zip(*rcpt_columns, strict=True) for value in values],
            )


def _mark_inserted(spooled: SpooledEntry, pk: int) -> None:
    """The entry saved as `pk`, its recipients linked to it (as the ORM leaves them)."""
    entry = spooled.entry
    entry.pk = pk
    entry._state.adding = False
    entry._state.db = connection.alias
    for row in spooled.rows:
        row.entry_id = pk


def _ring_all(spooled: list[SpooledEntry]) -> None:
    """The doorbell for entries just committed (an entry due later: at its time; a paused
    one: none, it waits for an admin's release)."""
    now = timezone.now()
    for s in spooled:
        entry = s.entry
        if entry.state == EntryState.PAUSED:
            continue
        wait = (entry.next_attempt_at - now).total_seconds()
        if wait <= 0:
            dispatch(entry.pk)
        else:
            doorbell.ring_later(entry.pk, wait)


def _log_queued(spooled: SpooledEntry) -> None:
    entry = spooled.entry
    log.info(
        "%s: from=<%s>, size=%d, nrcpt=%d, client=%s",
        entry.queue_id,
        entry.sender,
        entry.size,
        len(spooled.rows),
        entry.client_ip,
    )


# The first Message-ID field of a header block, with its continuation lines: a field starts a
# line (after any line end, M14) and a continuation starts with SP or HTAB (as header_fields
# reads them). One search instead of splitting every line (30 us a message, timeit).
_MESSAGE_ID = re.compile(
    rb"(?<![^\r\n])message-id[ \t]*+:([^\r\n]*+(?:(?:\r\n|\r|\n)[ \t][^\r\n]*+)*+)", re.IGNORECASE
)
_WSP = re.compile(rb"\s+")


def header_message_id(data: bytes) -> str:
    """The Message-ID of `data` without <> ('' if none). Only the header block is read, and
    only its first MAX_HEADER_BYTES; folded values are unfolded, CRLF and bare LF alike
    (the value get_header gives, its whitespace removed)."""
    found = _MESSAGE_ID.search(data, 0, find_header_block(data).end)
    if found is None:
        return ""
    text = _WSP.sub(b"", found.group(1)).decode("ascii", "replace")
    return text.removeprefix("<").removesuffix(">")[:998]


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    reply: str
