"""Body FETCH from the process's file entries (index.load_files, session._fetch_files): once a
process knows where a folder's files are, `BODY.PEEK[]` (whole or partial) of a few messages
makes no trip to the database pool, and stays right when the file is renamed (a flag change),
gone (expunged or moved by another session) or new (delivered since the entries were read)."""

from __future__ import annotations

import imaplib
from collections.abc import Callable

import pytest

from mailcore.directory.models import Account
from mailcore.imap import index as fetch_index
from mailcore.store.actions import do_set_flags
from mailcore.store.models import Message
from tests.imap.test_commands import MULTIPART, add, simple

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pool_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of what the session sends to the database pool from now on."""
    from mailcore import asyncdb

    calls: list[str] = []
    real = asyncdb.run_db

    async def counting(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(asyncdb, "run_db", counting)
    return calls


def body(c: imaplib.IMAP4_SSL, uid: int, att: str = "BODY.PEEK[]") -> tuple[str, list[object]]:
    """The FETCH's literal responses (unsolicited FLAGS updates left out)."""
    typ, data = c.uid("FETCH", str(uid), f"(UID RFC822.SIZE {att})")
    return typ, [d for d in data if isinstance(d, tuple)]


def test_a_known_folder_answers_body_fetches_without_the_database(
    alice: Account, client: imaplib.IMAP4_SSL, pool_calls: list[str]
) -> None:
    first = add(alice, MULTIPART)
    second = add(alice, simple("two"))
    assert client.select("INBOX")[0] == "OK"
    typ, data = body(client, first.uid)
    assert typ == "OK" and data[0][1] == MULTIPART  # type: ignore[index]
    assert b"RFC822.SIZE %d" % len(MULTIPART) in data[0][0]  # type: ignore[index]
    assert "load_files" in pool_calls  # the first one learns where the files are
    pool_calls.clear()
    typ, data = body(client, second.uid)
    assert typ == "OK" and data[0][1] == simple("two")  # type: ignore[index]
    typ, data = body(client, first.uid, "BODY.PEEK[]<10.20>")
    assert typ == "OK" and data[0][1] == MULTIPART[10:30]  # type: ignore[index]
    assert b"BODY[]<10> {20}" in data[0][0]  # type: ignore[index]
    assert pool_calls == []  # no trip at all: no query, no thread hop
    # Anything more than UID, RFC822.SIZE and the whole body still goes to the database.
    typ, data = client.uid("FETCH", str(second.uid), "(FLAGS BODY.PEEK[])")
    assert typ == "OK" and pool_calls


def test_renamed_gone_and_new_files(
    alice: Account, connect: Callable[..., imaplib.IMAP4_SSL], pool_calls: list[str]
) -> None:
    renamed = add(alice, simple("renamed"))
    gone = add(alice, simple("gone"))
    moved = add(alice, simple("moved"))
    c, other = connect(), connect()
    assert c.select("INBOX")[0] == "OK" and other.select("INBOX")[0] == "OK"
    assert body(c, renamed.uid)[0] == "OK"  # the entries are known from here on
    # Another client flags one (its file gets new ":2," letters), expunges one, moves one.
    do_set_flags(
        acting_account=alice, messages=[Message.objects.get(pk=renamed.pk)], add=["flagged"]
    )
    other.uid("STORE", str(gone.uid), "+FLAGS.SILENT", r"(\Deleted)")
    assert other.uid("EXPUNGE", str(gone.uid))[0] == "OK"
    assert other.uid("MOVE", str(moved.uid), "Trash")[0] == "OK"
    pool_calls.clear()
    # Still in this session's view (it hears of the expunges after this FETCH), but their
    # files have left the folder.
    typ, data = c.uid("FETCH", f"{gone.uid},{moved.uid}", "(UID BODY.PEEK[])")
    assert typ == "NO" and b"[EXPUNGEISSUED]" in data[0], data  # type: ignore[operator]
    typ, data = body(c, renamed.uid)
    assert typ == "OK" and data[0][1] == simple("renamed")  # type: ignore[index]
    assert "load_files" not in pool_calls  # the old letters lead to the file all the same
    # A message delivered after the entries were read: its entry is read then.
    new = add(alice, simple("new"))
    assert c.noop()[0] == "OK"  # EXISTS
    typ, data = body(c, new.uid)
    assert typ == "OK" and data[0][1] == simple("new")  # type: ignore[index]
    assert fetch_index.cached_files(new.folder_id, new.folder.uidvalidity, [new.uid])
