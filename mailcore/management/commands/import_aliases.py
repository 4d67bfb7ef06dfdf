"""`manage.py import_aliases FILE`: /etc/aliases (sendmail or Postfix) into the alias table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from mailcore.errors import MailcoreError
from mailcore.importers.aliases import MAX_INCLUDE_BYTES, parse_aliases
from mailcore.importers.apply import alias_domains, import_aliases
from mailcore.importers.command import ImportCommand, reader_relative_to


class Command(ImportCommand):
    help = (
        "Import an aliases file (comments, continuation lines, several targets, :include: "
        "files). |program and /file targets are reported, not imported. Bare names (root) "
        "become aliases in the --domain domains (default: the only local domain)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        self.add_directory_arguments(parser)
        self.add_dangling_argument(parser)
        parser.add_argument("file")
        parser.add_argument(
            "--domain",
            action="append",
            default=[],
            help="create the aliases in this local domain (repeatable)",
        )
        parser.add_argument(
            "--all-domains",
            action="store_true",
            help="create them in every local domain, as sendmail applies /etc/aliases",
        )
        parser.add_argument(
            "--target-domain",
            default=None,
            help="domain for bare target names (default: the alias's own domain)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        data = self.read_file(opts["file"])
        try:
            domains = alias_domains(opts["domain"], all_domains=opts["all_domains"])
            target_domain = None
            if opts["target_domain"]:
                target_domain = alias_domains([opts["target_domain"]], all_domains=False)[0]
        except MailcoreError as exc:
            raise CommandError(str(exc)) from exc
        base = Path(opts["file"]).resolve().parent
        entries, bad = parse_aliases(data, read_include=reader_relative_to(base, MAX_INCLUDE_BYTES))
        report = import_aliases(
            entries,
            bad,
            domains=domains,
            target_domain=target_domain,
            dry_run=opts["dry_run"],
            skip_errors=opts["skip_errors"],
            allow_dangling=opts["allow_dangling"],
        )
        self.finish(report, opts)
