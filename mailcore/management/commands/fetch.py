"""`manage.py fetch run ID` (one run of an external account now, in this process: what the
worker's task does) and `manage.py fetch rekey` (re-encrypt the saved passwords of external
accounts under FETCH_ENCRYPTION_KEY, after a key rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.fetching.actions import do_fetch, do_reencrypt_passwords


class Command(BaseCommand):
    help = "Fetch mail from external POP3/IMAP accounts; re-encrypt their passwords."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        run = sub.add_parser("run", help="fetch one external account now")
        run.add_argument("external_id", type=int)
        sub.add_parser("rekey", help="re-encrypt every saved password with the current key")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "rekey":
            done, unreadable = do_reencrypt_passwords()
            self.stdout.write(f"re-encrypted {done} password(s); {unreadable} unreadable")
            if unreadable:
                raise CommandError(
                    f"{unreadable} password(s) open with no configured key: "
                    "their users must enter them again"
                )
            return
        run = do_fetch(opts["external_id"])
        if not run.ran:
            raise CommandError("not run: no such enabled account, or a run is going already")
        self.stdout.write(f"fetched {run.fetched}, deleted {run.deleted} on the server")
        if run.error is not None:
            raise CommandError(f"{run.error.reason}: {run.error}")
