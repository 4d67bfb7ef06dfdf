"""`manage.py outbox recall <domain> on|off`: whether a domain's senders may recall (발송취소)
delivered, unopened local copies (issue 14 §2). Server-wide: OUTBOX_RECALL_ENABLED."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_domain
from mailcore.directory.models import Domain
from mailcore.management.commands._base import audit_cli
from mailcore.outbox.actions import do_set_recall_policy


class Command(BaseCommand):
    help = "Outbox policies of a domain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        recall = sub.add_parser("recall", help="turn recall on or off for a domain's senders")
        recall.add_argument("domain")
        recall.add_argument("state", choices=("on", "off"))

    def handle(self, *args: Any, **opts: Any) -> None:
        domain = Domain.objects.filter(name=canonical_domain(opts["domain"])).first()
        if domain is None:
            raise CommandError(f"no local domain {opts['domain']}")
        enabled = opts["state"] == "on"
        do_set_recall_policy(domain=domain, enabled=enabled)
        audit_cli("outbox.recall_policy", domain.name, domain=domain.name, enabled=enabled)
        self.stdout.write(f"recall {'on' if enabled else 'off'} for {domain.name}")
