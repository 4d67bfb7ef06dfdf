"""Reading a message without a thread when its file is small and in the page cache
(Maildir.read_crlf_cached, RWF_NOWAIT), and the fallbacks the POP3 session then takes."""

from __future__ import annotations

import poplib
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.store.actions import do_set_flags
from mailcore.store.models import Message
from mailcore.store.queries import maildir_for
from tests.pop3.conftest import add, inbox, msg

Connect = Callable[..., poplib.POP3_SSL]


def test_read_crlf_cached(alice: Account, transactional_db: None) -> None:
    m = add(alice, msg("a", "line\n.dot\n"))
    md = maildir_for(alice)
    whole = md.read("", m.maildir_key, in_cur=m.in_cur, info=m.info)  # notes its file name
    cached = md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10**6)
    assert cached == whole and cached.endswith(b"line\r\n.dot\r\n")
    assert len(cached) == m.size
    # Larger than the limit, or not where the row says: read elsewhere (None).
    assert md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10) is None
    assert md.read_crlf_cached("", m.maildir_key, in_cur=True, info="XYZ", limit=10**6) is None


def test_read_crlf_cached_after_a_rename_and_a_removal(
    alice: Account, transactional_db: None
) -> None:
    """The note of the name last opened (maildir._OPENED) names that file or none: after a
    flag change renamed it, the old letters find nothing, the new ones the file; after the
    file went, nothing."""
    m = add(alice, msg("a", "body a\n"))
    md = maildir_for(alice)
    whole = md.read("", m.maildir_key, in_cur=m.in_cur, info=m.info)
    assert md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10**6)
    do_set_flags(
        acting_account=alice,
        messages=[Message.objects.select_related("folder").get(pk=m.pk)],
        add=["seen", "flagged"],
    )
    assert md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10**6) is None
    m2 = Message.objects.get(pk=m.pk)
    assert md.read("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info) == whole
    for _ in range(2):  # found, then by the note
        got = md.read_crlf_cached("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info, limit=10**6)
        assert got == whole
    md.unlink("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info)
    assert (
        md.read_crlf_cached("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info, limit=10**6) is None
    )


def test_read_crlf_cached_by_the_stem_index_s_exact_name(
    alice: Account, transactional_db: None
) -> None:
    """A first read in a process (no note of the name opened yet): the stem index's name with
    exactly the row's letters is opened at once; after a rename its old letters find nothing."""
    from mailcore.store import maildir

    m = add(alice, msg("a", "body a\n"))
    md = maildir_for(alice)
    whole = md.read("", m.maildir_key, in_cur=m.in_cur, info=m.info)  # the directory scanned
    maildir._OPENED.clear()
    assert (
        md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10**6) == whole
    )
    do_set_flags(
        acting_account=alice,
        messages=[Message.objects.select_related("folder").get(pk=m.pk)],
        add=["flagged"],
    )
    maildir._OPENED.clear()
    assert md.read_crlf_cached("", m.maildir_key, in_cur=m.in_cur, info=m.info, limit=10**6) is None
    m2 = Message.objects.get(pk=m.pk)
    assert md.read("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info) == whole
    maildir._OPENED.clear()
    got = md.read_crlf_cached("", m2.maildir_key, in_cur=m2.in_cur, info=m2.info, limit=10**6)
    assert got == whole


def test_retr_of_a_file_renamed_behind_the_session(alice: Account, connect: Connect) -> None:
    a = add(alice, msg("a", "body a\n"))
    c = connect()  # the maildrop has the file name of the moment
    do_set_flags(
        acting_account=alice,
        messages=[Message.objects.select_related("folder").get(pk=a.pk)],
        add=["seen", "flagged"],
    )  # renames the file (cur/, ':2,FS')
    lines = c.retr(1)[1]
    assert b"Subject: a" in lines and lines[-1] == b"body a"
    c.quit()
    assert Message.objects.filter(folder=inbox(alice)).count() == 1


def test_to_crlf_form_keeps_crlf_data_as_it_is() -> None:
    import re

    from mailcore.store.maildir import to_crlf_form

    def slow(data: bytes) -> bytes:  # the definition: each LF not after a CR gets one
        return re.sub(rb"(?<!\r)\n", b"\r\n", data)

    crlf = b"A: b\r\n\r\nbody\r\n.\r\n"
    assert to_crlf_form(crlf) is crlf  # no copy
    for data in (b"a\r\nb\nc", b"a\r\r\nb\n", b"a\rb\r\n", b"\n\r\n", b"x\r", crlf):
        assert to_crlf_form(data) == slow(data)
