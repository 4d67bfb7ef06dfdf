"""`manage.py mailq`: the queue, like Postfix's mailq (queue id, size, time, state, sender,
recipients with their state and last reply).

Entry states as Postfix's queues name them: "queued" (not tried yet), "active" (a worker
holds it now), "deferred" (tried, waiting for its next attempt, shown with that time),
"scheduled" (not tried, due later: a scheduled send or an undo window, shown with its time),
"held" (needs an admin), "paused" (its sender is held: mailcore.delivery.containment),
"done" (with --all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from mailcore.delivery.models import EntryState, QueueEntry


def entry_label(entry: QueueEntry, now: datetime) -> str:
    if entry.state != EntryState.QUEUED:
        return str(entry.state)
    if entry.locked_until is not None and entry.locked_until > now:
        return "active"
    if entry.attempts > 0:
        return "deferred"
    return "scheduled" if entry.next_attempt_at > now else "queued"


def until(when: datetime, now: datetime) -> str:
    seconds = int((when - now).total_seconds())
    if seconds <= 0:
        return "due now"
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"in {hours}h {minutes:02d}m"
    return f"in {minutes}m {seconds:02d}s" if minutes else f"in {seconds}s"


class Command(BaseCommand):
    help = "Show the mail queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="include delivered entries")
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args: Any, **opts: Any) -> None:
        qs = QueueEntry.objects.prefetch_related("recipients").order_by("received_at")
        if not opts["all"]:
            qs = qs.exclude(state=EntryState.DONE)
        entries = list(qs[: max(1, min(opts["limit"], 100_000))])
        if not entries:
            self.stdout.write("Mail queue is empty")
            return
        now = timezone.now()
        self.stdout.write(f"{'Queue ID':<16} {'Size':>9} {'Arrival Time':<20} {'State':<9} Sender")
        for e in entries:
            when = timezone.localtime(e.received_at).strftime("%a %b %d %H:%M:%S")
            direction = "in" if e.direction == "in" else "out"
            label = entry_label(e, now)
            line = (
                f"{e.queue_id:<16} {e.size:>9} {when:<20} {label:<9} <{e.sender}> [{direction}]"
                f" attempts={e.attempts}"
            )
            if label in ("deferred", "queued", "scheduled"):
                due = timezone.localtime(e.next_attempt_at)
                line += f" next attempt {due.strftime('%a %b %d %H:%M:%S')} ({until(due, now)})"
            self.stdout.write(line)
            if e.last_error:
                self.stdout.write(f"{'':<16} ({e.last_error[:200]})")
            for r in e.recipients.all():
                reply = f" ({r.last_reply[:160]})" if r.last_reply else ""
                self.stdout.write(f"{'':<16} {r.address} [{r.state}]{reply}")
        self.stdout.write(f"-- {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
