"""One change history per account (ARCHITECTURE rule 8): the account-wide modseq, tombstones,
Folder.highestmodseq, the CONDSTORE/QRESYNC queries, retention, and the notices IDLE reads.
Real PostgreSQL/SQLite, real Maildir files, real Redis."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import HistoryGoneError
from mailcore.store import history
from mailcore.store.actions import (
    do_create_folder,
    do_delete_folder,
    do_expunge,
    do_move,
    do_rename_folder,
    do_set_flags,
)
from mailcore.store.models import ChangeCounter, Folder, Message, Tombstone, TombstoneKind
from mailcore.store.reindex import reindex_account
from mailcore.store.watch import PollingWatcher, RedisWatcher, diff_states, folder_states
from tests.api.helpers import folder, message_path, put

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/6"


def fresh(f: Folder) -> Folder:
    f.refresh_from_db()
    return f


def assert_invariant(*folders: Folder) -> None:
    """Folder.highestmodseq is the largest modseq among its rows and tombstones."""
    for f in folders:
        assert fresh(f).highestmodseq == history.folder_highestmodseq(f), f.name


def test_one_modseq_counter_across_folders(alice: Account, bob: Account) -> None:
    inbox, sent = folder(alice), folder(alice, "sent")
    a = put(alice, subject="a")
    b = put(alice, into=sent, subject="b")
    c = put(alice, subject="c")
    # Per-folder counters would give a and b the same modseq (each folder's first change).
    assert a.modseq < b.modseq < c.modseq
    assert b.created_modseq == b.modseq
    assert fresh(sent).highestmodseq == b.modseq
    assert fresh(inbox).highestmodseq == c.modseq
    assert ChangeCounter.objects.get(account=alice).highestmodseq == c.modseq
    # Another account counts on its own.
    other = put(bob, subject="bob")
    assert other.modseq <= c.modseq
    assert_invariant(inbox, sent)


def test_flag_change_takes_the_next_account_modseq(alice: Account) -> None:
    inbox, sent = folder(alice), folder(alice, "sent")
    a = put(alice, subject="a")
    b = put(alice, into=sent, subject="b")
    do_set_flags(acting_account=alice, messages=[a], add=["flagged"])
    a.refresh_from_db()
    assert a.modseq > b.modseq
    assert a.created_modseq < a.modseq
    assert fresh(inbox).highestmodseq == a.modseq
    assert list(history.changed_since(inbox, b.modseq)) == [a]
    assert list(history.changed_since(sent, b.modseq)) == []
    # A STORE that changes nothing takes no modseq on the row.
    before = a.modseq
    do_set_flags(acting_account=alice, messages=[a], add=["flagged"])
    a.refresh_from_db()
    assert a.modseq == before
    assert_invariant(inbox, sent)


def test_expunge_leaves_a_tombstone_and_moves_highestmodseq(alice: Account) -> None:
    inbox = folder(alice)
    keep = put(alice, subject="keep")
    gone = put(alice, subject="gone")
    since = fresh(inbox).highestmodseq
    assert do_expunge(acting_account=alice, messages=[gone]) == 1
    stone = Tombstone.objects.get(folder_id=inbox.pk)
    assert (stone.kind, stone.uid, stone.message_pk) == (TombstoneKind.EXPUNGED, gone.uid, gone.pk)
    assert stone.modseq > since
    # The folder's HIGHESTMODSEQ moved, though no remaining row changed.
    assert fresh(inbox).highestmodseq == stone.modseq > keep.modseq
    assert history.vanished_since(inbox, since) == [gone.uid]
    assert history.vanished_since(inbox, stone.modseq) == []
    assert_invariant(inbox)


def test_move_vanishes_from_the_source_and_arrives_in_the_destination(alice: Account) -> None:
    inbox, work = folder(alice), do_create_folder(acting_account=alice, name="Work")
    msg = put(alice, subject="moving")
    old_uid, since = msg.uid, fresh(work).highestmodseq
    do_move(acting_account=alice, messages=[msg], destination=work)
    msg.refresh_from_db()
    stone = Tombstone.objects.get(folder_id=inbox.pk)
    assert (stone.kind, stone.uid, stone.message_pk) == (TombstoneKind.MOVED, old_uid, msg.pk)
    assert stone.modseq == msg.modseq == fresh(inbox).highestmodseq == fresh(work).highestmodseq
    assert history.vanished_since(inbox, since) == [old_uid]
    assert list(history.changed_since(work, since)) == [msg]
    assert msg.created_modseq < msg.modseq  # the same email (JMAP id), updated
    assert_invariant(inbox, work)


def test_folder_changes_take_modseqs_and_deletion_leaves_tombstones(alice: Account) -> None:
    work = do_create_folder(acting_account=alice, name="Work")
    work_id, created = work.pk, work.highestmodseq
    sub = do_create_folder(acting_account=alice, name="Work/Sub")
    assert sub.highestmodseq > created
    inside = put(alice, into=sub, subject="inside")
    renamed = do_rename_folder(acting_account=alice, folder=work, name="Projects")
    assert fresh(renamed).highestmodseq > inside.modseq
    assert Folder.objects.get(pk=sub.pk).highestmodseq == renamed.highestmodseq
    do_delete_folder(acting_account=alice, folder=renamed)
    stones = Tombstone.objects.filter(account=alice).order_by("kind", "folder_id")
    got = {(s.kind, s.folder_id, s.uid, s.message_pk) for s in stones}
    assert got == {
        (TombstoneKind.FOLDER, work_id, None, None),
        (TombstoneKind.FOLDER, sub.pk, None, None),
        (TombstoneKind.EXPUNGED, sub.pk, inside.uid, inside.pk),
    }
    assert len({s.modseq for s in stones}) == 1
    assert stones[0].modseq == history.history_state(alice.pk).highestmodseq


def test_history_too_old_or_too_new_answers_resync(alice: Account) -> None:
    inbox = folder(alice)
    first = put(alice, subject="1")
    second = put(alice, subject="2")
    do_expunge(acting_account=alice, messages=[first])
    old_state = first.modseq
    assert history.vanished_since(inbox, old_state) == [first.uid]
    # The window passes: the tombstone goes, and with it the answer for older states.
    Tombstone.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert history.purge_tombstones(timedelta(days=30)) == 1
    with pytest.raises(HistoryGoneError):
        history.vanished_since(inbox, old_state)
    with pytest.raises(HistoryGoneError):
        history.tombstones_since(alice.pk, old_state)
    now = fresh(inbox).highestmodseq
    assert history.vanished_since(inbox, now) == []  # a state after the purge is fine
    with pytest.raises(HistoryGoneError):  # a state this server never gave
        history.vanished_since(inbox, now + 1)
    # Rows carry their own modseqs: CHANGEDSINCE still answers from any state.
    assert second in history.changed_since(inbox, 0)
    # Recent tombstones stay.
    do_expunge(acting_account=alice, messages=[second])
    assert history.purge_tombstones(timedelta(days=30)) == 0
    assert history.vanished_since(inbox, now) == [second.uid]


def test_reindex_records_what_the_disk_changed(alice: Account) -> None:
    inbox = folder(alice)
    kept = put(alice, subject="kept")
    lost = put(alice, subject="lost")
    since = fresh(inbox).highestmodseq
    message_path(alice, lost).unlink()  # gone from the disk behind the index's back
    reindex_account(alice)
    assert history.vanished_since(inbox, since) == [lost.uid]
    kept.refresh_from_db()
    assert kept.modseq < since  # unchanged on disk: unchanged for clients
    assert not Message.objects.filter(pk=lost.pk).exists()
    assert_invariant(inbox)


def test_notices_carry_modseq_and_uids(
    alice: Account, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REDIS_URL = REDIS_URL
    inbox = folder(alice)
    watcher = RedisWatcher(alice.pk)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            msg = put(alice, subject="n")
        with django_capture_on_commit_callbacks(execute=True):
            do_set_flags(acting_account=alice, messages=[msg], add=["seen"])
        msg.refresh_from_db()
        seen_modseq = msg.modseq
        with django_capture_on_commit_callbacks(execute=True):
            do_expunge(acting_account=alice, messages=[msg])
        got: list[Any] = []
        for _ in range(20):  # the first read may return the subscription's confirmation
            got += watcher.wait(1.0)
            if len(got) >= 3:
                break
    finally:
        watcher.close()
    kinds = [(c.kind, c.folder_id, c.message_ids, c.uids) for c in got]
    assert kinds == [
        ("add", inbox.pk, (msg.pk,), (msg.uid,)),
        ("flags", inbox.pk, (msg.pk,), (msg.uid,)),
        ("expunge", inbox.pk, (msg.pk,), (msg.uid,)),
    ]
    assert got[1].modseq == seen_modseq < got[2].modseq == fresh(inbox).highestmodseq


def test_polling_watcher_reads_expunged_uids_from_tombstones(alice: Account) -> None:
    inbox = folder(alice)
    a = put(alice, subject="a")
    b = put(alice, subject="b")
    before = folder_states(alice.pk)
    do_expunge(acting_account=alice, messages=[a])
    c = put(alice, subject="c")
    do_set_flags(acting_account=alice, messages=[b], add=["flagged"])
    changes = diff_states(before, folder_states(alice.pk))
    by_kind = {ch.kind: ch for ch in changes if ch.folder_id == inbox.pk}
    assert by_kind["expunge"].uids == (a.uid,) and by_kind["expunge"].message_ids == (a.pk,)
    assert by_kind["add"].uids == (c.uid,)
    assert by_kind["flags"].uids == (b.uid,)
    assert {ch.modseq for ch in by_kind.values()} == {fresh(inbox).highestmodseq}
    assert PollingWatcher(alice.pk).polls


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_in_two_folders_get_distinct_modseqs(alice: Account) -> None:
    inbox, sent = folder(alice), folder(alice, "sent")
    errors: list[BaseException] = []

    def work(into: Folder) -> None:
        try:
            for i in range(8):
                m = put(alice, into=into, subject=f"{into.name} {i}")
                do_set_flags(acting_account=alice, messages=[m], add=["seen"])
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f,)) for f in (inbox, sent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    modseqs = list(Message.objects.filter(account=alice).values_list("modseq", flat=True))
    assert len(modseqs) == 16 == len(set(modseqs))
    assert max(modseqs) <= history.history_state(alice.pk).highestmodseq
    assert_invariant(inbox, sent)


def test_purge_task_keeps_the_setting_and_runs_from_beat(alice: Account, settings: Any) -> None:
    from mailcore.store.tasks import purge_tombstones
    from webmail.celery import app

    msg = put(alice, subject="old")
    do_expunge(acting_account=alice, messages=[msg])
    settings.CHANGES_HISTORY_DAYS = 2
    Tombstone.objects.update(created_at=timezone.now() - timedelta(days=1))
    assert purge_tombstones() == 0
    Tombstone.objects.update(created_at=timezone.now() - timedelta(days=3))
    assert purge_tombstones() == 1
    assert history.history_state(alice.pk).purged_modseq == fresh(folder(alice)).highestmodseq
    app.finalize()
    entry = app.conf.beat_schedule["change history purge"]
    assert entry["task"] == "mailcore.purge_tombstones"
