"""`manage.py backup` during a delivery load (real SMTP into the in-process listener, the
delivery pipeline in a thread, flag changes on another), then the database and every file
wiped, `manage.py restore`, and every account, alias, domain, DKIM key, folder, message, flag,
keyword, UID and UIDVALIDITY found back (through the store's rows and an IMAP UID FETCH).
Runs on the suite's database: PostgreSQL with DATABASE_URL set, SQLite without."""

from __future__ import annotations

import imaplib
import json
import re
import shutil
import smtplib
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from mailcore.delivery.dkim import do_generate_dkim_key
from mailcore.delivery.models import DkimKey, QueueEntry, QueueRecipient
from mailcore.directory.actions import do_add_alias, do_create_account, do_create_domain
from mailcore.directory.models import Account, Alias, Domain
from mailcore.store.actions import do_create_folder, do_move, do_set_flags
from mailcore.store.maildir import key_stem, split_filename
from mailcore.store.models import Folder, Message
from tests.conftest import run_queue
from tests.listening import tls_context

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse 1"
SEED = 30  # messages per account before the load
LOAD = 150  # messages sent over SMTP while the backup runs


def message(n: int, to: str, tag: str) -> bytes:
    return (
        f"From: sender{n}@remote.example\r\nTo: {to}\r\nSubject: {tag} {n}\r\n"
        f"Message-ID: <{tag}-{n}@remote.example>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
        f"\r\nbody of {tag} {n}\r\n" + "line of text\r\n" * (n % 40)
    ).encode()


@pytest.fixture
def host(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A MAILROOM_VAR of this test's own, with a secret key, TLS files and a .env."""
    var = tmp_path / "var"
    (var / "tls").mkdir(parents=True, mode=0o700)
    (var / "secret_key").write_text("the-old-hosts-secret-key")
    (var / "secret_key").chmod(0o600)
    # The listeners' certificate, moved under this var (inside var/tls: copied once).
    (var / "tls" / "key.pem").write_bytes(Path(settings.TLS_KEY_FILE).read_bytes())
    (var / "tls" / "cert.pem").write_bytes(Path(settings.TLS_CERT_FILE).read_bytes())
    settings.VAR_DIR = var
    settings.UPLOAD_DIR = var / "uploads"
    settings.TLS_CERT_FILE = var / "tls" / "cert.pem"
    settings.TLS_KEY_FILE = var / "tls" / "key.pem"
    env = tmp_path / "mailroom.env"
    env.write_text("MAIL_HOSTNAME=mx.test\n")
    monkeypatch.setenv("MAILROOM_ENV_FILE", str(env))
    return var


def mail_state() -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every message: (account, key stem) -> folder, UIDVALIDITY, UID, flags, keywords, id."""
    return {
        (m.account.address, key_stem(m.maildir_key)): (
            m.folder.name,
            m.folder.uidvalidity,
            m.uid,
            (m.seen, m.answered, m.flagged, m.deleted, m.draft),
            tuple(sorted(m.keywords)),
            m.message_id,
        )
        for m in Message.objects.select_related("account", "folder")
    }


def directory_state() -> dict[str, Any]:
    return {
        "domains": sorted(Domain.objects.values_list("name", flat=True)),
        "accounts": sorted(Account.objects.values_list("address", "password")),
        "aliases": sorted((a.source, tuple(a.targets)) for a in Alias.objects.all()),
        "dkim": sorted(
            DkimKey.objects.values_list("domain", "selector", "algorithm", "state", "private_key")
        ),
        "folders": sorted(
            Folder.objects.values_list("account__address", "name", "uidvalidity", "special_use")
        ),
    }


def wipe(var: Path, settings: Any) -> None:  # type: ignore[no-untyped-def]
    """A fresh host: no tables, no files."""
    for conn in connections.all():
        conn.close()
    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm")):
            path.unlink(missing_ok=True)
    else:
        with connection.cursor() as cur:
            tables = connection.introspection.table_names()
            cur.execute(
                "DROP TABLE " + ", ".join(connection.ops.quote_name(t) for t in tables) + " CASCADE"
            )
    for path in (Path(settings.MAIL_ROOT), Path(settings.SPOOL_DIR), var):
        shutil.rmtree(path, ignore_errors=True)
    assert connection.introspection.table_names() == []


def seed() -> tuple[Account, Account]:
    """Accounts, an alias, a DKIM key, and messages with flags, keywords and a moved one."""
    do_create_domain("example.com")
    alice = do_create_account("alice@example.com", password=PASSWORD)
    bob = do_create_account("bob@example.com", password=PASSWORD)
    do_add_alias("postmaster@example.com", ["alice@example.com"])
    do_add_alias("team@example.com", ["alice@example.com", "bob@example.com"])
    do_generate_dkim_key("example.com", selector="mr2026")
    return alice, bob


@pytest.fixture
def load(smtp_server: tuple[str, int]) -> Iterator[dict[str, Any]]:
    """Sends LOAD messages over SMTP (alternately to alice, bob and the team alias), delivers
    them in a second thread as the worker would, and churns bob's flags in a third. Records
    when each 250 came back."""
    stop = threading.Event()
    state: dict[str, Any] = {"accepted": {}, "errors": []}

    def send() -> None:
        try:
            with smtplib.SMTP(*smtp_server, timeout=30) as client:
                for n in range(LOAD):
                    to = ("alice@example.com", "bob@example.com", "team@example.com")[n % 3]
                    client.sendmail(f"sender{n}@remote.example", [to], message(n, to, "load"))
                    state["accepted"][f"load-{n}@remote.example"] = (time.time(), to)
        except Exception as exc:
            state["errors"].append(f"send: {exc!r}")
        finally:
            connections.close_all()

    def deliver() -> None:
        try:
            while not stop.is_set():
                if not run_queue():
                    time.sleep(0.05)
            while run_queue():
                pass
        except Exception as exc:
            state["errors"].append(f"deliver: {exc!r}")
        finally:
            connections.close_all()

    def churn() -> None:
        try:
            bob = Account.objects.get(address="bob@example.com")
            seeded = list(Message.objects.filter(account=bob, subject__startswith="seed"))
            i = 0
            while not stop.is_set():
                m = Message.objects.get(pk=seeded[i % len(seeded)].pk)
                op = {"add": ["flagged"]} if not m.flagged else {"remove": ["flagged"]}
                do_set_flags(acting_account=bob, messages=[m], **op)
                i += 1
        except Exception as exc:
            state["errors"].append(f"churn: {exc!r}")
        finally:
            connections.close_all()

    threads = {
        name: threading.Thread(target=fn)
        for name, fn in (("send", send), ("deliver", deliver), ("churn", churn))
    }

    def start() -> None:
        for t in threads.values():
            t.start()

    state["start"] = start

    def finish() -> None:
        threads["send"].join(120)
        stop.set()
        for t in threads.values():
            t.join(120)

    state["finish"] = finish
    yield state
    stop.set()


def test_backup_during_load_restores_everything(
    host, settings, load, smtp_server, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = seed()
    with smtplib.SMTP(*smtp_server, timeout=30) as client:
        for account in (alice, bob):
            for n in range(SEED):
                raw = message(n, account.address, f"seed-{account.local_part}")
                client.sendmail("x@remote.example", [account.address], raw)
    while run_queue():
        pass
    archive = do_create_folder(acting_account=alice, name="Archive")
    inbox = list(Message.objects.filter(account=alice).order_by("uid"))
    do_set_flags(acting_account=alice, messages=inbox[:10], add=["seen"])
    do_set_flags(acting_account=alice, messages=inbox[5:8], add=["flagged", "answered"])
    do_set_flags(acting_account=alice, messages=inbox[8:12], add_keywords=["$label1", "work"])
    do_move(acting_account=alice, messages=inbox[20:25], destination=archive)
    before = mail_state()
    directory_before = directory_state()
    assert len(before) == 2 * SEED

    load["start"]()
    while len(load["accepted"]) < LOAD // 3 and not load["errors"]:
        time.sleep(0.05)
    dest = tmp_path / "backups"
    call_command("backup", str(dest), "--quiet")
    load["finish"]()
    assert load["errors"] == []
    after = mail_state()  # the host as the load left it
    run_dir = dest / (dest / "LATEST").read_text().strip()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    snapshot_at = datetime.fromisoformat(manifest["snapshot_at"]).timestamp()
    assert manifest["database"]["kind"] == connection.vendor
    paths = {f["path"] for f in manifest["files"]}
    assert {"var/secret_key", "var/tls/key.pem", "var/tls/cert.pem", "config/env"} <= paths
    copied_stems = {
        split_filename(p.rpartition("/")[2])[0].split(",")[0]
        for p in paths
        if p.startswith("mail/") and re.search(r"/(new|cur)/", p)
    }
    # Some mail was accepted after the snapshot: the backup really ran during the load.
    assert any(t > snapshot_at for t, _ in load["accepted"].values())

    tls_key = (host / "tls" / "key.pem").read_bytes()
    wipe(host, settings)
    call_command("restore", str(dest))

    assert directory_state() == directory_before
    restored = mail_state()
    # Every message of before the backup: back with folder, UIDVALIDITY, UID, flags, keywords
    # (bob's seeded flags churned during the copy: their \Flagged is whichever was copied).
    for key, want in before.items():
        got = restored[key]
        if key[0] == "bob@example.com":
            assert got[:3] == want[:3] and got[4:] == want[4:], key
        else:
            assert got == want, key
    # Every message whose file the backup copied is back as the load left it (UID included).
    for key, want in after.items():
        if key[1].split(",")[0] in copied_stems:
            assert restored[key][:3] == want[:3], key
    # Every message accepted before the snapshot reaches its mailbox exactly once: delivered
    # already, or back in the queue with its spool file; nothing later is doubled either.
    while run_queue():
        pass
    counts: dict[tuple[str, str], int] = {}
    for address, message_id in Message.objects.values_list("account__address", "message_id"):
        counts[(address, message_id)] = counts.get((address, message_id), 0) + 1
    assert max(counts.values()) == 1
    for message_id, (accepted_at, to) in load["accepted"].items():
        rcpts = ["alice@example.com", "bob@example.com"] if to.startswith("team") else [to]
        if accepted_at < snapshot_at:
            for rcpt in rcpts:
                assert counts.get((rcpt, message_id)) == 1, (message_id, rcpt)
    stuck = list(
        QueueEntry.objects.exclude(state="done").values(
            "queue_id", "state", "attempts", "next_attempt_at", "locked_until", "last_error"
        )
    )
    assert not stuck, (
        [(e["queue_id"], e["attempts"], e["last_error"]) for e in stuck],
        list(
            QueueRecipient.objects.filter(
                entry__queue_id__in=[e["queue_id"] for e in stuck]
            ).values("address", "state", "last_reply")
        ),
    )
    # Keys and secrets are back, private ones 0600.
    assert (host / "secret_key").read_text() == "the-old-hosts-secret-key"
    assert (host / "tls" / "key.pem").read_bytes() == tls_key
    assert (host / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    maildir = Path(settings.MAIL_ROOT) / "example.com" / "alice" / "Maildir"
    assert maildir.stat().st_mode & 0o777 == 0o700
    assert (maildir / ".Archive" / "tmp").is_dir()
    # An IMAP client sees the same UIDs, UIDVALIDITY and flags.
    imap_check(before)


def imap_check(before: dict[tuple[str, str], tuple[Any, ...]]) -> None:
    from tests.imap.conftest import start_server

    server = start_server()
    try:
        client = imaplib.IMAP4_SSL("127.0.0.1", server.ports["imaps"], ssl_context=tls_context())
        client.login("alice@example.com", PASSWORD)
        for folder in ("INBOX", "Archive"):
            want = {
                v[2]: v
                for (addr, _), v in before.items()
                if addr == "alice@example.com" and v[0] == folder
            }
            typ, _ = client.select(folder, readonly=True)
            assert typ == "OK"
            uidvalidity = int(client.response("UIDVALIDITY")[1][0])
            assert {v[1] for v in want.values()} == {uidvalidity}
            typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
            got = {}
            for line in data:
                raw = line.decode() if isinstance(line, bytes) else line[0].decode()
                m = re.search(r"UID (\d+) FLAGS \(([^)]*)\)", raw)
                if m:
                    got[int(m.group(1))] = set(m.group(2).split())
            for uid, v in want.items():
                seen, answered, flagged = v[3][0], v[3][1], v[3][2]
                flags = got[uid]
                assert ("\\Seen" in flags) == seen and ("\\Answered" in flags) == answered
                assert ("\\Flagged" in flags) == flagged
                assert set(v[4]) <= flags
        client.logout()
    finally:
        server.stop()
