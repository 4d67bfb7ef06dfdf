"""What a write does while it holds the account's modseq lock (history.next_modseq, taken first
and held through the commit; every other write of the account waits for it): a flag change or
an EXPUNGE is one statement on PostgreSQL, and the uidlist's fdatasync of an APPEND or MOVE runs
after the commit, before the action returns. Real PostgreSQL/SQLite and real Maildir files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailcore.delivery.models import QueueEntry
from mailcore.directory.models import Account
from mailcore.store.actions import do_expunge, do_move, do_set_flags
from mailcore.store.maildir import UIDLIST
from mailcore.store.models import (
    Folder,
    Message,
    MessageMeta,
    MessageText,
    Tombstone,
    TombstoneKind,
)
from tests.api.helpers import folder, message_path, put

pytestmark = pytest.mark.django_db(transaction=True)


def uidlist_of(account: Account, f: Folder) -> Path:
    return settings.MAIL_ROOT / account.storage_path / "Maildir" / f.path / UIDLIST


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_expunge_on_postgresql_is_one_statement_and_removes_every_child(
    alice: Account,
) -> None:
    inbox = folder(alice)
    keep = put(alice, subject="keep")
    gone = [put(alice, subject=f"gone {i}", flags=["seen"] if i else []) for i in range(3)]
    entry = QueueEntry.objects.create(
        queue_id="q-expunge-1",
        spool_name="x",
        size=1,
        sha256="0" * 64,
        received_at=datetime.now(tz=UTC),
        next_attempt_at=datetime.now(tz=UTC),
        sent_copy=gone[0],
    )
    before = Folder.objects.get(pk=inbox.pk)
    gone = list(Message.objects.select_related("folder").filter(pk__in=[m.pk for m in gone]))
    for m in gone:
        m.account = alice
    with CaptureQueriesContext(connection) as ctx:
        assert do_expunge(acting_account=alice, messages=gone) == 3
    # One statement, its own transaction: the modseq, the DELETE … RETURNING with its
    # children and tombstones, the folder's counters (it was three inside BEGIN … COMMIT;
    # Django's delete collector took nine: selects, then one table at a time).
    statements = [q["sql"][:60] for q in ctx]
    assert len(statements) == 1, statements
    ids = [m.pk for m in gone]
    assert not Message.objects.filter(pk__in=ids).exists()
    assert not MessageText.objects.filter(message_id__in=ids).exists()
    assert not MessageMeta.objects.filter(message_id__in=ids).exists()
    entry.refresh_from_db()
    assert entry.sent_copy_id is None
    after = Folder.objects.get(pk=inbox.pk)
    assert after.message_count == before.message_count - 3
    assert after.unseen_count == before.unseen_count - 1
    assert after.size_bytes == before.size_bytes - sum(m.size for m in gone)
    stones = Tombstone.objects.filter(message_pk__in=ids)
    assert sorted(stones.values_list("uid", flat=True)) == sorted(m.uid for m in gone)
    assert {(t.kind, t.folder_id, t.modseq, t.account_id) for t in stones} == {
        (TombstoneKind.EXPUNGED, inbox.pk, after.highestmodseq, alice.pk)
    }
    assert Message.objects.filter(pk=keep.pk).exists()
    assert MessageText.objects.filter(message_id=keep.pk).exists()


def test_expunge_leaves_a_message_moved_meanwhile(alice: Account) -> None:
    """A row that left the folder the caller saw it in (moved by another session) is not
    deleted and not counted, on both databases."""
    inbox, trash = folder(alice), folder(alice, "trash")
    a, b = put(alice, subject="a"), put(alice, subject="b")
    stale_b = Message.objects.select_related("folder").get(pk=b.pk)
    do_move(acting_account=alice, messages=[b], destination=trash)
    stale_b.account = alice
    before_trash = Folder.objects.get(pk=trash.pk).message_count
    assert do_expunge(acting_account=alice, messages=[a, stale_b]) == 1
    assert not Message.objects.filter(pk=a.pk).exists()
    assert Message.objects.get(pk=b.pk).folder_id == trash.pk
    assert Folder.objects.get(pk=trash.pk).message_count == before_trash
    assert Folder.objects.get(pk=inbox.pk).message_count == 0


def test_uidlist_is_synced_after_the_commit(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """APPEND and MOVE write their uidlist lines under the lock and fdatasync them after the
    commit (the lock is released), before returning; the lines are there."""
    inbox, trash = folder(alice), folder(alice, "trash")
    put(alice, subject="first")  # the folder's uidlist exists
    synced: list[tuple[str, bool]] = []
    real = os.fdatasync

    def watching(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        synced.append((name, connection.in_atomic_block))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", watching)
    m = put(alice, subject="second")
    assert (UIDLIST, False) in synced
    assert (UIDLIST, True) not in synced
    assert f"{m.uid} {m.maildir_key}\n" in uidlist_of(alice, inbox).read_text()
    synced.clear()
    do_move(acting_account=alice, messages=[m], destination=trash)
    m.refresh_from_db()
    assert synced.count((UIDLIST, False)) == 1
    assert (UIDLIST, True) not in synced
    assert f"{m.uid} {m.maildir_key}\n" in uidlist_of(alice, trash).read_text()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_append_on_postgresql_is_two_statements_inside_the_lock(alice: Account) -> None:
    put(alice, subject="first")
    with CaptureQueriesContext(connection) as ctx:
        m = put(alice, subject="Quarterly report", text="the numbers are in")
    sql = [q["sql"] for q in ctx.captured_queries]
    inside = sql[sql.index("BEGIN") + 1 : sql.index("COMMIT")]
    # The modseq with the folder's UID (one statement), the row with its body text and IMAP
    # metadata (one WITH … INSERT): they were four statements, then three.
    assert len(inside) == 2, [s[:60] for s in inside]
    assert "store_changecounter" in inside[0]
    text = MessageText.objects.get(message_id=m.pk)
    assert "the numbers are in" in text.text
    meta = MessageMeta.objects.get(message_id=m.pk)
    assert b"Quarterly report" in bytes(meta.envelope_imap)
    assert meta.header_size > 0 and meta.version > 0


def test_flag_change_on_many_messages_is_one_update_per_resulting_state(alice: Account) -> None:
    """STORE 1:* +FLAGS (\\Seen) in a folder of 30: on PostgreSQL one statement for them all
    (modseq, rows, folder); on SQLite one UPDATE for the rows that end in the same flags,
    keywords and letters (two here: flagged or not), not one per row; every row gets the
    change and the modseq, the file its letters."""
    messages = [put(alice, subject=f"m{i}", flags=["flagged"] if i % 2 else []) for i in range(30)]
    rows = list(Message.objects.select_related("folder").filter(pk__in=[m.pk for m in messages]))
    for m in rows:
        m.account = alice
    with CaptureQueriesContext(connection) as ctx:
        do_set_flags(acting_account=alice, messages=rows, add=["seen"])
    if connection.vendor == "postgresql":
        assert len(ctx.captured_queries) == 1, [q["sql"][:80] for q in ctx.captured_queries]
    else:
        updates = [
            q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "store_message"')
        ]
        assert len(updates) == 2, [u[:80] for u in updates]
    fresh = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    modseqs = {m.modseq for m in fresh.values()}
    assert len(modseqs) == 1
    for i, m in enumerate(messages):
        row = fresh[m.pk]
        assert row.seen and row.flagged == bool(i % 2)
        assert row.info == ("FS" if i % 2 else "S") and row.in_cur
        assert message_path(alice, row).exists()
    assert Folder.objects.get(pk=folder(alice).pk).unseen_count == 0
