"""What the store keeps for IMAP: ENVELOPE/BODYSTRUCTURE rows filled by every path that creates
a message (and backfilled), the Sent de-duplication of APPEND, and quota counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from mailcore.directory.models import Account
from mailcore.mime import imapmeta, parse_message
from mailcore.store.actions import (
    Arrival,
    Delivered,
    do_append,
    do_deliver_many,
    do_import_message,
)
from mailcore.store.meta import get_imap_meta
from mailcore.store.models import Message, MessageMeta, Source
from mailcore.store.quota import usage
from mailcore.store.reindex import fill_account_meta, reindex_account
from tests.api.helpers import folder, message_path
from tests.conftest import load_eml

pytestmark = pytest.mark.django_db
TRICKY = ("forwarded_rfc822.eml", "raw8bit_cp949_header.eml", "nul_bytes.eml", "bare_lf.eml")


def expected(name: str) -> imapmeta.ImapMeta:
    return imapmeta.compute(load_eml(name))


def assert_meta(message: Message, name: str) -> None:
    row = MessageMeta.objects.get(message=message)  # read back from the database
    want = expected(name)
    assert row.version == imapmeta.VERSION
    assert row.envelope == want.envelope
    assert row.bodystructure == want.bodystructure
    assert bytes(row.envelope_imap) == imapmeta.render_envelope(want.envelope)
    assert bytes(row.bodystructure_imap) == imapmeta.render_body(want.bodystructure)
    assert bytes(row.header_fields) == want.header_fields
    assert (row.header_size, row.body_size, row.body_lines) == (
        want.header_size,
        want.body_size,
        want.body_lines,
    )
    assert message.size == want.size == row.header_size + row.body_size  # RFC822.SIZE


@pytest.mark.parametrize("name", TRICKY)
def test_append_and_delivery_store_the_metadata(alice: Account, name: str) -> None:
    msg = do_append(acting_account=alice, folder=folder(alice), data=load_eml(name))
    assert_meta(msg, name)


def test_batch_delivery_and_import_store_the_metadata(alice: Account, bob: Account) -> None:
    when = datetime(2026, 3, 2, tzinfo=UTC)
    arrivals = [
        Arrival(acct, folder(acct), load_eml(n), f"k{i}", parse_message(load_eml(n)), when)
        for i, (acct, n) in enumerate([(alice, TRICKY[0]), (bob, TRICKY[1])])
    ]
    results = do_deliver_many(arrivals)
    assert all(isinstance(r, Delivered) for r in results)
    assert_meta(results[0].message, TRICKY[0])  # type: ignore[union-attr]
    assert_meta(results[1].message, TRICKY[1])  # type: ignore[union-attr]
    imported = do_import_message(
        acting_account=alice, folder=folder(alice), data=load_eml(TRICKY[2]), key="imp.1"
    ).message
    assert_meta(imported, TRICKY[2])


def test_backfill_lazily_by_reindex_and_by_command(alice: Account) -> None:
    msgs = [do_append(acting_account=alice, folder=folder(alice), data=load_eml(n)) for n in TRICKY]
    MessageMeta.objects.all().delete()  # as after the upgrade: rows without metadata
    # Lazily, for what a FETCH asks (one file read each, then stored).
    got = get_imap_meta(
        list(Message.objects.select_related("folder", "account").filter(pk=msgs[0].pk))
    )
    assert got[msgs[0].pk].envelope == expected(TRICKY[0]).envelope
    assert MessageMeta.objects.count() == 1
    # A row computed by an older version counts as missing.
    MessageMeta.objects.update(version=0)
    assert fill_account_meta(alice) == len(TRICKY)
    for m, n in zip(msgs, TRICKY, strict=True):
        assert_meta(m, n)
    MessageMeta.objects.filter(message=msgs[1]).delete()
    reindex_account(alice)
    assert_meta(msgs[1], TRICKY[1])
    MessageMeta.objects.all().delete()
    call_command("reindex", alice.address, "--imap-meta", "--no-progress")
    assert MessageMeta.objects.count() == len(TRICKY)
    # A message whose file has gone is left out (the caller reads the file and errs there).
    MessageMeta.objects.filter(message=msgs[2]).delete()
    message_path(alice, msgs[2]).unlink()
    rows = list(Message.objects.select_related("folder", "account").filter(account=alice))
    assert set(get_imap_meta(rows)) == {m.pk for m in msgs} - {msgs[2].pk}


def sent_copy(account: Account, message_id: str, source: str = Source.SMTP) -> Message:
    data = (
        f"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n"
        f"Message-ID: {message_id}\r\n\r\nhello\r\n"
    ).encode()
    return do_append(
        acting_account=account,
        folder=folder(account, "sent"),
        data=data,
        source=source,
        flags=("seen",),
    )


def imap_append(account: Account, message_id: str, into: str = "sent", **kw: object) -> Message:
    data = (
        f"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n"
        f"Message-ID: {message_id}\r\n\r\nhello again\r\n"
    ).encode()
    return do_append(
        acting_account=account,
        folder=folder(account, into),
        data=data,
        source=Source.IMAP,
        dedupe_sent=True,
        **kw,  # type: ignore[arg-type]
    )


def test_append_to_sent_after_submission_keeps_one_copy(alice: Account) -> None:
    sent = folder(alice, "sent")
    first = sent_copy(alice, "<s1@example.com>")
    again = imap_append(alice, "<s1@example.com>", flags=("seen", "answered"), keywords=["$Sent"])
    assert again.pk == first.pk and again.uid == first.uid  # APPENDUID reports the copy
    assert Message.objects.filter(folder=sent).count() == 1
    again.refresh_from_db()
    assert again.answered and again.seen and again.keywords == ["$Sent"]  # flags added
    # The same from the API's copy.
    api = sent_copy(alice, "<s2@example.com>", source=Source.API)
    assert imap_append(alice, "<s2@example.com>").pk == api.pk


def test_append_dedupe_only_within_the_window_folder_and_id(alice: Account, settings) -> None:  # type: ignore[no-untyped-def]
    sent = folder(alice, "sent")
    old = sent_copy(alice, "<old@example.com>")
    Message.objects.filter(pk=old.pk).update(
        internal_date=datetime.now(tz=UTC) - timedelta(seconds=settings.SENT_DEDUPE_SECONDS + 5)
    )
    assert imap_append(alice, "<old@example.com>").pk != old.pk  # too long ago
    other = sent_copy(alice, "<a@example.com>")
    assert imap_append(alice, "<b@example.com>").pk != other.pk  # another Message-ID
    # An IMAP copy is not a submission's: two APPENDs are two messages.
    mine = imap_append(alice, "<c@example.com>")
    assert imap_append(alice, "<c@example.com>").pk != mine.pk
    # Only Sent: an APPEND elsewhere is stored as asked.
    sent_copy(alice, "<d@example.com>")
    assert imap_append(alice, "<d@example.com>", into="drafts").folder_id != sent.pk
    # Off: every APPEND stores.
    settings.SENT_DEDUPE_SECONDS = 0
    copy = sent_copy(alice, "<e@example.com>")
    assert imap_append(alice, "<e@example.com>").pk != copy.pk


def test_quota_usage_counts_messages_and_kib(alice: Account) -> None:
    empty = usage(alice)
    assert (empty.used, empty.messages, empty.used_kib) == (0, 0, 0)
    a = do_append(acting_account=alice, folder=folder(alice), data=load_eml(TRICKY[0]))
    b = do_append(acting_account=alice, folder=folder(alice, "sent"), data=load_eml(TRICKY[1]))
    alice.quota_bytes = 10 * 1024 * 1024 + 1000
    state = usage(alice)
    assert state.messages == 2
    assert state.used == a.size + b.size
    assert state.used_kib == (a.size + b.size + 1023) // 1024  # RFC 9208: rounded up
    assert state.limit_kib == 10 * 1024  # rounded down
