"""`manage.py mailq`: the queue, like Postfix's mailq (queue id, size, time, sender, recipients
with their state and last reply)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailcore.delivery.models import EntryState, QueueEntry


class Command(BaseCommand):
    help = "Show the mail queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="include delivered entries")
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **opts: Any) -> None:
        qs = QueueEntry.objects.prefetch_related("recipients").order_by("received_at")
        if not opts["all"]:
            qs = qs.exclude(state=EntryState.DONE)
        entries = list(qs[: opts["limit"]])
        if not entries:
            self.stdout.write("Mail queue is empty")
            return
        self.stdout.write(f"{'Queue ID':<16} {'Size':>9} {'Arrival Time':<20} {'State':<7} Sender")
        for e in entries:
            when = e.received_at.strftime("%a %b %d %H:%M:%S")
            direction = "in" if e.direction == "in" else "out"
            self.stdout.write(
                f"{e.queue_id:<16} {e.size:>9} {when:<20} {e.state:<7} <{e.sender}> [{direction}]"
                f" attempts={e.attempts}"
            )
            if e.last_error:
                self.stdout.write(f"{'':<16} ({e.last_error[:200]})")
            for r in e.recipients.all():
                reply = f" ({r.last_reply[:160]})" if r.last_reply else ""
                self.stdout.write(f"{'':<16} {r.address} [{r.state}]{reply}")
        self.stdout.write(f"-- {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
