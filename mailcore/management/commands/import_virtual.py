"""`manage.py import_virtual FILE`: a Postfix virtual alias map (virtual(5) text, not .db)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from mailcore.errors import MailcoreError
from mailcore.importers.apply import alias_domains, import_virtual
from mailcore.importers.command import ImportCommand
from mailcore.importers.virtual import parse_virtual


class Command(ImportCommand):
    help = (
        "Import a Postfix virtual alias map: 'domain anything' lines become local domains, "
        "'user@domain targets' and '@domain target' (catch-all) become aliases. Bare names "
        "need --domain or --all-domains; '@a @b' domain rewrites are reported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        self.add_directory_arguments(parser)
        self.add_dangling_argument(parser)
        parser.add_argument("file")
        parser.add_argument("--domain", action="append", default=[], help="for bare names")
        parser.add_argument("--all-domains", action="store_true", help="bare names: every domain")

    def handle(self, *args: Any, **opts: Any) -> None:
        domains, aliases, skips, bad = parse_virtual(self.read_file(opts["file"]))
        bare: list[str] = []
        if opts["domain"] or opts["all_domains"]:
            try:
                bare = alias_domains(opts["domain"], all_domains=opts["all_domains"])
            except MailcoreError as exc:
                raise CommandError(str(exc)) from exc
        report = import_virtual(
            domains,
            aliases,
            skips,
            bad,
            bare_domains=bare,
            dry_run=opts["dry_run"],
            skip_errors=opts["skip_errors"],
            allow_dangling=opts["allow_dangling"],
        )
        self.finish(report, opts)
