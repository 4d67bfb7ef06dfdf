"""`manage.py import_access FILE`: sendmail's /etc/mail/access (the text, not access.db)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from mailcore.importers.access import parse_access
from mailcore.importers.apply import import_access
from mailcore.importers.command import ImportCommand


class Command(ImportCommand):
    help = (
        "Import a sendmail access file: Connect:/bare addresses and networks, From: and To: "
        "domains, with RELAY, OK, REJECT, DISCARD or ERROR:… (imported as REJECT, its text "
        "kept as the comment). What does not map is reported with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        self.add_directory_arguments(parser)
        parser.add_argument("file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="allow client networks wider than /24 (IPv4) or /56 (IPv6)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        records, skips, bad = parse_access(self.read_file(opts["file"]))
        report = import_access(
            records,
            skips,
            bad,
            force=opts["force"],
            dry_run=opts["dry_run"],
            origin=Path(opts["file"]).name,
            skip_errors=opts["skip_errors"],
        )
        self.finish(report, opts)
