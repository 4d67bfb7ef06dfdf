"""`manage.py search rebuild [--account A]`: rebuild the search index (mailcore.search) of
one account or of all, from the message files, with a progress bar; delivery goes on
meanwhile (batches of REBUILD_BATCH messages, each its own transaction)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from tqdm import tqdm

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError
from mailcore.search.backend import get_backend


class Command(BaseCommand):
    help = "Search index maintenance: `search rebuild [--account ADDRESS]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rebuild = sub.add_parser("rebuild", help="re-read the files and rewrite the index")
        rebuild.add_argument("--account", help="only this account (default: every account)")
        rebuild.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["account"]:
            try:
                accounts = [Account.objects.get(address=canonical_address(opts["account"]))]
            except (Account.DoesNotExist, InvalidAddressError) as exc:
                raise CommandError(f"no account {opts['account']}") from exc
        else:
            accounts = list(Account.objects.order_by("pk"))
        totals = dict(
            Account.objects.filter(pk__in=[a.pk for a in accounts])
            .annotate(n=Count("messages"))
            .values_list("pk", "n")
        )
        backend = get_backend()
        for account in accounts:
            bar = tqdm(
                desc=account.address,
                unit="msg",
                total=totals.get(account.pk, 0),
                disable=opts["no_progress"],
                file=self.stderr._out,
            )
            done = backend.rebuild_account(account, progress=bar.update)
            bar.close()
            self.stdout.write(f"{account.address}: {done} messages indexed")
