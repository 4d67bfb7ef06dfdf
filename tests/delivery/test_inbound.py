"""SMTP in → queue → delivery worker → Maildir + rows: aliases, idempotency, crashes and
malformed mail, checked on disk and in the index."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest
from django.utils import timezone

from mailcore.delivery import spool
from mailcore.delivery.actions import do_enqueue, do_process_entry, do_sweep, local_key
from mailcore.delivery.models import DeliveryAttempt, Direction, QueueEntry, QueueRecipient
from mailcore.directory.actions import do_add_alias
from mailcore.directory.models import Alias
from mailcore.mime.headers import for_final_delivery
from mailcore.store.maildir import Maildir, key_stem
from mailcore.store.models import Folder, Message
from mailcore.store.queries import read_message_bytes
from tests.conftest import load_eml, run_queue

MSG = (
    b"From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: Lunch?\r\n"
    b"Message-ID: <m1@remote.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0900\r\n\r\n"
    b"Noodles at noon.\r\n"
)


def maildir_files(settings, account, sub: str = "new", folder: str = "") -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / folder / sub
    return sorted(root.iterdir())


def enqueue(rcpts: list[str], data: bytes = MSG, sender: str = "bob@remote.example") -> QueueEntry:
    return do_enqueue(sender=sender, recipients=rcpts, data=data, client_ip="127.0.0.1")


@pytest.mark.django_db(transaction=True)
def test_smtp_to_maildir_end_to_end(alice, smtp_server, settings) -> None:
    with smtplib.SMTP(*smtp_server) as c:
        c.sendmail("bob@remote.example", ["alice@example.com"], MSG)
    assert run_queue() == ["done"]
    files = maildir_files(settings, alice)
    # Stored with LF line ends, as Postfix local/virtual, procmail and Dovecot's LDA do.
    on_disk = files[0].read_bytes()
    assert len(files) == 1 and on_disk.endswith(MSG.replace(b"\r\n", b"\n"))
    assert b"\r" not in on_disk
    assert on_disk.startswith(
        b"Return-Path: <bob@remote.example>\nDelivered-To: alice@example.com\nReceived: from "
    )
    msg = Message.objects.get()
    assert (msg.folder.special_use, msg.uid, msg.subject) == ("inbox", 1, "Lunch?")
    assert (msg.from_name, msg.from_addr, msg.message_id) == (
        "Bob",
        "bob@remote.example",
        "m1@remote.example",
    )
    # The index keeps the CRLF (wire) size: the W= of the name; S= is the size on disk.
    crlf_size = len(on_disk) + on_disk.count(b"\n")
    assert msg.snippet.startswith("Noodles at noon.") and msg.size == crlf_size
    assert files[0].name == f"{key_stem(msg.maildir_key)},S={len(on_disk)},W={crlf_size}"
    assert not msg.seen
    assert (msg.folder.message_count, msg.folder.unseen_count) == (1, 1)
    entry = QueueEntry.objects.get()
    assert entry.state == "done" and entry.recipients.get().state == "delivered"
    assert not (Path(settings.SPOOL_DIR) / entry.spool_name).exists()
    assert DeliveryAttempt.objects.get().result == "done"
    # The uidlist on disk carries the UID the index gave.
    assert Maildir(files[0].parent.parent).read_uidlist("")[1] == {msg.maildir_key: 1}


@pytest.mark.django_db(transaction=True)
def test_delivery_is_idempotent_per_recipient(alice, settings) -> None:
    entry = enqueue(["alice@example.com"])
    assert do_process_entry(entry.pk) == "done"
    # A second run (a duplicate doorbell, a redelivered task) finds nothing to do.
    assert do_process_entry(entry.pk) == "skipped"
    QueueEntry.objects.filter(pk=entry.pk).update(state="queued", next_attempt_at=timezone.now())
    QueueRecipient.objects.filter(entry=entry).update(state="pending")
    entry.refresh_from_db()
    # Spool is gone after success; put it back to force a full second attempt.
    spool.write(entry.queue_id, MSG)
    assert do_process_entry(entry.pk) == "done"
    assert Message.objects.count() == 1 and len(maildir_files(settings, alice)) == 1


@pytest.mark.django_db(transaction=True)
def test_crash_between_file_and_commit_leaves_no_duplicate(alice, settings) -> None:
    entry = enqueue(["alice@example.com"])
    # What a worker killed after the Maildir link (before its commit) leaves behind:
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    md = Maildir(Path(settings.MAIL_ROOT) / alice.storage_path / "Maildir")
    copy = for_final_delivery(MSG, return_path=entry.sender, recipient=alice.address)
    md.deliver(inbox.path, local_key(entry, alice, len(copy)), copy)
    assert do_process_entry(entry.pk) == "done"
    assert Message.objects.count() == 1 and len(maildir_files(settings, alice)) == 1


@pytest.mark.django_db(transaction=True)
def test_alias_fan_out_dedupe_and_external_forward(make_account, settings) -> None:
    alice, bob = make_account("alice@example.com"), make_account("bob@example.com")
    do_add_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    do_add_alias("root@example.com", ["alice@example.com", "friend@elsewhere.example"])
    entry = enqueue(["team@example.com", "root@example.com", "alice@example.com"])
    assert do_process_entry(entry.pk) == "done"
    assert len(maildir_files(settings, alice)) == 1  # three routes, one copy
    assert len(maildir_files(settings, bob)) == 1
    fwd = QueueEntry.objects.get(direction=Direction.OUTBOUND)
    assert list(fwd.recipients.values_list("address", flat=True)) == ["friend@elsewhere.example"]
    assert fwd.sender == "bob@remote.example" and fwd.origin.startswith(f"fwd:{entry.queue_id}")
    assert do_process_entry(fwd.pk) == "deferred"  # the outbound relay comes with sending


@pytest.mark.django_db(transaction=True)
def test_alias_loop_and_depth_are_cut(alice, settings) -> None:
    settings.ALIAS_MAX_DEPTH = 3
    from mailcore.directory.models import Domain

    domain = Domain.objects.get()
    # The action refuses cycles; an imported table may still contain one.
    Alias.objects.create(source="a@example.com", domain=domain, targets=["b@example.com"])
    Alias.objects.create(source="b@example.com", domain=domain, targets=["a@example.com"])
    for i in range(6):
        Alias.objects.create(
            source=f"d{i}@example.com", domain=domain, targets=[f"d{i + 1}@example.com"]
        )
    Alias.objects.create(source="d6@example.com", domain=domain, targets=["alice@example.com"])
    entry = enqueue(["a@example.com", "d0@example.com"])
    assert do_process_entry(entry.pk) == "done"
    states = dict(entry.recipients.values_list("address", "state"))
    assert states == {"a@example.com": "bounced", "d0@example.com": "bounced"}
    assert "deeper than 3" in entry.recipients.get(address="d0@example.com").last_reply
    assert Message.objects.count() == 0


def test_alias_cycles_are_refused_when_saved(alice) -> None:
    from mailcore.errors import ConflictError

    do_add_alias("a@example.com", ["b@example.com"])
    do_add_alias("b@example.com", ["c@example.com"])
    with pytest.raises(ConflictError):
        do_add_alias("c@example.com", ["a@example.com"])
    with pytest.raises(ConflictError):
        do_add_alias("self@example.com", ["self@example.com"])


@pytest.mark.django_db(transaction=True)
def test_postmaster_goes_to_the_admin(make_account, settings) -> None:
    admin = make_account("boss@example.com", is_staff=True)
    entry = enqueue(["postmaster@example.com"], sender="")
    assert do_process_entry(entry.pk) == "done"
    assert len(maildir_files(settings, admin)) == 1


@pytest.mark.django_db(transaction=True)
def test_corrupt_spool_is_held_never_delivered(alice, settings) -> None:
    entry = enqueue(["alice@example.com"])
    path = Path(settings.SPOOL_DIR) / entry.spool_name
    path.write_bytes(path.read_bytes()[:-5])
    assert do_process_entry(entry.pk) == "held"
    entry.refresh_from_db()
    assert entry.state == "held" and "corrupt" in entry.last_error
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_storage_failure_defers_then_succeeds(alice, settings) -> None:
    entry = enqueue(["alice@example.com"])
    new_dir = Path(settings.MAIL_ROOT) / alice.storage_path / "Maildir" / "new"
    new_dir.chmod(0o500)
    try:
        import os

        if os.geteuid() == 0:  # root ignores permissions: break the directory instead
            new_dir.chmod(0o700)
            new_dir.rename(new_dir.with_name("new.away"))
        assert do_process_entry(entry.pk) == "deferred"
    finally:
        if new_dir.with_name("new.away").exists():
            new_dir.with_name("new.away").rename(new_dir)
        new_dir.chmod(0o700)
    entry.refresh_from_db()
    assert entry.state == "queued" and entry.recipients.get().state == "deferred"
    assert entry.next_attempt_at > entry.received_at
    QueueEntry.objects.filter(pk=entry.pk).update(next_attempt_at=entry.received_at)
    assert run_queue() == ["done"]
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_poison_entry_is_held_after_max_attempts(alice, settings) -> None:
    settings.DELIVERY_MAX_ATTEMPTS = 2
    entry = enqueue(["alice@example.com"])
    # Two workers died mid-attempt (claims recorded, never finished).
    QueueEntry.objects.filter(pk=entry.pk).update(attempts=2)
    assert do_process_entry(entry.pk) == "held"
    assert QueueEntry.objects.get().state == "held"


@pytest.mark.django_db(transaction=True)
def test_sweep_removes_orphan_spool_files_only(alice, settings) -> None:
    settings.SPOOL_ORPHAN_SECONDS = 0
    entry = enqueue(["alice@example.com"])
    orphan = spool.write(spool.new_queue_id(), b"x")
    result = do_sweep(dispatch_due=False)
    assert result["orphans_removed"] == 1
    assert not (Path(settings.SPOOL_DIR) / orphan.name).exists()
    assert (Path(settings.SPOOL_DIR) / entry.spool_name).exists()


CORPUS = sorted(p.name for p in (Path(__file__).parent.parent / "mail").glob("*.eml"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_message_is_delivered_never_dropped(alice, settings, name: str) -> None:
    data = load_eml(name).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    entry = enqueue(["alice@example.com"], data=data)
    assert do_process_entry(entry.pk) == "done"
    msg = Message.objects.get()
    # Byte for byte, under the two lines of final delivery.
    top = b"Return-Path: <bob@remote.example>\r\nDelivered-To: alice@example.com\r\n"
    on_disk = maildir_files(settings, alice)[0].read_bytes()
    assert on_disk == (top + data).replace(b"\r\n", b"\n")
    assert read_message_bytes(msg) == top + data
    assert msg.size == len(top + data) and on_disk.count(b"\n") + len(on_disk) == msg.size


KOREAN = [
    ("ksc5601_base64.eml", "똠"),
    ("ksc5601_8bit.eml", "똠"),
    ("euckr_label_cp949_bytes.eml", "펲"),
    ("x_windows_949.eml", "똠"),
    ("cp949_label.eml", "똠"),
    ("rfc2047_split_utf8.eml", "한"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "needle"), KOREAN)
def test_korean_charsets_index_correctly(alice, name: str, needle: str) -> None:
    entry = enqueue(["alice@example.com"], data=load_eml(name))
    do_process_entry(entry.pk)
    msg = Message.objects.get()
    assert needle in msg.subject + msg.snippet + msg.from_name, (msg.subject, msg.snippet)
    assert "\ufffd" not in msg.subject + msg.from_name


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_mime_bombs_are_delivered_raw_and_indexed(alice, smtp_server, settings) -> None:
    deep = (
        b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
        + (b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 20000)
        + b"end\r\n"
    )
    wide = (
        b"Subject: wide\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 5000
        + b"--b--\r\n"
    )
    with smtplib.SMTP(*smtp_server) as c:
        for data in (deep, wide):
            c.sendmail("bob@remote.example", ["alice@example.com"], data)
    assert sorted(run_queue()) == ["done", "done"]
    subjects = sorted(Message.objects.values_list("subject", flat=True))
    assert subjects == ["deep", "wide"]
    stored = sorted(p.read_bytes().replace(b"\n", b"\r\n") for p in maildir_files(settings, alice))
    assert any(s.endswith(deep) for s in stored) and any(s.endswith(wide) for s in stored)


@pytest.mark.django_db(transaction=True)
def test_a_rung_batch_pulls_other_due_inbound_entries(alice, settings) -> None:
    """fill_to (what the Celery task passes): the batch takes other due, free inbound entries,
    oldest first, never a leased, deferred-until-later or outbound one."""
    from datetime import timedelta

    from mailcore.delivery.actions import do_process_entries

    rung, older, leased, later, newer = (enqueue(["alice@example.com"]) for _ in range(5))
    outbound = do_enqueue(
        sender="alice@example.com",
        recipients=["carol@remote.example"],
        data=MSG,
        direction=Direction.OUTBOUND,
    )
    soon = timezone.now() + timedelta(minutes=5)
    QueueEntry.objects.filter(pk=leased.pk).update(locked_until=soon)
    QueueEntry.objects.filter(pk=later.pk).update(next_attempt_at=soon)
    results = do_process_entries([newer.pk], fill_to=3)
    # The rung one first, then the oldest due ones until the batch holds three.
    assert results == {newer.pk: "done", rung.pk: "done", older.pk: "done"}
    states = dict(QueueEntry.objects.values_list("pk", "state"))
    assert [states[e.pk] for e in (leased, later, outbound)] == ["queued"] * 3
    assert Message.objects.count() == 3
    # Without fill_to only what was rung is attempted (tests and the sweep rely on it).
    QueueEntry.objects.filter(pk__in=[leased.pk, later.pk]).update(
        locked_until=None, next_attempt_at=timezone.now()
    )
    assert do_process_entries([leased.pk]) == {leased.pk: "done"}
    assert QueueEntry.objects.get(pk=later.pk).state == "queued"
