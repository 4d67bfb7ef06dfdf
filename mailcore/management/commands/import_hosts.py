"""`manage.py import_hosts FILE`: sendmail's local-host-names (or a mydestination list, or
Postfix's main.cf) → local domains."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from mailcore.importers.apply import import_hosts
from mailcore.importers.command import ImportCommand
from mailcore.importers.hosts import parse_local_host_names


class Command(ImportCommand):
    help = (
        "Import /etc/mail/local-host-names (one or more names a line; Postfix mydestination "
        "or virtual_mailbox_domains lists work too), or Postfix's main.cf (its mydestination, "
        "$myhostname and $mydomain expanded): each name becomes a local domain. localhost "
        "and address literals are reported, not imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        self.add_directory_arguments(parser)
        parser.add_argument("file")

    def handle(self, *args: Any, **opts: Any) -> None:
        names, skips, bad = parse_local_host_names(self.read_file(opts["file"]))
        report = import_hosts(
            names, skips, bad, dry_run=opts["dry_run"], skip_errors=opts["skip_errors"]
        )
        self.finish(report, opts)
