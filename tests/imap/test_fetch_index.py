"""FETCH answered from the index (mailcore.imap.index): the full-folder FETCH of issue 10
item 5 copies the pre-rendered ENVELOPE/BODYSTRUCTURE bytes of MessageMeta batch by batch and
never opens a message file; rows without current metadata take the general path; SELECT's
UID list, first unseen and keywords come from two plain queries."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Callable

import pytest

from mailcore.directory.models import Account
from mailcore.imap import session as imap_session
from mailcore.store.actions import do_expunge, do_set_flags
from mailcore.store.models import Folder, Message, MessageMeta
from mailcore.store.queries import maildir_for
from tests.imap.test_commands import MULTIPART, add, inbox, simple

pytestmark = pytest.mark.django_db(transaction=True)

FULL = "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"


def _responses(data: list[object]) -> list[bytes]:
    """imaplib's FETCH data (tuples for literals) joined back into one line per message."""
    out: list[bytes] = []
    for item in data:
        if isinstance(item, tuple):
            out.append(item[0] + item[1])
        elif item == b")" and out:
            out[-1] += b")"
        elif isinstance(item, bytes):
            out.append(item)
    return out


def _remove_files(account: Account, folder: Folder) -> int:
    """Every message file of the folder gone from disk: what FETCH serves must come from the
    index."""
    d = maildir_for(account).folder_dir(folder.path)
    n = 0
    for sub in ("cur", "new"):
        for f in (d / sub).iterdir():
            f.unlink()
            n += 1
    return n


def test_full_folder_fetch_streams_from_the_index_without_files(
    alice: Account,
    client: imaplib.IMAP4_SSL,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(imap_session, "INDEX_BATCH", 2)  # several batches, one with a gap
    multi = add(alice, MULTIPART)
    rows = [multi] + [add(alice, simple(f"note {i}", sender=f"s{i}@example.org")) for i in range(4)]
    do_expunge(acting_account=alice, messages=[Message.objects.get(pk=rows[2].pk)])
    do_set_flags(
        acting_account=alice, messages=[Message.objects.get(pk=rows[3].pk)], add=["flagged"]
    )
    kept = [m for i, m in enumerate(rows) if i != 2]
    assert _remove_files(alice, inbox(alice)) == 4

    assert client.select("INBOX")[0] == "OK"
    typ, data = client.uid("FETCH", "1:*", FULL)
    assert typ == "OK"
    lines = _responses(data)
    assert len(lines) == 4
    for seq, (line, m) in enumerate(zip(lines, kept, strict=True), start=1):
        meta = MessageMeta.objects.get(pk=m.pk)
        row = Message.objects.get(pk=m.pk)
        assert line.startswith(b"%d (UID %d FLAGS (" % (seq, m.uid))
        # The stored IMAP text, byte for byte (RFC grammar: no SP between parts/addresses).
        assert b" ENVELOPE " + bytes(meta.envelope_imap) + b" BODYSTRUCTURE " in line
        assert line.endswith(b" BODYSTRUCTURE " + bytes(meta.bodystructure_imap) + b")")
        assert b"RFC822.SIZE %d " % row.size in line
    assert b"FLAGS (\\Flagged)" in lines[2]
    assert re.search(rb'\("text" "plain" [^()]*\([^()]*\)[^()]*\)\("application"', lines[0], re.I)

    # The header fields clients prefetch come from the index too.
    typ, data = client.uid(
        "FETCH", f"{kept[1].uid}", "(UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])"
    )
    assert typ == "OK"
    assert data[0][1] == b"From: s0@example.org\r\nSubject: note 0\r\n\r\n"  # type: ignore[index]


def test_rows_without_current_metadata_take_the_general_path(
    alice: Account, client: imaplib.IMAP4_SSL
) -> None:
    first = add(alice, simple("one"))
    second = add(alice, MULTIPART)
    MessageMeta.objects.filter(pk=first.pk).delete()  # mail from before the metadata
    MessageMeta.objects.filter(pk=second.pk).update(version=0)  # an older imapmeta.VERSION
    assert client.select("INBOX")[0] == "OK"
    typ, data = client.fetch("1:2", "(UID ENVELOPE BODYSTRUCTURE)")
    assert typ == "OK"
    lines = _responses(data)
    assert len(lines) == 2
    assert b'"one"' in lines[0] and b"<one@x>" in lines[0]
    assert b"(UID %d ENVELOPE" % first.uid in lines[0]
    assert b'"MIXED"' in lines[1].upper() and b"(UID %d ENVELOPE" % second.uid in lines[1]


def test_select_reports_keywords_first_unseen_and_count(
    alice: Account, connect: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    a = add(alice, simple("a"), flags=["seen"])
    add(alice, simple("b"), flags=["seen"], keywords=["$Work"])
    add(alice, simple("c"))
    do_expunge(acting_account=alice, messages=[Message.objects.get(pk=a.pk)])
    c = connect()
    typ, data = c.select("INBOX")
    assert typ == "OK" and data == [b"2"]
    flags = c.untagged_responses.get("FLAGS", [b""])[0]
    assert b"$Work" in flags
    unseen = c.untagged_responses.get("UNSEEN", [b"0"])[0]
    assert unseen == b"2"  # the third message is the second now
    typ, data = c.fetch("1:*", "(FLAGS)")
    assert [re.sub(rb"^\d+ ", b"", x) for x in data] == [
        b"(FLAGS (\\Seen $Work))",
        b"(FLAGS ())",
    ]


def test_a_small_body_fetch_reads_its_file_with_the_row(
    alice: Account, client: imaplib.IMAP4_SSL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One trip to the database pool for the row and the file, not one for each."""
    from mailcore import asyncdb

    first = add(alice, MULTIPART)
    second = add(alice, simple("two"))
    assert client.select("INBOX")[0] == "OK"
    calls: list[str] = []
    real = asyncdb.run_db

    async def counting(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", ""))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(asyncdb, "run_db", counting)
    typ, data = client.uid("FETCH", f"{first.uid},{second.uid}", "(BODY.PEEK[] BODY.PEEK[1])")
    assert typ == "OK"
    assert data[0][1] == MULTIPART and data[1][1] == b"hello body text"  # type: ignore[index]
    assert "_read_crlf" not in calls and "_load_rows" in calls


def test_select_view_is_cached_per_process_and_follows_every_change(
    alice: Account, connect: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    """A second SELECT of an unchanged folder needs no UID list from the database; a flag,
    keyword, delivery or expunge in between is seen all the same."""
    from mailcore.imap import index as fetch_index

    first = add(alice, simple("one"))
    add(alice, simple("two"))
    c = connect()
    assert c.select("INBOX") == ("OK", [b"2"])
    folder = inbox(alice)
    state = (folder.highestmodseq, folder.uidnext, folder.message_count)
    assert fetch_index._views[folder.pk][0] == state
    assert c.untagged_responses.get("UNSEEN") == [b"1"]
    do_set_flags(acting_account=alice, messages=[Message.objects.get(pk=first.pk)], add=["seen"])
    assert c.select("INBOX") == ("OK", [b"2"])
    assert c.untagged_responses.get("UNSEEN") == [b"2"]
    do_set_flags(
        acting_account=alice, messages=[Message.objects.get(pk=first.pk)], add_keywords=["$Later"]
    )
    c.select("INBOX")
    assert b"$Later" in c.untagged_responses["FLAGS"][0]
    add(alice, simple("three"))
    assert c.select("INBOX") == ("OK", [b"3"])
    do_expunge(acting_account=alice, messages=[Message.objects.get(pk=first.pk)])
    assert c.select("INBOX") == ("OK", [b"2"])
    _typ, data = c.fetch("1:*", "(UID)")
    assert [int(x.split()[-1].rstrip(b")")) for x in data] == [2, 3]  # type: ignore[union-attr]


NUL_MULTI = (
    b"From: Bob <bob@example.net>\r\n"
    b"To: a@example.com, b@example.com\r\n"
    b"Subject: nul\x00here\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n--b1\r\nContent-Type: text/plain\r\n\r\none\r\n"
    b"--b1\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n--b1--\r\n"
)


@pytest.mark.parametrize("path", ["index", "general", "no metadata"])
def test_envelope_and_bodystructure_wire_grammar(
    alice: Account, connect: Callable[..., imaplib.IMAP4_SSL], path: str
) -> None:
    """imap-bugs items 6 and 7 (fixed by 8fa9ea5, kept fixed here): no NUL inside a string
    (U+FFFD instead, as Dovecot), and no SP between the parts of a multipart nor between the
    addresses of a list (RFC 9051 "1*body", "1*address"), on every FETCH path."""
    m = add(alice, NUL_MULTI)
    if path == "no metadata":
        MessageMeta.objects.filter(pk=m.pk).delete()
    c = connect()
    c.select("INBOX")
    extra = " BODY.PEEK[HEADER]" if path != "index" else ""
    typ, data = c.fetch("1", f"(ENVELOPE BODYSTRUCTURE BODY{extra})")
    assert typ == "OK"
    line = b"".join(b"".join(d) if isinstance(d, tuple) else d for d in data)
    assert b"\x00" not in line.split(b"BODY[HEADER]")[0]
    assert "nul\ufffdhere".encode() in line
    assert b'(NIL NIL "a" "example.com")(NIL NIL "b" "example.com")' in line
    assert b')("text" "html"' in line and b') ("text" "html"' not in line
