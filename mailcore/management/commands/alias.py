"""`manage.py alias add|list|remove`: /etc/aliases as a table (catch-all: '@domain')."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailcore.directory.actions import do_add_alias, do_remove_alias
from mailcore.directory.models import Alias
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Manage aliases (source → targets; '@example.com' is a catch-all)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        add = sub.add_parser("add", help="add targets to an alias")
        add.add_argument("source")
        add.add_argument("targets", nargs="+")
        sub.add_parser("list", help="list aliases")
        rm = sub.add_parser("remove", help="remove an alias, or some of its targets")
        rm.add_argument("source")
        rm.add_argument("targets", nargs="*")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "add":
            alias = run_action(lambda: do_add_alias(opts["source"], opts["targets"]))
            audit_cli("alias.create", alias.source, domain=alias.domain.name, targets=alias.targets)
            self.stdout.write(f"{alias.source} → {', '.join(alias.targets)}")
        elif opts["op"] == "list":
            for alias in Alias.objects.all():
                self.stdout.write(f"{alias.source}\t{', '.join(alias.targets)}")
        else:
            run_action(lambda: do_remove_alias(opts["source"], opts["targets"] or None))
            audit_cli("alias.remove", opts["source"], targets=opts["targets"])
            self.stdout.write(f"removed {opts['source']} {' '.join(opts['targets'])}".rstrip())
