"""insert_index_rows (do_deliver_many's index transaction) writes the rows the ORM's four
bulk_creates write: the same batch delivered both ways, every column compared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailcore.mime import parse_message
from mailcore.mime.headers import for_final_delivery
from mailcore.store import actions, indexrows
from mailcore.store.actions import Arrival, Delivered, do_deliver_many
from mailcore.store.models import Folder, Message, MessageMeta, MessageSearch, MessageText

pytestmark = pytest.mark.django_db(transaction=True)
WHEN = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

MESSAGES = [
    b'From: S\xc3\xa9 <s1@remote.example>\r\nTo: a@example.com, "B, b" <b@example.com>\r\n'
    b"Cc: c@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?= one\r\nMessage-ID: <1@remote.example>\r\n"
    b"Date: Mon, 2 Mar 2026 01:00:00 +0000\r\nReferences: <0@remote.example>\r\n"
    b"In-Reply-To: <0@remote.example>\r\n\r\nbody one \xc3\xa9\r\n",
    b"From: s2@remote.example\r\nSubject: attachment\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n'
    b'hello\r\n--b\r\nContent-Type: application/pdf; name="report 2026.pdf"\r\n'
    b'Content-Disposition: attachment; filename="report 2026.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
    b"Subject: no from, no body\r\n\r\n",
    b"From: s4@remote.example\r\nTo: a@example.com\r\nSubject: Re: one\r\n"
    b"Message-ID: <4@remote.example>\r\nIn-Reply-To: <1@remote.example>\r\n\r\n"
    + b"long line " * 200
    + b"\r\n",
]
SKIP = {"id", "message", "message_id", "account", "account_id", "folder", "folder_id"}


def _deliver(account) -> list[Message]:  # type: ignore[no-untyped-def]
    folder = Folder.objects.get(account=account, special_use="inbox")
    batch = [
        Arrival(account, folder, data, f"q{n}.k", parse_message(data), WHEN, source="smtp")
        for n, data in enumerate(MESSAGES)
    ]
    results = do_deliver_many(batch)
    assert all(isinstance(r, Delivered) and r.created for r in results)
    return [r.message for r in results]  # type: ignore[union-attr]


def _rows(model, messages: list[Message]) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    link = "id" if model is Message else "message_id"
    by_pk = {
        row[link]: row
        for row in model.objects.filter(**{f"{link}__in": [m.pk for m in messages]}).values()
    }
    return [
        {
            k: v
            for k, v in by_pk[m.pk].items()
            if k not in SKIP or (model is Message and k == "message_id")
        }
        for m in messages
    ]


def test_rows_are_the_orms(alice, bob, monkeypatch) -> None:
    ours = _deliver(alice)
    monkeypatch.setattr(actions, "insert_index_rows", indexrows.orm_insert)
    theirs = _deliver(bob)
    _assert_same_rows(ours, alice, theirs, bob, ["" for _ in MESSAGES])
    # The objects returned are saved and linked as bulk_create leaves them.
    for a, b in zip(ours, theirs, strict=True):
        assert a.pk and b.pk and a._state.adding is False and a._state.db == b._state.db
    assert MessageSearch.objects.filter(message__in=ours).count() == len(MESSAGES)


def test_corpus_rows_are_those_of_a_second_parse(alice, bob, monkeypatch) -> None:
    """Delivery's copies (Return-Path and Delivered-To on top of the parsed message) of the
    corpus: the MessageMeta computed from the delivery's own parse and the search keys
    (document_keys) are the rows of a fresh parse of each copy and of the reference keys."""
    from mailcore.search import backend
    from mailcore.store import meta
    from tests.indexcorpus import corpus, reference_document_keys

    def deliver(account) -> list[Message]:  # type: ignore[no-untyped-def]
        folder = Folder.objects.get(account=account, special_use="inbox")
        batch = []
        for n, data in enumerate(corpus().values()):
            copy = for_final_delivery(data, return_path="s@sender.example", recipient="r@x.test")
            batch.append(Arrival(account, folder, copy, f"c{n}.k", parse_message(data), WHEN))
        results = do_deliver_many(batch)
        assert all(isinstance(r, Delivered) and r.created for r in results)
        return [r.message for r in results]  # type: ignore[union-attr]

    ours = deliver(alice)
    monkeypatch.setattr(
        actions, "meta_row", lambda data, parsed=None, crlf=False: meta.meta_row(data)
    )
    monkeypatch.setattr(backend, "document_keys", reference_document_keys)
    theirs = deliver(bob)
    _assert_same_rows(ours, alice, theirs, bob, list(corpus()))


def _assert_same_rows(ours, alice, theirs, bob, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Every column of the four tables, message by message (`names` say which)."""
    for model in (Message, MessageText, MessageSearch, MessageMeta):
        got, want = _rows(model, ours), _rows(model, theirs)
        if model is MessageSearch and isinstance(want[0]["keys"], str):
            # SQLite's keys name the account (PostgreSQL indexes account_id beside them).
            for rows, account in ((got, alice), (want, bob)):
                for row in rows:
                    row["keys"] = str(row["keys"]).replace(f"acct{account.pk} ", "acct ")
        for name, a, b in zip(names, got, want, strict=True):
            assert a == b, (model.__name__, name)
