"""`manage.py maildir convert <address>… | --all [--dry-run]`: rewrite message files written
before the LF layout (CRLF line ends, no W= in the name) as Postfix, procmail and Dovecot
store them: LF line ends, named '<stem>,S=<size on disk>,W=<CRLF size>'. Keys, flags, UIDs and
index rows stay as they are; safe to interrupt and to run again (see mailcore.store.maildir)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError, MailcoreError
from mailcore.management.commands._base import audit_cli
from mailcore.store.maildir import ConvertReport
from mailcore.store.queries import maildir_for


class Command(BaseCommand):
    help = "Maildir maintenance: convert files to LF line ends with S=/W= sizes in the name."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        p = sub.add_parser(
            "convert", help="rewrite CRLF message files with LF line ends and ,S=,W= names"
        )
        p.add_argument("addresses", nargs="*")
        p.add_argument("--all", action="store_true", help="every account")
        p.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["all"] and opts["addresses"]:
            raise CommandError("name addresses or --all, not both")
        if opts["all"]:
            accounts = list(Account.objects.order_by("address"))
        elif opts["addresses"]:
            accounts = []
            for raw in opts["addresses"]:
                try:
                    accounts.append(Account.objects.get(address=canonical_address(raw)))
                except (Account.DoesNotExist, InvalidAddressError) as exc:
                    raise CommandError(f"no account {raw}") from exc
        else:
            raise CommandError("name one or more addresses, or --all")
        dry = opts["dry_run"]
        failed = 0
        for account in accounts:
            report = ConvertReport()
            try:
                maildir = maildir_for(account)
                for path in maildir.list_folder_paths():
                    maildir.convert_folder(path, dry_run=dry, report=report)
            except MailcoreError as exc:
                failed += 1
                self.stderr.write(f"{account.address}: {exc}; run again once fixed")
            verb = "would convert" if dry else "converted"
            self.stdout.write(
                f"{account.address}: {verb} {report.converted}, "
                f"{'would rename' if dry else 'renamed'} {report.renamed}, "
                f"{report.current} already LF, {len(report.kept)} kept as they are"
            )
            for why in report.kept:
                self.stdout.write(f"  kept {why}")
            if not dry and (report.converted or report.renamed):
                audit_cli(
                    "maildir.convert",
                    account.address,
                    domain=account.domain.name,
                    converted=report.converted,
                    renamed=report.renamed,
                    kept=len(report.kept),
                )
        if failed:
            raise CommandError(f"{failed} account(s) not fully converted")
