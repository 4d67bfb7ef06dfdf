"""`manage.py backup DEST`: a consistent backup of this host while mail flows (the database
from one snapshot, then the Maildir files, the live spool, uploads, secret key and TLS
material), incremental against DEST's newest run. The work is in mailcore.backup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.backup import BackupError, describe, run_backup


class Command(BaseCommand):
    help = "Back up the database, Maildir, spool, keys and settings into DEST (incremental)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dest", help="backup directory (created; later runs are incremental)")
        parser.add_argument("--quiet", action="store_true", help="print only errors")

    def handle(self, *args: Any, **opts: Any) -> None:
        quiet = opts["quiet"]
        started = time.monotonic()
        try:
            manifest = run_backup(
                Path(opts["dest"]).absolute(),
                log=(lambda _m: None) if quiet else self.stdout.write,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:  # a full disk, a permission: this run is removed, older ones stay
            raise CommandError(f"backup failed, nothing of this run was kept: {exc}") from exc
        if not quiet:
            self.stdout.write(f"{describe(manifest)} in {time.monotonic() - started:.1f} s")
            gone = manifest["queue"]["finished_after_snapshot"]
            if gone:
                self.stdout.write(f"{len(gone)} queue entries finished during the backup")
