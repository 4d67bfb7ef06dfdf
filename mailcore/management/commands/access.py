"""`manage.py access add|list|remove`: sendmail's /etc/mail/access as a table of client
networks (optionally with sender/recipient domain) → RELAY, OK, REJECT or DISCARD."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mailcore.directory.actions import do_add_relay_rule, do_remove_relay_rule
from mailcore.directory.models import RelayAction, RelayRule
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = (
        "Manage relay access rules: client IP/CIDR (and optionally --from/--to domain) → "
        "RELAY | OK | REJECT | DISCARD."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        add = sub.add_parser("add", help="add a rule (or change the action of an existing one)")
        add.add_argument("network", help="IP address or CIDR, e.g. 192.0.2.10 or 2001:db8::/64")
        add.add_argument(
            "action", choices=[a.lower() for a in RelayAction.values] + list(RelayAction.values)
        )
        add.add_argument(
            "--from",
            dest="sender_domain",
            default="",
            help="only for envelope senders in this domain",
        )
        add.add_argument(
            "--to", dest="recipient_domain", default="", help="only for recipients in this domain"
        )
        add.add_argument("--comment", default="")
        add.add_argument(
            "--force",
            action="store_true",
            help="allow a network wider than /24 (IPv4) or /56 (IPv6)",
        )
        sub.add_parser("list", help="list rules")
        rm = sub.add_parser("remove", help="remove a rule")
        rm.add_argument("network")
        rm.add_argument("--from", dest="sender_domain", default="")
        rm.add_argument("--to", dest="recipient_domain", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "add":
            rule = run_action(
                lambda: do_add_relay_rule(
                    opts["network"],
                    opts["action"],
                    sender_domain=opts["sender_domain"],
                    recipient_domain=opts["recipient_domain"],
                    comment=opts["comment"],
                    force=opts["force"],
                )
            )
            audit_cli("relay_rule.set", str(rule), network=rule.network, action=rule.action)
            self.stdout.write(_line(rule))
        elif opts["op"] == "list":
            for rule in RelayRule.objects.all():
                self.stdout.write(_line(rule))
        else:
            run_action(
                lambda: do_remove_relay_rule(
                    opts["network"],
                    sender_domain=opts["sender_domain"],
                    recipient_domain=opts["recipient_domain"],
                )
            )
            audit_cli("relay_rule.remove", opts["network"], network=opts["network"])
            self.stdout.write(f"removed {opts['network']}")


def _line(rule: RelayRule) -> str:
    return "\t".join(
        (
            rule.network,
            f"from={rule.sender_domain or '*'}",
            f"to={rule.recipient_domain or '*'}",
            rule.action,
            rule.comment,
        )
    ).rstrip()
