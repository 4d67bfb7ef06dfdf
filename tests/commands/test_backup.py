"""`manage.py backup` / `restore` on a quiet host: incremental runs copy only new files (a flag
rename is linked, not copied), a corrupt backup or manifest is refused before anything is
touched, a non-empty host is refused without --force and kept aside with it, and a backup of
the other database kind is refused. The restore under load is tests/e2e/test_backup_restore.py."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import smtplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from mailcore.backup import run_backup
from mailcore.delivery.models import DeliveryWorker, QueueEntry
from mailcore.directory.models import Account
from mailcore.store.actions import do_set_flags
from mailcore.store.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def host(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("secret")
    settings.VAR_DIR = var
    settings.UPLOAD_DIR = var / "uploads"
    monkeypatch.setenv("MAILROOM_ENV_FILE", str(tmp_path / "no.env"))
    return var


def send(smtp_server: tuple[str, int], n: int) -> None:
    with smtplib.SMTP(*smtp_server, timeout=30) as client:
        client.sendmail(
            "x@remote.example",
            ["alice@example.com"],
            f"Subject: m{n}\r\nMessage-ID: <m{n}@x>\r\n\r\nbody {n}\r\n".encode(),
        )


@pytest.fixture
def mail(alice: Account, smtp_server: tuple[str, int], deliver_all: Any) -> Callable[..., None]:
    """Delivers messages m<first>..m<last - 1> to alice over SMTP and the delivery pipeline."""

    def deliver(first: int, last: int) -> None:
        for i in range(first, last):
            send(smtp_server, i)
        deliver_all()

    return deliver


def backed_up(mail: Callable[..., None], tmp_path: Path, n: int) -> Path:
    """`n` messages delivered to alice, then a first backup run: the backup directory."""
    mail(0, n)
    dest = tmp_path / "backup"
    call_command("backup", str(dest), "--quiet")
    return dest


def run(dest: Path, stamp: str | None = None) -> tuple[Path, dict[str, Any]]:
    stamp = stamp or (dest / "LATEST").read_text().strip()
    return dest / stamp, json.loads((dest / stamp / "manifest.json").read_text())


def test_incremental_run_copies_only_new_files(
    host: Path, alice: Account, mail: Callable[..., None], tmp_path: Path, settings: Any
) -> None:
    dest = backed_up(mail, tmp_path, 5)
    first_dir, first = run(dest)
    assert first["previous"] is None and first["stats"]["linked"] == 0
    assert sum(1 for f in first["files"] if "/new/" in f["path"]) == 5

    call_command("backup", str(dest), "--quiet")  # nothing changed
    second_dir, second = run(dest)
    assert second["stats"]["copied"] == 0
    assert second["previous"]["stamp"] == first["stamp"]
    assert second["chain"] == [first["stamp"]]
    assert (first_dir / first["database"]["file"]).is_file()  # each run keeps its dump
    one = next(f["path"] for f in second["files"] if "/new/" in f["path"])
    assert (second_dir / "files" / one).stat().st_ino == (first_dir / "files" / one).stat().st_ino

    mail(5, 6)
    flagged = Message.objects.filter(account=alice).order_by("uid").first()
    assert flagged is not None
    do_set_flags(acting_account=alice, messages=[flagged], add=["seen"])  # a rename new → cur
    call_command("backup", str(dest), "--quiet")
    _, third = run(dest)
    copied = sorted(f["path"] for f in third["files"] if f["copied_in"] == third["stamp"])
    new_mail = [p for p in copied if "/new/" in p or "/cur/" in p]
    inbox_new = Path(settings.MAIL_ROOT) / alice.storage_path / "Maildir" / "new"
    m5 = next(p.name for p in inbox_new.iterdir() if b"body 5" in p.read_bytes())
    assert len(new_mail) == 1 and new_mail[0].endswith(f"/new/{m5}")
    renamed = [f for f in third["files"] if "/cur/" in f["path"]]
    assert len(renamed) == 1 and renamed[0]["path"].endswith(":2,S")
    assert renamed[0]["copied_in"] == first["stamp"]  # linked by its name stem, not copied
    assert all(not p.startswith("mail/") or "/new/" in p or "uidlist" in p for p in copied)
    assert third["chain"] == [first["stamp"], second["stamp"]]
    call_command("restore", str(dest), "--verify-only")


def test_corrupt_backup_is_refused_before_anything_changes(
    host: Path, mail: Callable[..., None], tmp_path: Path
) -> None:
    dest = backed_up(mail, tmp_path, 3)
    run_dir, manifest = run(dest)
    victim = next(f["path"] for f in manifest["files"] if "/new/" in f["path"])
    path = run_dir / "files" / victim
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="corrupt") as err:
        call_command("restore", str(dest), "--force")
    assert victim in str(err.value)
    assert Message.objects.count() == 3  # untouched
    with pytest.raises(CommandError, match="corrupt"):
        call_command("restore", str(dest), "--verify-only")

    (run_dir / "manifest.json").write_text(
        (run_dir / "manifest.json")
        .read_text()
        .replace('"sqlite"', '"sqlitf"')
        .replace('"postgresql"', '"postgresqm"')
    )
    with pytest.raises(CommandError, match="manifest is corrupt"):
        call_command("restore", str(dest), "--force")
    with pytest.raises(CommandError, match="no backup here"):
        call_command("restore", str(tmp_path / "elsewhere"))


def test_non_empty_host_needs_force_and_keeps_what_was_there(
    host: Path, alice: Account, mail: Callable[..., None], tmp_path: Path, settings: Any
) -> None:
    dest = backed_up(mail, tmp_path, 3)
    mail(3, 4)  # the host moves on after the backup
    assert Message.objects.count() == 4
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(dest))
    assert Message.objects.count() == 4
    sqlite_name = Path(str(connection.settings_dict["NAME"]))
    kept_before = set(sqlite_name.parent.glob(f"{sqlite_name.name}.pre-restore-*"))
    call_command("restore", str(dest), "--force")
    assert sorted(Message.objects.values_list("subject", flat=True)) == ["m0", "m1", "m2"]
    mail_root = Path(settings.MAIL_ROOT)
    aside = [p for p in mail_root.parent.iterdir() if p.name.startswith("mail.pre-restore-")]
    assert len(aside) == 1  # the mail that was there, renamed, not deleted
    assert any("m3" in p.read_text() for p in aside[0].rglob("*,S=*"))
    if connection.vendor == "postgresql":
        assert len(list(host.glob("pre-restore-*.pgdump"))) == 1
    else:
        kept = set(sqlite_name.parent.glob(f"{sqlite_name.name}.pre-restore-*")) - kept_before
        assert len(kept) == 1
        for path in kept:
            path.unlink()  # beside the shared test database, not under tmp_path


def test_other_database_kind_is_refused(host: Path, alice: Account, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    call_command("backup", str(dest), "--quiet")
    run_dir, manifest = run(dest)
    manifest["database"]["kind"] = "sqlite" if connection.vendor == "postgresql" else "postgresql"
    data = json.dumps(manifest).encode()
    (run_dir / "manifest.json").write_bytes(data)
    (run_dir / "manifest.sha256").write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(CommandError, match="same kind"):
        call_command("restore", str(dest), "--force")


def test_hostile_manifest_a_second_backup_and_restore_under_running_services_are_refused(
    host: Path, mail: Callable[..., None], tmp_path: Path
) -> None:
    dest = backed_up(mail, tmp_path, 1)
    run_dir, manifest = run(dest)
    manifest["files"][0]["path"] = "mail/../../../../etc/passwd"
    data = json.dumps(manifest).encode()
    (run_dir / "manifest.json").write_bytes(data)
    (run_dir / "manifest.sha256").write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(CommandError, match="outside the backup"):
        call_command("restore", str(run_dir), "--force")
    fd = os.open(dest / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a backup of cron still running
        with pytest.raises(CommandError, match="another backup is running"):
            call_command("backup", str(dest), "--quiet")
    finally:
        os.close(fd)
    call_command("backup", str(dest), "--quiet")  # a sound run again
    now = timezone.now()
    DeliveryWorker.objects.create(
        name="mx:1:a", host="mx", pid=1, started_at=now, heartbeat_at=now
    )  # services still running here
    with pytest.raises(CommandError, match="stop its services first"):
        call_command("restore", str(dest), "--force")


def test_entry_delivered_between_snapshot_and_copy_is_restored_once_and_done(
    host: Path, alice: Account, smtp_server: tuple[str, int], deliver_all: Any, tmp_path: Path
) -> None:
    send(smtp_server, 1)  # queued: in the snapshot with its spool file
    send(smtp_server, 2)

    def between(line: str) -> None:
        if line.startswith("database dumped"):
            assert deliver_all() == ["done", "done"]  # delivered, spool files removed

    manifest = run_backup(tmp_path / "backup", log=between)
    assert len(manifest["queue"]["finished_after_snapshot"]) == 2
    call_command("restore", str(tmp_path / "backup"), "--force")
    assert set(QueueEntry.objects.values_list("state", flat=True)) == {"done"}
    assert deliver_all() == []
    subjects = sorted(
        Message.objects.filter(account__address=alice.address).values_list("subject", flat=True)
    )
    assert subjects == ["m1", "m2"]  # from the Maildir copy (reindex), once each
