"""The group commit's one-statement insert of queue rows (PostgreSQL, binary arrays) stores
exactly what the ORM-built multi-row INSERT stores, column by column, for entries that use
every field: DSN parameters, a verdict, IPv4/IPv6/no client address, an authenticated
account, a non-ASCII sender, a paused entry, several recipients."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from mailcore.delivery import entries
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.models import QueueEntry, QueueRecipient

pytestmark = pytest.mark.django_db(transaction=True)

MSG = b"From: a@remote.example\r\nMessage-ID: <m1@remote.example>\r\nSubject: x\r\n\r\nbody\r\n"


def _spooled(alice: Any) -> list[entries.SpooledEntry]:
    options: list[dict[str, Any]] = [
        {"client_ip": "192.0.2.7", "client_helo": "mx.remote.example"},
        {
            "client_ip": "2001:db8::1",
            "dsn": MailDsn(ret="HDRS", envid="env-1"),
            "rcpt_dsn": {"bob@example.com": RcptDsn(notify="SUCCESS,FAILURE", orcpt="rfc822;b@x")},
            "smtputf8": True,
            "verdict": {"spf": "pass", "score": 1.5, "names": ["a", "ㄱ"], "none": None},
        },
        {"client_ip": None, "authenticated_as": alice, "origin": "webmail", "paused": True},
    ]
    senders = ["a@remote.example", "사용자@remote.example", ""]
    recipients = [["alice@example.com"], ["bob@example.com", "carol@example.com"], ["x@y.example"]]
    return [
        entries.spool_entry(sender=s, recipients=r, data=MSG, sync_dir=False, **o)
        for s, r, o in zip(senders, recipients, options, strict=True)
    ]


def _columns(entry: QueueEntry) -> dict[str, Any]:
    skip = {"id", "queue_id", "spool_name", "received_at", "next_attempt_at"}  # differ
    row = QueueEntry.objects.filter(pk=entry.pk).values().get()
    rcpts = list(QueueRecipient.objects.filter(entry_id=entry.pk).order_by("address").values())
    for r in rcpts:
        r.pop("id"), r.pop("entry_id")
        assert r.pop("updated_at") is not None  # auto_now: the time of each insert
    return {"entry": {k: v for k, v in row.items() if k not in skip}, "rcpts": rcpts}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="batch_insert is PostgreSQL's")
def test_batch_insert_stores_what_the_orm_insert_stores(alice, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.SPOOL_DIR = tmp_path / "spool"
    one = _spooled(alice)
    two = _spooled(alice)
    for s in one + two:
        if s.file.fd >= 0:
            os.close(s.file.fd)
    assert entries.batch_insert_is_one_statement()
    entries.batch_insert(one)
    with transaction.atomic():
        entries._insert_values(two)
    for a, b in zip(one, two, strict=True):
        assert a.entry.pk and b.entry.pk and a.entry.pk != b.entry.pk
        assert _columns(a.entry) == _columns(b.entry)
        stored = QueueEntry.objects.get(pk=a.entry.pk)
        assert (stored.received_at, stored.next_attempt_at) == (
            a.entry.received_at,
            a.entry.next_attempt_at,
        )
    assert QueueEntry.objects.get(pk=one[1].entry.pk).verdict["names"] == ["a", "ㄱ"]
    assert str(QueueEntry.objects.get(pk=one[1].entry.pk).client_ip) == "2001:db8::1"


def _prepared() -> list[tuple[str, int]]:
    """(statement, generic plans) of what this connection holds prepared on the server."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans FROM pg_prepared_statements")
        return cursor.fetchall()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="batch_insert is PostgreSQL's")
def test_the_group_commit_insert_is_prepared_once_and_orm_queries_are_not(  # type: ignore[no-untyped-def]
    alice, settings, tmp_path: Path
) -> None:
    """prepare=True takes effect (Django turns psycopg's preparing off by default, which made
    PostgreSQL parse and plan the statement at every commit); the ORM's queries stay
    unprepared, as Django has them."""
    settings.SPOOL_DIR = tmp_path / "spool"
    for _ in range(8):
        batch = _spooled(alice)
        for s in batch:
            if s.file.fd >= 0:
                os.close(s.file.fd)
        entries.batch_insert(batch)
    for _ in range(8):
        assert QueueEntry.objects.filter(sender="a@remote.example").count() > 0
    prepared = _prepared()
    inserts = [generic for statement, generic in prepared if "unnest" in statement]
    assert len(inserts) == 1  # one statement, prepared once, its plan reused
    assert inserts[0] > 0  # PostgreSQL went over to the generic plan (no planning per commit)
    assert len(prepared) == 1  # the ORM's count() was not prepared
