"""`manage.py audit purge [--days N] [--dry-run]`: the audit log's retention by hand (beat runs
the same purge daily with AUDIT_LOG_RETENTION_DAYS)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from mailcore.directory.actions import do_purge_audit_log
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Maintain the admin audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        purge = sub.add_parser("purge", help="delete rows older than the retention period")
        purge.add_argument(
            "--days",
            type=int,
            help="keep this many days (default: AUDIT_LOG_RETENTION_DAYS; 0 = keep everything)",
        )
        purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        days = settings.AUDIT_LOG_RETENTION_DAYS if opts["days"] is None else opts["days"]
        n = run_action(lambda: do_purge_audit_log(days, dry_run=opts["dry_run"]))
        if days == 0:
            self.stdout.write("retention is 0 days (keep forever): nothing removed")
        elif opts["dry_run"]:
            self.stdout.write(f"would remove {n} audit row(s) older than {days} day(s)")
        else:
            audit_cli("audit.purge", "*", days=days, removed=n)
            self.stdout.write(f"removed {n} audit row(s) older than {days} day(s)")
