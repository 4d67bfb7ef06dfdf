"""One change history per account (ARCHITECTURE rule 8): the modseq counter, tombstones, and
the queries IMAP CONDSTORE/QRESYNC, the web push and a JMAP /changes read.

How it works: every store action takes `next_modseq(account)` FIRST in its transaction (an
UPSERT … RETURNING on the account's ChangeCounter row, which stays locked until commit). So
modseqs commit in order within an account (a client that saw modseq M has seen every change
at or below M), and folder/message row locks are always taken after the counter's: no lock
order cycles between two actions of one account. Every row the action touches gets that
modseq; rows leaving a folder leave a Tombstone with it; each touched folder's highestmodseq
is set to it (`touch_folders`), so Folder.highestmodseq is the largest modseq among its rows
and tombstones. Tombstones are purged after CHANGES_HISTORY_DAYS (`purge_tombstones`); the
counter then remembers the highest purged modseq, and `check_since` raises HistoryGoneError
for a client state below it (or above the current one): the caller resyncs the client.

Writes here run only inside the store actions' transactions; the queries are read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from mailcore.errors import HistoryGoneError
from mailcore.store.models import ChangeCounter, Folder, Message, Tombstone, TombstoneKind

PURGE_BATCH = 5000


# How far an account's modseq jumps on its first change after the database server started
# again: past every modseq a crash can have lost (see next_modseq). PostgreSQL flushes an
# asynchronous commit within 3 x wal_writer_delay (600 ms by default); a million changes of
# one account in that time is far beyond what a server can do. Modseqs are 63-bit (RFC 7162).
RESTART_JUMP = 1_000_000


def next_modseq(account_id: int, *, durable: bool = True) -> int:
    """The account's next modseq, with its counter row locked until the caller's transaction
    ends (call it first in the transaction; outside one it is a single committed statement).
    One UPSERT … RETURNING: PostgreSQL and SQLite (3.35+) alike.

    durable=False (PostgreSQL; flag changes and expunges, as Dovecot's mail_fsync=optimized
    does not fsync them): the transaction commits asynchronously (synchronous_commit off for
    this transaction only, set in the same statement), so the counter's lock, which every
    other change of the account waits for, is released without waiting for the WAL flush.
    Other sessions see the change at once, in modseq order as before; what a crash of the
    database server (not of ours) may lose is the last fraction of a second of such changes.
    Only for the outermost transaction (a caller's own transaction keeps its synchronous
    commit), and never for the counter row's first insert. A synchronous commit flushes
    every earlier asynchronous one with it: APPEND and delivery stay durable when answered.

    So that a lost modseq is never handed out again (a client that saw it would miss the
    change that reuses it), the counter remembers the database server's start time
    (pg_postmaster_start_time()): the first change after a restart or failover jumps
    RESTART_JUMP past the highest modseq that survived, and records that value in
    `lost_after`; check_since answers HistoryGoneError for a client state inside such a gap
    (a state that may include a change the crash lost: that client resynchronises)."""
    table = ChangeCounter._meta.db_table
    if connection.vendor != "postgresql":
        sql = (
            f"INSERT INTO {table} (account_id, highestmodseq, purged_modseq, lost_after) "  # noqa: S608
            "VALUES (%s, 2, 0, '[]') ON CONFLICT (account_id) DO UPDATE "
            f"SET highestmodseq = {table}.highestmodseq + 1 RETURNING highestmodseq"
        )
        params: list[int] = [account_id]
    else:
        # Only when this is the outermost transaction: the setting lasts until its commit.
        asynchronous = not durable and len(connection.atomic_blocks) == 1
        cte, params = modseq_cte(account_id)
        sql = f"WITH {cte} SELECT c.highestmodseq, {commit_mode(asynchronous)} FROM c"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert row is not None  # an UPSERT returns its row
    return int(row[0])


def modseq_cte(account_id: int) -> tuple[str, list[int]]:
    """PostgreSQL: next_modseq's UPSERT as `c AS (…)` for a WITH, returning highestmodseq
    and xmax, with its parameters; a statement that joins its writes with `c` takes the
    counter's lock before any row it writes, as the account's lock order wants (the rows
    are only locked as the join with c produces them). Pair it with commit_mode in the
    statement's SELECT list."""
    table = ChangeCounter._meta.db_table
    same = f"{table}.server_started = EXCLUDED.server_started"
    cte = (
        f"c AS (INSERT INTO {table} (account_id, highestmodseq, purged_modseq, "  # noqa: S608
        "server_started, lost_after) VALUES (%s, 2, 0, pg_postmaster_start_time(), '[]') "
        f"ON CONFLICT (account_id) DO UPDATE SET highestmodseq = {table}.highestmodseq + "
        f"CASE WHEN {same} THEN 1 ELSE %s END, "
        f"lost_after = CASE WHEN {same} THEN {table}.lost_after "
        f"ELSE {table}.lost_after || to_jsonb({table}.highestmodseq) END, "
        "server_started = EXCLUDED.server_started RETURNING highestmodseq, xmax)"
    )
    return cte, [account_id, RESTART_JUMP]


def commit_mode(asynchronous: bool) -> str:
    """SELECT-list expression for a statement with modseq_cte: when `asynchronous`, makes the
    transaction's commit asynchronous (synchronous_commit off until it ends), except when
    the counter row was inserted just now (xmax is 0 on a freshly inserted row, our
    transaction id on an updated one): lost, that insert would hand out its modseq again."""
    if not asynchronous:
        return "''"
    return "CASE WHEN c.xmax::text <> '0' THEN set_config('synchronous_commit', 'off', true) END"


def next_modseqs(account_ids: Iterable[int]) -> dict[int, int]:
    """next_modseq for several accounts, locked in id order (no deadlock between batches)."""
    return {account_id: next_modseq(account_id) for account_id in sorted(set(account_ids))}


def touch_folders(folder_ids: Iterable[int], modseq: int) -> None:
    """Folders whose rows or tombstones got `modseq`: that is their highestmodseq now."""
    ids = sorted(set(folder_ids))
    if ids:
        Folder.objects.filter(pk__in=ids).update(highestmodseq=modseq)


def add_tombstones(
    account_id: int, kind: str, gone: Iterable[tuple[int, int | None, int | None]], modseq: int
) -> None:
    """Tombstones for (folder id, uid, message pk) triples that left their folder at `modseq`."""
    now = timezone.now()
    Tombstone.objects.bulk_create(
        [
            Tombstone(
                account_id=account_id,
                kind=kind,
                folder_id=folder_id,
                uid=uid,
                message_pk=message_pk,
                modseq=modseq,
                created_at=now,
            )
            for folder_id, uid, message_pk in gone
        ],
        batch_size=1000,
    )


def tombstone_folders(account_id: int, folder_ids: Sequence[int], modseq: int) -> None:
    """A folder tombstone for each of `folder_ids` and an expunged tombstone for each message
    still in them (one INSERT … SELECT, however many messages): call before deleting them."""
    if not folder_ids:
        return
    now = timezone.now()
    add_tombstones(account_id, TombstoneKind.FOLDER, [(f, None, None) for f in folder_ids], modseq)
    table, messages = Tombstone._meta.db_table, Message._meta.db_table
    marks = ", ".join(["%s"] * len(folder_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, kind, folder_id, uid, message_pk, modseq, "  # noqa: S608
            f"created_at) SELECT account_id, %s, folder_id, uid, id, %s, %s FROM {messages} "
            f"WHERE folder_id IN ({marks})",
            [TombstoneKind.EXPUNGED, modseq, now, *folder_ids],
        )


# --- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryState:
    highestmodseq: int  # the account's current modseq
    purged_modseq: int  # history at or below this is gone
    # Modseqs after each of these, up to RESTART_JUMP further, may have been handed out and
    # then lost by a crash of the database server (next_modseq).
    lost_after: tuple[int, ...] = ()

    def lost(self, modseq: int) -> bool:
        """Is a client state at `modseq` inside a gap a crash may have left?"""
        return any(low < modseq < low + RESTART_JUMP for low in self.lost_after)


def history_state(account_id: int) -> HistoryState:
    row = (
        ChangeCounter.objects.filter(account_id=account_id)
        .values_list("highestmodseq", "purged_modseq", "lost_after")
        .first()
    )
    if row is None:
        return HistoryState(1, 0)
    return HistoryState(int(row[0]), int(row[1]), tuple(int(v) for v in row[2] or ()))


def check_since(account_id: int, modseq: int) -> HistoryState:
    """HistoryGoneError unless every change after `modseq` is still known: `modseq` below the
    purged history, above the account's current modseq (a state this server never gave, or
    gave and then lost in a crash of the database server before its next change), or inside
    the gap such a crash left (a state that may hold a change that was lost)."""
    state = history_state(account_id)
    if (
        modseq < state.purged_modseq
        or modseq > state.highestmodseq
        or modseq < 0
        or state.lost(modseq)
    ):
        raise HistoryGoneError(
            f"changes since modseq {modseq} are not known any more; resynchronise"
        )
    return state


def rows_since(state: HistoryState, modseq: int) -> int:
    """The modseq after which a client at `modseq` must be sent its messages' rows: `modseq`
    itself, or 0 (every row) when that state may hold a change a crash of the database server
    lost (inside a gap, or above the current modseq). Such a change left no row behind that a
    delta could name (the row went back to its older modseq), so only resending every flag
    corrects the client's cache; CONDSTORE has no other way to tell it to resynchronise."""
    if modseq > state.highestmodseq or state.lost(modseq):
        return 0
    return modseq


def resync_since(folder: Folder, modseq: int) -> tuple[list[int] | None, int]:
    """QRESYNC / FETCH (CHANGEDSINCE m VANISHED) for a client state at `modseq`: the UIDs that
    left `folder` since (None when the history no longer reaches back: the caller falls back
    on the client's known UIDs) and rows_since's modseq for the FETCHes. A state inside a
    crash's gap still gets the tombstones after it: every one of them survived (a change is
    lost only with every later one, and the counter jumped past them all)."""
    state = history_state(folder.account_id)
    since = rows_since(state, modseq)
    if modseq < max(state.purged_modseq, 0):
        return None, since
    return _vanished_uids(folder, modseq), since


def changed_since(folder: Folder, modseq: int) -> QuerySet[Message]:
    """Messages of `folder` whose row changed (arrived, flags, moved in) after `modseq`, in
    UID order: FETCH … (CHANGEDSINCE m) (RFC 7162 §3.1.4.1), SEARCH MODSEQ. Needs no history
    check: rows carry their own modseq."""
    return Message.objects.filter(folder_id=folder.pk, modseq__gt=modseq).order_by("uid")


def vanished_since(folder: Folder, modseq: int, *, limit: int | None = None) -> list[int]:
    """UIDs that left `folder` (expunged or moved away) after `modseq`, ascending, for
    QRESYNC's VANISHED (EARLIER) (RFC 7162 §3.2.5.1). HistoryGoneError when the history does
    not reach back to `modseq`: answering from a purged history would be a wrong answer."""
    check_since(folder.account_id, modseq)
    return _vanished_uids(folder, modseq, limit=limit)


def _vanished_uids(folder: Folder, modseq: int, *, limit: int | None = None) -> list[int]:
    qs = (
        Tombstone.objects.filter(folder_id=folder.pk, modseq__gt=modseq, uid__isnull=False)
        .order_by("uid")
        .values_list("uid", flat=True)
        .distinct()
    )
    uids = list(qs if limit is None else qs[:limit])
    return [u for u in uids if u is not None]  # none are: uid__isnull=False


def tombstones_since(account_id: int, modseq: int) -> QuerySet[Tombstone]:
    """Every tombstone of the account after `modseq` (JMAP /changes: destroyed ids), modseq
    order; HistoryGoneError as for vanished_since."""
    check_since(account_id, modseq)
    return Tombstone.objects.filter(account_id=account_id, modseq__gt=modseq).order_by("modseq")


def folder_highestmodseq(folder: Folder) -> int:
    """Recomputed from rows and tombstones (the stored Folder.highestmodseq must equal it;
    reindex and tests use this)."""
    rows = Message.objects.filter(folder_id=folder.pk).aggregate(m=Max("modseq"))["m"] or 0
    dead = Tombstone.objects.filter(folder_id=folder.pk).aggregate(m=Max("modseq"))["m"] or 0
    return max(int(rows), int(dead), 1)


# --- retention ---------------------------------------------------------------------------------


def purge_tombstones(older_than: timedelta, *, now: datetime | None = None) -> int:
    """Drop tombstones created before now - `older_than`, in batches, first recording per
    account the highest purged modseq (so older client states answer HistoryGoneError, never
    a history with holes). Returns how many went."""
    cutoff = (now or timezone.now()) - older_than
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                Tombstone.objects.filter(created_at__lt=cutoff)
                .order_by("created_at", "pk")
                .values_list("pk", "account_id", "modseq")[:PURGE_BATCH]
            )
            if not batch:
                return removed
            highest: dict[int, int] = {}
            for _, account_id, modseq in batch:
                highest[account_id] = max(highest.get(account_id, 0), int(modseq))
            for account_id in sorted(highest):
                ChangeCounter.objects.filter(
                    account_id=account_id, purged_modseq__lt=highest[account_id]
                ).update(purged_modseq=highest[account_id])
            Tombstone.objects.filter(pk__in=[pk for pk, _, _ in batch]).delete()
            removed += len(batch)
