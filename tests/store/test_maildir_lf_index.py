"""The LF layout with the index: delivery across the upgrade stays idempotent, the API reports
the CRLF size, reindex takes sizes from W=, and `manage.py maildir convert` keeps every row
pointing at its (renamed) file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from mailcore.delivery import spool
from mailcore.delivery.actions import do_enqueue, do_process_entry, local_key
from mailcore.delivery.models import QueueEntry, QueueRecipient
from mailcore.directory.models import Account
from mailcore.mime.headers import for_final_delivery
from mailcore.store.actions import do_set_flags
from mailcore.store.maildir import key_stem, name_sizes, split_filename
from mailcore.store.models import Folder, Message
from mailcore.store.queries import maildir_for, read_message_bytes
from mailcore.store.reindex import reindex_account
from tests.api.helpers import put, token_client

pytestmark = pytest.mark.django_db(transaction=True)

MSG = (
    b"From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: Lunch?\r\n"
    b"Message-ID: <m1@remote.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0900\r\n\r\n"
    b"Noodles at noon.\r\n"
)


def files(account: Account, path: str = "") -> list[Path]:
    d = maildir_for(account).folder_dir(path)
    return sorted(p for sub in ("new", "cur") for p in (d / sub).iterdir())


def legacy_copy(account: Account, folder: Folder, key: str, data: bytes, info: str = "") -> Path:
    """The file the code before the LF layout wrote: CRLF bytes named by the key."""
    d = maildir_for(account).folder_dir(folder.path)
    target = d / "cur" / f"{key}:2,{info}" if info else d / "new" / key
    target.write_bytes(data)
    return target


def make_legacy(account: Account, message: Message) -> Path:
    """Turn a message stored now back into what the old layout left for it."""
    (path,) = [
        p
        for p in files(account, message.folder.path)
        if key_stem(split_filename(p.name)[0]) == key_stem(message.maildir_key)
    ]
    crlf = read_message_bytes(message)
    path.unlink()
    return legacy_copy(account, message.folder, message.maildir_key, crlf, message.info)


def test_a_retry_after_the_upgrade_finds_the_copy_written_before(alice: Account) -> None:
    """Killed after the old code linked the file, before its commit; retried by the new code:
    the CRLF file under the old name is indexed, no second file is written."""
    entry = do_enqueue(
        sender="bob@remote.example", recipients=["alice@example.com"], data=MSG, client_ip="::1"
    )
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    copy = for_final_delivery(MSG, return_path=entry.sender, recipient=alice.address)
    key = local_key(entry, alice, len(copy))
    old = legacy_copy(alice, inbox, key, copy)
    assert do_process_entry(entry.pk) == "done"
    assert files(alice) == [old] and old.read_bytes() == copy  # untouched, not copied
    msg = Message.objects.get()
    assert (msg.maildir_key, msg.size) == (key, len(copy))
    assert read_message_bytes(msg) == copy


def test_a_retry_of_a_committed_delivery_stores_nothing(alice: Account) -> None:
    """Delivered and committed by the old code, the queue entry retried after the upgrade (a
    redelivered task): one row, one file, still the old one."""
    entry = do_enqueue(
        sender="bob@remote.example", recipients=["alice@example.com"], data=MSG, client_ip="::1"
    )
    assert do_process_entry(entry.pk) == "done"
    msg = Message.objects.get()
    old = make_legacy(alice, msg)
    QueueEntry.objects.filter(pk=entry.pk).update(state="queued", next_attempt_at=timezone.now())
    QueueRecipient.objects.filter(entry=entry).update(state="pending")
    spool.write(entry.queue_id, MSG)
    assert do_process_entry(entry.pk) == "done"
    assert Message.objects.count() == 1 and files(alice) == [old]


def test_the_api_reports_the_crlf_size(alice: Account) -> None:
    body = b"Subject: sizes\r\n\r\n" + b"line\r\n" * 100
    message = put(alice, body)
    (path,) = files(alice)
    disk, wire = name_sizes(path.name)
    assert (disk, wire) == (path.stat().st_size, len(body))
    client: APIClient = token_client(alice)
    listed = client.get(f"/api/v1/folders/{message.folder_id}/messages").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["size"] for r in rows] == [len(body)]
    assert client.get(f"/api/v1/messages/{message.pk}").json()["size"] == len(body)
    raw = client.get(f"/api/v1/messages/{message.pk}/raw")
    assert raw.content == body


def test_a_message_uploaded_with_bare_lf_is_indexed_with_its_crlf_size(alice: Account) -> None:
    message = put(alice, b"Subject: unix\n\nfrom a script\n")
    crlf = b"Subject: unix\r\n\r\nfrom a script\r\n"
    assert message.size == len(crlf) and read_message_bytes(message) == crlf
    assert name_sizes(files(alice)[0].name)[1] == len(crlf)


def test_reindex_takes_sizes_from_w_and_keeps_keys_and_uids(alice: Account) -> None:
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    msgs = [put(alice, MSG + b"x" * n + b"\r\n") for n in range(3)]
    do_set_flags(acting_account=alice, messages=[msgs[1]], add=["seen"])
    make_legacy(alice, Message.objects.get(pk=msgs[2].pk))  # one not converted yet
    before = {m.maildir_key: (m.uid, m.size) for m in Message.objects.all()}
    Message.objects.all().delete()  # the index is lost
    report = reindex_account(alice)
    assert report.added == 3
    assert {m.maildir_key: (m.uid, m.size) for m in Message.objects.all()} == before
    inbox.refresh_from_db()
    assert inbox.size_bytes == sum(size for _, size in before.values())


def test_convert_command_rewrites_files_and_rows_still_find_them(alice: Account) -> None:
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    work = Folder.objects.create(account=alice, name="Work", path=".Work", uidvalidity=7)
    maildir_for(alice).create_folder(".Work", 7)
    msgs = [put(alice, MSG + b"n" * n + b"\r\n", into=inbox if n < 3 else work) for n in range(4)]
    do_set_flags(acting_account=alice, messages=msgs[:2], add=["flagged"])
    originals = {m.pk: read_message_bytes(Message.objects.get(pk=m.pk)) for m in msgs}
    for m in Message.objects.all():
        make_legacy(alice, m)
    assert all(b"\r\n" in p.read_bytes() for p in files(alice) + files(alice, ".Work"))

    out = io.StringIO()
    call_command("maildir", "convert", "alice@example.com", "--dry-run", stdout=out)
    assert "would convert 4, would rename 0, 0 already LF" in out.getvalue()
    assert all(b"\r\n" in p.read_bytes() for p in files(alice))

    out = io.StringIO()
    call_command("maildir", "convert", "--all", stdout=out)
    assert "alice@example.com: converted 4, renamed 0, 0 already LF, 0 kept" in out.getvalue()
    for p in files(alice) + files(alice, ".Work"):
        disk, _ = name_sizes(p.name)
        assert b"\r" not in p.read_bytes() and disk == p.stat().st_size
    for m in Message.objects.all():
        assert read_message_bytes(m) == originals[m.pk]
        assert m.size == len(originals[m.pk]) == name_sizes(split_filename(_file_of(m).name)[0])[1]
    flagged = Message.objects.filter(flagged=True)
    assert sorted(_file_of(m).name.rpartition(":2,")[2] for m in flagged) == ["F", "F"]
    # Rows are untouched; reindex finds every message again where it was.
    before = {m.maildir_key: (m.folder_id, m.uid, m.flagged) for m in Message.objects.all()}
    report = reindex_account(alice)
    assert (report.added, report.removed, report.updated) == (0, 0, 4)
    assert {m.maildir_key: (m.folder_id, m.uid, m.flagged) for m in Message.objects.all()} == (
        before
    )
    out = io.StringIO()
    call_command("maildir", "convert", "alice@example.com", stdout=out)
    assert "converted 0, renamed 0, 4 already LF" in out.getvalue()


def _file_of(message: Message) -> Path:
    return maildir_for(message.account).locate(
        message.folder.path, message.maildir_key, in_cur=message.in_cur, info=message.info
    )


def test_convert_command_needs_accounts() -> None:
    with pytest.raises(CommandError, match="addresses, or --all"):
        call_command("maildir", "convert", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no account"):
        call_command("maildir", "convert", "nobody@example.com", stdout=io.StringIO())
