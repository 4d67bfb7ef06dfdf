"""`manage.py import_maildir PATH --account ADDR`: a Maildir tree (Dovecot, Courier, mutt)
with its folders, flags and, where the old server kept them, UIDs and UIDVALIDITY."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from mailcore.errors import MailcoreError
from mailcore.importers.apply import import_maildir
from mailcore.importers.command import ImportCommand
from mailcore.importers.maildir_tree import find_root


class Command(ImportCommand):
    help = (
        "Import a Maildir tree (Maildir++ '.Folder.Sub' or Dovecot LAYOUT=fs 'Folder/Sub'): "
        "folders, ':2,' flags and dovecot-keywords, and the dovecot-uidlist UIDs and "
        "UIDVALIDITY for folders that are new here, so IMAP clients need not resync. "
        "Re-running it stores nothing twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("path", help="the Maildir, or the home directory holding Maildir/")
        parser.add_argument("--account", required=True, help="the account (it must exist)")
        parser.add_argument("--layout", choices=("auto", "maildir++", "fs"), default="auto")
        self.add_message_arguments(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        account = self.account(opts["account"])
        root = find_root(Path(opts["path"]))
        if root is None:
            raise CommandError(f"{opts['path']} is not a Maildir (no cur/ or new/ found)")
        bar = tqdm(
            desc=account.address,
            unit="msg",
            disable=opts["no_progress"],
            file=self.stderr._out,
        )
        try:
            report = import_maildir(
                account,
                root,
                layout=opts["layout"],
                max_message_bytes=opts["max_size"],
                dry_run=opts["dry_run"],
                progress=bar.update,
                on_total=lambda n: setattr(bar, "total", n),
            )
        except MailcoreError as exc:
            raise CommandError(f"{exc}; nothing after this point was imported") from exc
        finally:
            bar.close()
        self.finish(report, opts)
