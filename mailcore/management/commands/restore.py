"""`manage.py restore SRC`: bring a fresh host (empty database and MAILROOM_VAR) to the state
of a backup made by `manage.py backup`: checksums first, then the database, the files, and a
reindex that reconciles the index with the Maildir files. The work is in mailcore.backup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.backup import BackupError, resolve_run, run_restore, verify


class Command(BaseCommand):
    help = "Restore a backup (a backup directory's newest run, or one run directory)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("src", help="backup directory, or one run directory in it")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore over a host that is not empty (its database is saved to "
            "MAILROOM_VAR/pre-restore-*.pgdump or beside the SQLite file, its mail, spool "
            "and uploads renamed to *.pre-restore-*)",
        )
        parser.add_argument(
            "--verify-only", action="store_true", help="check the checksums and stop"
        )
        parser.add_argument(
            "--no-reindex",
            action="store_true",
            help="skip the reconciliation of the index with the Maildir files",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        src = Path(opts["src"]).absolute()
        started = time.monotonic()
        try:
            if opts["verify_only"]:
                run_dir = resolve_run(src)
                manifest = verify(run_dir)
                self.stdout.write(
                    f"{run_dir}: {len(manifest['files'])} files and the database match "
                    "their checksums"
                )
                return
            report = run_restore(
                src, force=opts["force"], reindex=not opts["no_reindex"], log=self.stdout.write
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"restore failed: {exc}") from exc
        for path in report.moved_aside:
            self.stdout.write(f"kept what was here: {path}")
        if report.recreated_accounts:
            self.stdout.write(
                "accounts created after the snapshot, recreated from their Maildir without a "
                f"password (set one with `account passwd`): {', '.join(report.recreated_accounts)}"
            )
        self.stdout.write(
            f"restored {report.stamp}: {report.database} database, {report.files} files "
            f"({report.bytes} bytes), {report.accounts} accounts, {report.messages} messages, "
            f"{report.finished_after_snapshot} queue entries finished after the snapshot; "
            f"in {time.monotonic() - started:.1f} s"
        )
