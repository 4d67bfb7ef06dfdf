"""`manage.py reindex <address>… | --all`: rebuild the index of accounts from their Maildirs.
With --imap-meta, only fill in the IMAP metadata (ENVELOPE, BODYSTRUCTURE, prefetched
headers) of messages that have none yet: the backfill after upgrading to IMAP."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError
from mailcore.store.reindex import discover_accounts, fill_account_meta, reindex_account


class Command(BaseCommand):
    help = "Rebuild folders, messages, flags and UIDs of accounts from their Maildir."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addresses", nargs="*")
        parser.add_argument("--all", action="store_true", help="every account")
        parser.add_argument(
            "--discover",
            action="store_true",
            help="with --all: first recreate domains and accounts found under "
            "MAIL_ROOT that the database lost (they get no password)",
        )
        parser.add_argument(
            "--imap-meta",
            action="store_true",
            help="only compute missing IMAP metadata (ENVELOPE, BODYSTRUCTURE) from the files",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["discover"] and not opts["all"]:
            raise CommandError("--discover goes with --all")
        if opts["all"]:
            if opts["discover"]:
                before = set(Account.objects.values_list("pk", flat=True))
                found = discover_accounts(Path(settings.MAIL_ROOT))
                new = [a.address for a in found if a.pk not in before]
                if new:
                    self.stdout.write(
                        f"recreated {len(new)} account(s) without a password "
                        f"(set one with `account passwd`): {', '.join(new)}"
                    )
            accounts = list(Account.objects.all())
        elif opts["addresses"]:
            accounts = []
            for raw in opts["addresses"]:
                try:
                    accounts.append(Account.objects.get(address=canonical_address(raw)))
                except (Account.DoesNotExist, InvalidAddressError) as exc:
                    raise CommandError(f"no account {raw}") from exc
        else:
            raise CommandError("name one or more addresses, or --all")
        if opts["imap_meta"]:
            for account in accounts:
                bar = tqdm(
                    desc=account.address,
                    unit="msg",
                    disable=opts["no_progress"],
                    file=self.stderr._out,
                )
                written = fill_account_meta(account, progress=bar.update)
                bar.close()
                self.stdout.write(f"{account.address}: IMAP metadata of {written} messages")
            return
        for account in accounts:
            bar = tqdm(
                desc=account.address, unit="msg", disable=opts["no_progress"], file=self.stderr._out
            )
            report = reindex_account(
                account, progress=bar.update, on_total=partial(setattr, bar, "total")
            )
            bar.close()
            self.stdout.write(
                f"{account.address}: {report.folders} folders, {report.messages} messages "
                f"({report.added} added, {report.updated} updated, {report.removed} removed)"
            )
