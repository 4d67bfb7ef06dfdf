"""The shared part of the `import_*` management commands: --dry-run, reading the input file
with a size limit, and printing the report (exit status 1 when it has errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError
from mailcore.importers.report import Report, format_report
from mailcore.importers.textmap import MAX_MAP_BYTES
from mailcore.management.commands._base import audit_cli

DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024 * 1024


class ImportCommand(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would be imported; write nothing",
        )

    def add_directory_arguments(self, parser: CommandParser) -> None:
        """--skip-errors, shared by the importers of the directory (domains, aliases, rules)."""
        parser.add_argument(
            "--skip-errors",
            action="store_true",
            help="import what can be imported even when some lines have errors "
            "(default: a run with errors writes nothing)",
        )

    def add_dangling_argument(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-dangling",
            action="store_true",
            help="accept local targets that are neither an account nor an alias yet "
            "(until they exist, mail to them bounces, and postmaster@ mail waits in the "
            "queue; default: an error)",
        )

    def add_message_arguments(self, parser: CommandParser) -> None:
        """--max-size and --no-progress, shared by the importers of messages (Maildir, mbox)."""
        parser.add_argument(
            "--max-size",
            type=int,
            default=DEFAULT_MAX_MESSAGE_BYTES,
            help="larger messages are reported and left out (default 100 MiB)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def read_file(self, path: str, limit: int = MAX_MAP_BYTES) -> bytes:
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(data) > limit:
            raise CommandError(f"{path} is larger than {limit} bytes; is it the right file?")
        return data

    def account(self, address: str) -> Account:
        try:
            return Account.objects.get(address=canonical_address(address))
        except (Account.DoesNotExist, InvalidAddressError) as exc:
            raise CommandError(f"no account {address}; create it first (account add)") from exc

    def finish(self, report: Report, opts: dict[str, Any]) -> None:
        verbose = int(opts.get("verbosity", 1)) >= 1
        for line in format_report(report, dry_run=opts["dry_run"], verbose=verbose):
            self.stdout.write(line)
        if not opts["dry_run"] and not report.discarded:
            # One audit row per run, with the report's totals: the console shows who imported
            # what, and when, beside the changes made in it.
            kind = type(self).__module__.rpartition(".")[2].removeprefix("import_")
            source = str(opts.get("file") or opts.get("path") or opts.get("value") or "")
            audit_cli(
                f"import.{kind}",
                source[:200],
                domain="",
                account=str(opts.get("account") or ""),
                **dict(sorted(report.counts.items())),
            )
        if report.discarded:
            raise CommandError(
                f"{report.errors} error(s), so nothing was written; see above "
                "(fix them, or run again with --skip-errors to import the rest)"
            )
        if report.errors:
            raise CommandError(f"{report.errors} error(s); see above")


def reader_relative_to(base: Path, limit: int) -> Any:
    """A callback that reads include files (absolute, or relative to `base`), size-capped."""

    def read(name: str) -> bytes:
        path = Path(name) if Path(name).is_absolute() else base / name
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise OSError(0, f"larger than {limit} bytes")
        return data

    return read
