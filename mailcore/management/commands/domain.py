"""`manage.py domain add|list|remove`: the local domains (sendmail's local-host-names)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailcore.addresses import unicode_domain
from mailcore.directory.actions import do_create_domain, do_remove_domain
from mailcore.directory.models import Domain
from mailcore.directory.queries import role_address_warnings
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Manage local domains."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        add = sub.add_parser("add", help="add a local domain")
        add.add_argument("name")
        sub.add_parser("list", help="list local domains")
        rm = sub.add_parser("remove", help="remove a domain (refused while it has accounts)")
        rm.add_argument("name")
        rm.add_argument("--force", action="store_true", help="also remove its accounts")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "add":
            d = run_action(lambda: do_create_domain(opts["name"]))
            audit_cli("domain.create", d.name, domain=d.name)
            self.stdout.write(f"added {d.name}")
            # postmaster@ must exist (RFC 5321 §4.5.1): say how to route it if nothing does.
            for warning in role_address_warnings([d.name]):
                self.stdout.write(warning)
        elif opts["op"] == "list":
            for d in Domain.objects.all():
                shown = unicode_domain(d.name)
                extra = f" ({shown})" if shown != d.name else ""
                self.stdout.write(f"{d.name}{extra}\taccounts={d.accounts.count()}")
        else:
            run_action(lambda: do_remove_domain(opts["name"], force=opts["force"]))
            audit_cli("domain.remove", opts["name"], domain=opts["name"], force=opts["force"])
            self.stdout.write(f"removed {opts['name']}")
