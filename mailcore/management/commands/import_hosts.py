"""`manage.py import_hosts FILE`: sendmail's local-host-names (or a mydestination list) →
local domains."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from mailcore.importers.apply import import_hosts
from mailcore.importers.command import ImportCommand
from mailcore.importers.hosts import parse_local_host_names


class Command(ImportCommand):
    help = (
        "Import /etc/mail/local-host-names (one or more names a line; Postfix mydestination "
        "or virtual_mailbox_domains lists work too): each name becomes a local domain. "
        "localhost and address literals are reported, not imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("file")

    def handle(self, *args: Any, **opts: Any) -> None:
        names, skips, bad = parse_local_host_names(self.read_file(opts["file"]))
        self.finish(import_hosts(names, skips, bad, dry_run=opts["dry_run"]), opts)
