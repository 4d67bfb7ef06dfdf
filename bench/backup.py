#!/usr/bin/env python
"""Time and size of `manage.py backup` (a full run, an unchanged re-run, an incremental run
after new mail and flag changes) and of `manage.py restore` onto a wiped host, for --messages
messages over --accounts accounts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
        .venv/bin/python bench/backup.py --messages 5000 --var /tmp/backup-bench

Uses a MAILROOM_VAR of its own (--var, emptied first) and DATABASE_URL (SQLite under --var
without it). The database must hold no mail (it is wiped before the restore): give it one of
its own. Each command runs as a child process (`manage.py backup/restore`), as cron would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def body(n: int) -> bytes:
    return (
        f"From: sender{n}@bench.example\r\nTo: user@backupbench.test\r\nSubject: bench {n}\r\n"
        f"Message-ID: <bench-{n}@bench.example>\r\n\r\n"
    ).encode() + (f"line {n} of a message body of some length\r\n" * (20 + n % 200)).encode()


def tree_bytes(path: Path) -> tuple[int, int]:
    """(bytes, files) of the distinct inodes under `path` (hard links counted once)."""
    seen: set[int] = set()
    total = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_size
                files += 1
    return total, files


def timed(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True)
    return time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--accounts", type=int, default=5)
    ap.add_argument("--var", type=Path, default=Path("/tmp/mailroom-backup-bench"))
    args = ap.parse_args()
    var = args.var.absolute()
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    os.environ["MAILROOM_VAR"] = str(var / "host")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from mailcore.backup import target_state
    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.store.actions import do_append, do_set_flags
    from mailcore.store.models import Folder, Message
    from mailcore.store.reindex import reindex_account

    call_command("migrate", verbosity=0)
    if target_state():
        sys.exit(f"the database holds data ({'; '.join(target_state())}): give me an empty one")
    do_create_domain("backupbench.test")
    accounts = [
        do_create_account(f"user{i}@backupbench.test", password="bench password 1")
        for i in range(args.accounts)
    ]
    started = time.monotonic()
    # Filled as a migration from another server would be: Maildir files dropped in, then
    # `reindex` (one do_append per message costs an fsync and a commit each: hours here).
    for n in range(args.messages):
        account = accounts[n % len(accounts)]
        cur = Path(settings.MAIL_ROOT) / account.storage_path / "Maildir" / "cur"
        data = body(n).replace(b"\r\n", b"\n")
        wire = len(body(n))
        name = f"{1700000000 + n}.M{n}P1.bench,S={len(data)},W={wire}:2,{'S' if n % 3 else ''}"
        (cur / name).write_bytes(data)
    for account in accounts:
        reindex_account(account)
    fill = time.monotonic() - started
    dest = var / "backups"
    full = timed(["backup", str(dest), "--quiet"])
    first = (dest / "LATEST").read_text().strip()
    full_bytes, full_files = tree_bytes(dest / first)
    same = timed(["backup", str(dest), "--quiet"])
    for n in range(args.messages, args.messages + 100):
        account = accounts[n % len(accounts)]
        do_append(
            acting_account=account,
            folder=Folder.objects.get(account=account, path=""),
            data=body(n),
        )
    for account in accounts:
        rows = list(Message.objects.filter(account=account, seen=False)[:40])
        do_set_flags(acting_account=account, messages=rows, add=["flagged"])
    incr = timed(["backup", str(dest), "--quiet"])
    total_bytes, _ = tree_bytes(dest)
    count = Message.objects.count()
    connection.close()
    with connection.cursor() as cur:  # a fresh host: no tables, no files
        tables = connection.introspection.table_names()
        if connection.vendor == "sqlite":
            connection.close()
            Path(str(connection.settings_dict["NAME"])).unlink()
        else:
            names = ", ".join(connection.ops.quote_name(t) for t in tables)
            cur.execute(f"DROP TABLE {names} CASCADE")
    connection.close()
    shutil.rmtree(var / "host")
    restore = timed(["restore", str(dest)])
    restored = Message.objects.count()
    print(
        f"\n{connection.vendor}: {args.messages} messages over {args.accounts} accounts "
        f"(filled and indexed in {fill:.1f} s)\n"
        f"  full backup          {full:6.1f} s   {full_bytes / 1e6:7.1f} MB in {full_files} files\n"
        f"  unchanged re-run     {same:6.1f} s\n"
        f"  +100 mail, 200 flags {incr:6.1f} s   (all runs together: {total_bytes / 1e6:.1f} MB)\n"
        f"  restore (wiped host) {restore:6.1f} s   {restored} of {count} messages back"
    )
    if restored != count:
        sys.exit("restore lost messages")


if __name__ == "__main__":
    main()
