"""How a store write commits (mailcore.store.history.next_modseq): flag changes and expunges
commit asynchronously on PostgreSQL (Dovecot's mail_fsync=optimized does not fsync them
either), APPEND, delivery, MOVE and folder changes synchronously; the first change after the
database server started again jumps past any modseq a crash may have lost, and a client state
inside that gap is told to resynchronise. And, under real concurrent connections, modseqs are
never lost or reordered, and a reader that trusts its folder's HIGHESTMODSEQ never misses a
change. Real PostgreSQL/SQLite, real Maildir files, one connection per thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from mailcore.directory.models import Account
from mailcore.errors import HistoryGoneError
from mailcore.store import history
from mailcore.store.actions import (
    do_create_folder,
    do_expunge,
    do_move,
    do_set_flags,
)
from mailcore.store.models import ChangeCounter, Folder, Message, Tombstone
from tests.api.helpers import folder, message_path, put

pytestmark = pytest.mark.django_db(transaction=True)
postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def rows(account: Account, *pks: int) -> list[Message]:
    found = list(Message.objects.select_related("folder").filter(pk__in=pks).order_by("pk"))
    for m in found:
        m.account = account
    return found


# --- durability ---------------------------------------------------------------------------------


@pytest.fixture
def commit_modes() -> Iterator[list[str]]:
    """synchronous_commit as the database session has it right after each statement that
    takes a modseq, i.e. what its transaction commits with (read on the same connection;
    a statement that is its own transaction runs in an explicit one here, so that the
    setting can be read before its commit)."""
    seen: list[str] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        if "store_changecounter" not in sql or not sql.lstrip().upper().startswith("WITH"):
            return execute(sql, params, many, ctx)
        raw = ctx["connection"].connection  # the psycopg connection
        with raw.transaction() if raw.autocommit else contextlib.nullcontext():
            result = execute(sql, params, many, ctx)
            with raw.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                seen.append(cursor.fetchone()[0])
        return result

    with connection.execute_wrapper(wrapper):
        yield seen


def synchronous_commit_now() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@postgresql_only
def test_flags_and_expunge_commit_asynchronously_the_rest_durably(
    alice: Account, commit_modes: list[str]
) -> None:
    inbox, trash = folder(alice), folder(alice, "trash")
    a = put(alice, subject="a")
    b = put(alice, subject="b")
    assert commit_modes == ["on", "on"]  # APPEND: 250/OK means durable
    commit_modes.clear()

    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["flagged"])
    assert commit_modes == ["off"]
    assert synchronous_commit_now() == "on"  # SET LOCAL: that transaction only
    do_expunge(acting_account=alice, messages=rows(alice, a.pk))
    assert commit_modes == ["off", "off"]
    assert synchronous_commit_now() == "on"
    commit_modes.clear()

    do_move(acting_account=alice, messages=rows(alice, b.pk), destination=trash)
    do_create_folder(acting_account=alice, name="Projects")
    assert commit_modes == ["on", "on"]
    commit_modes.clear()

    # Inside a caller's own transaction the caller's commit stays synchronous.
    with transaction.atomic():
        do_set_flags(acting_account=alice, messages=rows(alice, b.pk), add=["seen"])
    assert commit_modes == ["on"]
    assert Message.objects.get(pk=b.pk).seen
    assert Folder.objects.get(pk=inbox.pk).message_count == 0


@postgresql_only
def test_an_accounts_first_change_is_durable_even_for_flags(
    alice: Account, commit_modes: list[str]
) -> None:
    """The counter row's insert is never committed asynchronously: lost, it would be inserted
    again at the same modseq."""
    a = put(alice, subject="a")
    ChangeCounter.objects.filter(account=alice).delete()
    commit_modes.clear()
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["flagged"])
    assert commit_modes == ["on"]
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["seen"])
    assert commit_modes == ["on", "off"]


@postgresql_only
def test_first_change_after_a_database_restart_jumps_past_what_a_crash_lost(
    alice: Account,
) -> None:
    """A crash of PostgreSQL loses the asynchronous commits not yet flushed: the counter row is
    back at D, the server's start time is new. Simulated by setting the row to what the
    crash would leave (the shared test server cannot be crashed)."""
    inbox = folder(alice)
    a, b = put(alice, subject="a"), put(alice, subject="b")
    durable = history.history_state(alice.pk).highestmodseq
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["flagged"])
    seen_by_client = Message.objects.get(pk=a.pk).modseq  # a client saw this modseq ...
    assert seen_by_client > durable
    # ... and then the crash lost that change: counter and row as they were at D.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE store_changecounter SET highestmodseq = %s, "
            "server_started = server_started - interval '1 hour' WHERE account_id = %s",
            [durable, alice.pk],
        )
    Message.objects.filter(pk=a.pk).update(flagged=False, modseq=a.modseq)
    Folder.objects.filter(pk=inbox.pk).update(highestmodseq=durable)
    # Before the next change the client's state is above the account's: resync.
    with pytest.raises(HistoryGoneError):
        history.check_since(alice.pk, seen_by_client)

    do_set_flags(acting_account=alice, messages=rows(alice, b.pk), add=["seen"])
    after = Message.objects.get(pk=b.pk).modseq
    assert after == durable + history.RESTART_JUMP  # never the lost one again
    counter = ChangeCounter.objects.get(account=alice)
    assert counter.lost_after == [durable]
    assert counter.server_started is not None
    # The client that saw the lost change must resync; one at D or at the new value need not.
    with pytest.raises(HistoryGoneError):
        history.check_since(alice.pk, seen_by_client)
    with pytest.raises(HistoryGoneError):
        history.vanished_since(Folder.objects.get(pk=inbox.pk), seen_by_client)
    assert history.check_since(alice.pk, durable).highestmodseq == after
    assert history.check_since(alice.pk, after).highestmodseq == after
    # The next changes count on from there, without jumping again.
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["seen"])
    assert Message.objects.get(pk=a.pk).modseq == after + 1
    assert ChangeCounter.objects.get(account=alice).lost_after == [durable]
    assert Folder.objects.get(pk=inbox.pk).highestmodseq == after + 1


def test_without_a_restart_modseqs_count_by_one(alice: Account) -> None:
    """Both databases: no jump, no gap, in the ordinary case (SQLite commits every change
    durably and never jumps)."""
    a = put(alice, subject="a")
    start = history.history_state(alice.pk).highestmodseq
    for name in ("flagged", "seen", "answered"):
        do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=[name])
    do_expunge(acting_account=alice, messages=rows(alice, a.pk))
    state = history.history_state(alice.pk)
    assert state.highestmodseq == start + 4
    assert state.lost_after == ()
    history.check_since(alice.pk, start + 1)


# --- concurrency --------------------------------------------------------------------------------


def test_concurrent_writers_never_lose_or_reorder_and_a_reader_never_misses(
    alice: Account,
) -> None:
    """Writers in threads (each its own database connection) change flags, expunge and append
    in one folder of one account at once, partly on the same messages; a reader polls like an
    IMAP session: the folder's HIGHESTMODSEQ first, then the rows and tombstones above what it
    had, and then trusts everything up to that HIGHESTMODSEQ. Every change a writer made must
    have been seen by the reader (that row, or a later change of it); each writer's modseqs
    rise; no two changes share one."""
    inbox = folder(alice)
    shared = [put(alice, subject=f"shared {i}") for i in range(4)]
    writers, per_writer = 4, 12
    changes: list[tuple[int, int, int]] = []  # (writer, message pk, modseq)
    errors: list[BaseException] = []
    observed: dict[int, int] = {}  # message pk -> the highest modseq the reader saw for it
    polls = [0]
    done = threading.Event()
    lock = threading.Lock()

    flags = ("seen", "answered", "flagged", "draft")  # one per writer: each call changes

    def writer(w: int) -> None:
        try:
            mine: dict[int, bool] = {}  # message pk -> flags[w] as this writer left it
            own = [put(alice, subject=f"w{w} {i}") for i in range(3)]
            with lock:
                changes.extend((w, m.pk, m.modseq) for m in own)
            for i in range(per_writer):
                step = i % 4
                if step == 3:
                    m = put(alice, subject=f"w{w} new {i}")
                    got = (m.pk, m.modseq)
                elif step == 2:
                    victim = own.pop()
                    do_expunge(acting_account=alice, messages=rows(alice, victim.pk))
                    got = (victim.pk, Tombstone.objects.get(message_pk=victim.pk).modseq)
                else:
                    target = shared[(w + i) % len(shared)] if step == 0 else own[0]
                    on = mine[target.pk] = not mine.get(target.pk, False)
                    (m,) = do_set_flags(
                        acting_account=alice,
                        messages=rows(alice, target.pk),
                        add=[flags[w]] if on else [],
                        remove=[] if on else [flags[w]],
                    )
                    got = (m.pk, m.modseq)
                with lock:
                    changes.append((w, *got))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def reader() -> None:
        try:
            since = 0
            while True:
                last = done.is_set()
                mark = Folder.objects.values_list("highestmodseq", flat=True).get(pk=inbox.pk)
                for pk, modseq in Message.objects.filter(
                    folder_id=inbox.pk, modseq__gt=since
                ).values_list("pk", "modseq"):
                    observed[pk] = max(observed.get(pk, 0), modseq)
                for pk, modseq in Tombstone.objects.filter(
                    folder_id=inbox.pk, modseq__gt=since
                ).values_list("message_pk", "modseq"):
                    observed[pk] = max(observed.get(pk, 0), modseq)
                since = max(since, mark)  # what the client now believes it has seen
                polls[0] += 1
                if last:
                    return
                time.sleep(0.002)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    # The reader's own since starts at 0 and sees the shared rows; start it first.
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    watcher.join(60)
    assert not errors, errors
    assert polls[0] > 3

    modseqs = [m for _, _, m in changes]
    assert len(modseqs) == len(set(modseqs)), "two changes got one modseq"
    for w in range(writers):
        mine = [m for who, _, m in changes if who == w]
        assert mine == sorted(mine), f"writer {w}: modseqs out of order"
    assert max(modseqs) <= history.history_state(alice.pk).highestmodseq
    missed = [(pk, m) for _, pk, m in changes if observed.get(pk, 0) < m]
    assert not missed, f"the reader missed {missed}"
    inbox.refresh_from_db()
    assert inbox.highestmodseq == history.folder_highestmodseq(inbox)


def test_a_flag_change_from_a_stale_view_loses_nothing(alice: Account) -> None:
    """The caller read the row before another session changed it: the one-statement write
    (PostgreSQL) leaves that row alone, and the locked path applies the change to the row as
    it is now; both changes stay, in the row, the file and the counters."""
    inbox = folder(alice)
    a = put(alice, subject="a")
    stale = rows(alice, a.pk)
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["seen"])
    first = Message.objects.get(pk=a.pk).modseq
    (m,) = do_set_flags(acting_account=alice, messages=stale, add=["flagged"])
    row = Message.objects.get(pk=a.pk)
    assert row.seen and row.flagged and row.info == "FS"
    assert m.seen and m.flagged and m.modseq == row.modseq > first
    assert Folder.objects.get(pk=inbox.pk).unseen_count == 0
    assert Folder.objects.get(pk=inbox.pk).highestmodseq == row.modseq
    path = message_path(alice, row)
    assert path.exists() and path.name.endswith(":2,FS")


def test_a_flag_change_does_not_fsync_an_append_does(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability as chosen: a flag change's rename is not fsynced (nor its commit flushed on
    PostgreSQL), like Dovecot's mail_fsync=optimized; an APPEND's file, directory and uidlist
    are, before it returns."""
    import os

    a = put(alice, subject="a")
    synced: list[int] = []
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def counting(real: Callable[[int], None]) -> Callable[[int], None]:
        def sync(fd: int) -> None:
            synced.append(fd)
            real(fd)

        return sync

    monkeypatch.setattr(os, "fsync", counting(real_fsync))
    monkeypatch.setattr(os, "fdatasync", counting(real_fdatasync))
    do_set_flags(acting_account=alice, messages=rows(alice, a.pk), add=["flagged", "seen"])
    assert synced == []
    assert Message.objects.get(pk=a.pk).info == "FS"
    put(alice, subject="b")
    assert len(synced) >= 3  # the file, its directory entry, the uidlist


def test_an_append_into_a_folder_deleted_meanwhile_is_refused_and_leaves_nothing(
    alice: Account,
) -> None:
    """The folder went between the caller's lookup and the UID allocation (another session
    deleted it): NotFoundError, no row, no file, the counter's change rolled back."""
    from mailcore.errors import NotFoundError

    projects = do_create_folder(acting_account=alice, name="Projects")
    before = history.history_state(alice.pk).highestmodseq
    Folder.objects.filter(pk=projects.pk).delete()
    with pytest.raises(NotFoundError):
        put(alice, into=projects, subject="into the void")
    assert not Message.objects.filter(account=alice).exists()
    assert history.history_state(alice.pk).highestmodseq == before
    from django.conf import settings

    cur_new = settings.MAIL_ROOT / alice.storage_path / "Maildir" / projects.path
    assert not [p for sub in ("cur", "new") for p in (cur_new / sub).glob("*")]
