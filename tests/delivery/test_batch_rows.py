"""The delivery batch's own rows: the claim takes an inbound entry's lease without moving its
due time (the bookkeeping sets that when it defers), the prepared statements on PostgreSQL
read and write what the ORM would, and the spool files of done entries are removed off the
loop's path, or by the sweep when that never happened (a crash)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from mailcore.dbutil import bulk_set_many
from mailcore.delivery import rowsets
from mailcore.delivery.actions import (
    _claim,
    do_deliver_inbound,
    do_enqueue,
    do_process_entry,
    do_sweep,
    retry_delay,
)
from mailcore.delivery.loop import SpoolRemover
from mailcore.delivery.models import DeliveryAttempt, EntryState, QueueEntry, QueueRecipient

pytestmark = pytest.mark.django_db(transaction=True)
MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the prepared statements are PostgreSQL's"
)


def enqueue() -> QueueEntry:
    return do_enqueue(
        sender="bob@remote.example",
        recipients=["alice@example.com"],
        data=MSG,
        client_ip="127.0.0.1",
        verdict={"spf": "none", "headers": "", "reasons": ["x"]},
    )


def test_the_claim_leases_an_inbound_entry_without_moving_its_due_time(alice) -> None:
    entry = enqueue()
    [(claimed, attempt)] = _claim([entry.pk], "w")
    row = QueueEntry.objects.get(pk=entry.pk)
    assert row.next_attempt_at == entry.next_attempt_at <= timezone.now()
    assert row.locked_until is not None and row.locked_until > timezone.now()
    assert row.attempts == claimed.attempts == attempt.number == 1
    assert _claim([entry.pk], "w2") == []  # the lease keeps it


def test_a_deferred_inbound_entry_waits_the_retry_delay_from_its_attempt(alice, settings) -> None:
    entry = enqueue()
    new_dir = Path(settings.MAIL_ROOT) / alice.storage_path / "Maildir" / "new"
    new_dir.rename(new_dir.with_name("new.away"))  # the copy cannot be written: deferred
    try:
        assert do_process_entry(entry.pk) == "deferred"
    finally:
        new_dir.with_name("new.away").rename(new_dir)
    entry.refresh_from_db()
    attempt = DeliveryAttempt.objects.get(entry=entry)
    assert entry.state == EntryState.QUEUED and entry.locked_until is None
    assert entry.next_attempt_at == attempt.started_at + retry_delay(1)
    assert _claim([entry.pk], "w") == []  # not due again before then


@postgresql_only
def test_the_claim_reads_its_rows_as_the_orm_does(alice) -> None:
    entries = [enqueue(), enqueue()]
    claimed = _claim([e.pk for e in entries], "w")
    assert [e.pk for e, _ in claimed] == [e.pk for e in entries]
    for entry, attempt in claimed:
        assert model_to_dict(entry) == model_to_dict(QueueEntry.objects.get(pk=entry.pk))
        assert entry.verdict == {"spf": "none", "headers": "", "reasons": ["x"]}
        assert model_to_dict(attempt) == model_to_dict(DeliveryAttempt.objects.get(pk=attempt.pk))
        assert not entry._state.adding and not attempt._state.adding


@postgresql_only
def test_the_prepared_bookkeeping_writes_what_bulk_set_many_writes(alice) -> None:
    now = timezone.now()
    later = now + timedelta(minutes=5)
    entries = [enqueue() for _ in range(4)]
    rcpts = list(QueueRecipient.objects.filter(entry__in=entries).order_by("pk"))

    def updates(half: list[QueueEntry], rows: list[QueueRecipient]) -> list[rowsets.Update]:
        return [
            (
                QueueRecipient,
                ["state", "last_reply", "updated_at"],
                [(r.pk, "delivered", "2.0.0 ok é", now) for r in rows],
            ),
            (
                QueueEntry,
                ["state", "locked_until", "last_error", "next_attempt_at", "verdict"],
                [(e.pk, "queued", None, "4.3.0 later", later, {"a": [1, "ü"]}) for e in half],
            ),
        ]

    bulk_set_many(updates(entries[:2], rcpts[:2]))
    rowsets.update_many(updates(entries[2:], rcpts[2:]))
    rowsets.update_many([(QueueEntry, ["last_error"], [])])  # nothing to do: no statement
    unique = ["id", "queue_id", "spool_name", "sha256", "message_id", "received_at"]
    got = [model_to_dict(QueueEntry.objects.get(pk=e.pk), exclude=unique) for e in entries]
    assert got[0] == got[2] and got[1] == got[3]
    assert got[2]["verdict"] == {"a": [1, "ü"]} and got[2]["next_attempt_at"] == later
    states = [
        model_to_dict(QueueRecipient.objects.get(pk=r.pk), exclude=["id", "entry"]) for r in rcpts
    ]
    assert states[0] == states[2]


def test_done_entries_spool_files_are_removed_off_the_loops_path(alice, settings) -> None:
    entries = [enqueue(), enqueue()]
    remover = SpoolRemover()
    try:
        done = do_deliver_inbound([e.pk for e in entries], remove=remover)
    finally:
        remover.stop()
    assert done == {entries[0].pk: "done", entries[1].pk: "done"}
    for entry in entries:
        assert not (Path(settings.SPOOL_DIR) / entry.spool_name).exists()


def test_a_file_the_remover_never_got_to_is_the_sweeps(alice, settings) -> None:
    entry = enqueue()
    handed: list[str] = []
    assert do_deliver_inbound([entry.pk], remove=handed.append) == {entry.pk: "done"}
    assert handed == [entry.spool_name]  # the process died before removing it
    path = Path(settings.SPOOL_DIR) / entry.spool_name
    assert path.exists() and QueueEntry.objects.get(pk=entry.pk).state == EntryState.DONE
    settings.SPOOL_ORPHAN_SECONDS = 0
    assert do_sweep(dispatch_due=False)["orphans_removed"] == 1
    assert not path.exists()
