"""`manage.py import_mynetworks VALUE-or-FILE`: Postfix mynetworks → RELAY rules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from mailcore.importers.access import parse_mynetworks
from mailcore.importers.apply import import_access
from mailcore.importers.command import ImportCommand, reader_relative_to
from mailcore.importers.textmap import MAX_MAP_BYTES


class Command(ImportCommand):
    help = (
        "Import Postfix mynetworks: a value ('127.0.0.0/8 [::1]/128 192.0.2.0/24'), a file "
        "listing networks, or main.cf itself (its mynetworks line is used). Each network may "
        "relay; '!network' becomes an OK rule (no relaying)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        self.add_directory_arguments(parser)
        parser.add_argument("value", help="the networks, or a file holding them / main.cf")
        parser.add_argument(
            "--force",
            action="store_true",
            help="allow networks wider than /24 (IPv4) or /56 (IPv6); loopback needs none",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        value: str = opts["value"]
        is_file = os.path.isfile(value)
        if not is_file and value.startswith(("/", "./", "~")) and not value.split()[1:]:
            raise CommandError(f"cannot read {value}: no such file")
        data = self.read_file(value) if is_file else value.encode()
        records, skips = parse_mynetworks(
            data, read_file=reader_relative_to(Path.cwd(), MAX_MAP_BYTES)
        )
        report = import_access(
            records,
            skips,
            [],
            force=opts["force"],
            dry_run=opts["dry_run"],
            origin=os.path.basename(value) if is_file else "mynetworks",
            skip_errors=opts["skip_errors"],
        )
        self.finish(report, opts)
