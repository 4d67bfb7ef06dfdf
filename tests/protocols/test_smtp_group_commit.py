"""Group commit of queue rows (mailcore.delivery.groupcommit) driven by real SMTP clients: a
250 is never given before its row is committed; concurrent sessions share commits; a failed
commit answers 4xx to every session of its batch and leaves nothing behind."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, transaction

from mailcore.delivery.groupcommit import queue_committer
from mailcore.delivery.models import QueueEntry

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"
POISON = "poison@remote.example"


def send(addr: tuple[str, int], sender: str = "bob@remote.example") -> tuple[int, bytes]:
    with smtplib.SMTP(*addr, timeout=30) as c:
        c.ehlo("client.remote.example")
        c.mail(sender)
        c.rcpt("alice@example.com")
        return c.data(MSG)


def spool_files(settings) -> list[Path]:
    root = Path(settings.SPOOL_DIR)
    return [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []


@contextmanager
def window(seconds: float) -> Iterator[None]:
    """Make the committer wait `seconds` for more sessions, so concurrent ones share a batch."""
    committer = queue_committer()
    before, committer.window = committer.window, seconds
    try:
        yield
    finally:
        committer.window = before


@contextmanager
def queue_table_locked() -> Iterator[None]:
    """Hold a lock that keeps the committer from inserting queue rows (its commit waits)."""
    with transaction.atomic():  # SQLite: BEGIN IMMEDIATE, the database's one write lock
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(QueueEntry._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        yield


@contextmanager
def poisoned_sender() -> Iterator[None]:
    """A database trigger that fails the insert of any queue row from POISON: the transaction
    of the batch holding it cannot commit (at COMMIT on PostgreSQL: a deferred trigger)."""
    table = connection.ops.quote_name(QueueEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION mailroom_test_poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.sender = '{POISON}' THEN RAISE EXCEPTION 'poisoned'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE CONSTRAINT TRIGGER mailroom_test_poison AFTER INSERT ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION mailroom_test_poison()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER mailroom_test_poison BEFORE INSERT ON {table} "
                f"WHEN NEW.sender = '{POISON}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER mailroom_test_poison ON {table}")
                cursor.execute("DROP FUNCTION mailroom_test_poison()")
            else:
                cursor.execute("DROP TRIGGER mailroom_test_poison")


def test_250_waits_for_the_commit_of_its_row(alice, smtp_server) -> None:
    replies: list[tuple[int, bytes]] = []
    with queue_table_locked():
        client = threading.Thread(target=lambda: replies.append(send(smtp_server)))
        client.start()
        time.sleep(1.5)
        # The spool file is written; the row cannot be committed: no reply yet.
        assert replies == []
        assert client.is_alive()
    client.join(30)
    assert [code for code, _ in replies] == [250]
    queue_id = replies[0][1].decode().rsplit(" ", 1)[1]
    assert QueueEntry.objects.filter(queue_id=queue_id).exists()


def test_concurrent_sessions_share_commits(alice, smtp_server) -> None:
    committer = queue_committer()
    with window(0.3), ThreadPoolExecutor(8) as pool:
        before = committer.batches
        replies = list(pool.map(lambda _: send(smtp_server), range(8)))
        batches = committer.batches - before
    assert [code for code, _ in replies] == [250] * 8
    assert QueueEntry.objects.count() == 8
    assert 0 < batches < 8  # without group commit: one commit per message


def test_failed_commit_answers_4xx_to_the_whole_batch(alice, smtp_server, settings) -> None:
    senders = ["bob@remote.example"] * 4 + [POISON]
    with poisoned_sender(), window(1.0), ThreadPoolExecutor(len(senders)) as pool:
        replies = list(pool.map(lambda s: send(smtp_server, s), senders))
    # Every session of the batch is told to try again; nothing was queued or left spooled.
    assert [(code, text[:5]) for code, text in replies] == [(451, b"4.3.0")] * len(senders)
    assert QueueEntry.objects.count() == 0
    assert spool_files(settings) == []
    # Nothing lost: the clients keep the messages and their retries are accepted.
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(lambda _: send(smtp_server), range(4)))
    assert [code for code, _ in again] == [250] * 4
    assert QueueEntry.objects.count() == 4
    assert len(spool_files(settings)) == 4


def test_a_batch_keeps_each_message_with_its_own_recipients(make_account, smtp_server) -> None:  # type: ignore[no-untyped-def]
    names = ["r1", "r2", "r3", "r4"]
    for name in names:
        make_account(f"{name}@example.com")
    wanted = {i: [f"{n}@example.com" for n in names[: i % 4 + 1]] for i in range(8)}

    def deliver(i: int) -> tuple[str, list[str]]:
        with smtplib.SMTP(*smtp_server, timeout=30) as c:
            c.ehlo("client.remote.example")
            c.mail(f"s{i}@remote.example")
            for rcpt in wanted[i]:
                c.rcpt(rcpt)
            code, text = c.data(MSG)
        assert code == 250, text
        return text.decode().rsplit(" ", 1)[1], wanted[i]

    committer = queue_committer()
    with window(0.3), ThreadPoolExecutor(8) as pool:
        before = committer.batches
        queued = list(pool.map(deliver, range(8)))
        assert committer.batches - before < 8  # some shared a commit
    for queue_id, rcpts in queued:
        entry = QueueEntry.objects.get(queue_id=queue_id)
        assert sorted(entry.recipients.values_list("address", flat=True)) == sorted(rcpts)
        assert entry.sender == f"s{list(dict(queued)).index(queue_id)}@remote.example"
