"""`manage.py import_mbox FILE --account ADDR [--folder NAME]`: an mbox file (/var/mail/<user>,
~/mail/<folder>) into one folder of an account, streamed, with a progress bar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from mailcore.errors import MailcoreError
from mailcore.importers.apply import import_mbox
from mailcore.importers.command import ImportCommand
from mailcore.importers.report import Report


class Command(ImportCommand):
    help = (
        "Import an mbox file into a folder (INBOX by default). Flags come from Status:/"
        "X-Status:, UIDs from X-UID/X-IMAPbase when the folder is new. Re-running it stores "
        "nothing twice. A directory imports each mbox file in it as a folder of that name."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file", help="an mbox file, or a directory of them (Dovecot ~/mail)")
        parser.add_argument("--account", required=True, help="the account (it must exist)")
        parser.add_argument("--folder", default=None, help="target folder (default INBOX)")
        parser.add_argument(
            "--format",
            choices=("mboxrd", "mboxo"),
            default="mboxrd",
            help="how '>From ' lines were quoted (default mboxrd; mboxo undoes only '>From ')",
        )
        parser.add_argument(
            "--skip-deleted",
            action="store_true",
            help="leave out messages marked deleted (X-Status: D) instead of keeping \\Deleted",
        )
        self.add_message_arguments(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        account = self.account(opts["account"])
        path = Path(opts["file"])
        if path.is_dir():
            files = _mbox_files(path)
            if not files:
                raise CommandError(f"{path} holds no mbox files")
            if opts["folder"]:
                raise CommandError("--folder goes with a single file, not a directory")
        elif path.is_file():
            files = [(path, opts["folder"] or "INBOX")]
        else:
            raise CommandError(f"cannot read {path}: no such file")
        report = Report()
        for file, folder in files:
            # Names taken from file names are made acceptable; a name typed in is not changed.
            part = self._one(account, file, folder, opts, rename=path.is_dir())
            for entry in part.entries:
                where = f"{file.name}: {entry.where}" if len(files) > 1 else entry.where
                report.add(entry.outcome, entry.what, where=where, reason=entry.reason)
            for outcome, n in part.counts.items():
                kept = sum(1 for e in part.entries if e.outcome == outcome)
                report.counts[outcome] += n - kept
            for note in part.notes:
                report.note(note)
        self.finish(report, opts)

    def _one(
        self, account: Any, file: Path, folder: str, opts: dict[str, Any], *, rename: bool
    ) -> Report:
        try:
            fh = open(file, "rb")  # noqa: SIM115 - closed below, streamed
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from exc
        with fh:
            bar = tqdm(
                total=os.fstat(fh.fileno()).st_size,
                desc=f"{file.name} → {folder}",
                unit="B",
                unit_scale=True,
                disable=opts["no_progress"],
                file=self.stderr._out,
            )
            try:
                return import_mbox(
                    account,
                    fh,
                    folder_name=folder,
                    rename_folder=rename,
                    quoting=opts["format"],
                    skip_deleted=opts["skip_deleted"],
                    max_message_bytes=opts["max_size"],
                    dry_run=opts["dry_run"],
                    progress=bar.update,
                )
            except MailcoreError as exc:
                raise CommandError(f"{file}: {exc}; nothing after this point was imported") from exc
            finally:
                bar.close()


_NOT_MBOX = {".subscriptions", "subscriptions", ".mailboxlist"}


def _mbox_files(root: Path) -> list[tuple[Path, str]]:
    """Dovecot/UW-IMAP mbox layout: ~/mail/Sent, ~/mail/Work/Project → folder names; the
    index directories (.imap) and dot files are not mail."""
    out: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if name.startswith((".", "dovecot")) or name in _NOT_MBOX or file.is_symlink():
                continue
            rel = file.relative_to(root).as_posix()
            out.append((file, "INBOX" if rel.upper() == "INBOX" else rel))
    return out
