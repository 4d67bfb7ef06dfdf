"""`manage.py queue flush|retry <id>|delete <id>|bounce <id>`: Postfix's `postqueue -f` and
`postsuper -r/-d` jobs, through mailcore.delivery.queueops."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.delivery import queueops
from mailcore.delivery.doorbell import doorbell
from mailcore.errors import NotFoundError
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Act on the mail queue (see mailq for what is in it)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        sub.add_parser("flush", help="make every queued or held entry due now (postqueue -f)")
        for name, text in (
            ("retry", "retry one entry now"),
            ("delete", "remove an entry and its spool file, no DSN"),
            ("bounce", "bounce its pending recipients with a DSN to the sender"),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("queue_id")

    def handle(self, *args: Any, **opts: Any) -> None:
        op = opts["op"]
        try:
            if op == "flush":
                n = queueops.do_flush_queue()
                audit_cli("queue.flush", "*", flushed=n)
                self.stdout.write(f"flushed {n} entr{'y' if n == 1 else 'ies'}")
            elif op == "retry":
                run_action(lambda: queueops.do_retry_entry(opts["queue_id"]))
                audit_cli("queue.retry", opts["queue_id"])
                self.stdout.write(f"{opts['queue_id']}: due now")
            elif op == "delete":
                run_action(lambda: queueops.do_delete_entry(opts["queue_id"]))
                audit_cli("queue.delete", opts["queue_id"])
                self.stdout.write(f"{opts['queue_id']}: deleted")
            else:
                n = run_action(lambda: queueops.do_bounce_entry(opts["queue_id"]))
                audit_cli("queue.bounce", opts["queue_id"], recipients=n)
                self.stdout.write(f"{opts['queue_id']}: bounced {n} recipient(s)")
        except NotFoundError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            # flush, retry and bounce ring the doorbell on commit, from a thread that dies
            # with this process: hand the notices to the broker before exiting, or the
            # entries (a bounce's DSN) wait for the next sweep.
            if not doorbell.flush():
                self.stderr.write("the broker did not answer; the entries wait for the sweep")
