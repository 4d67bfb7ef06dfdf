"""`manage.py dkim generate <domain> [--ed25519]` and `dkim show <domain>`: DKIM keys of a
sending domain and the DNS TXT records to publish for them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_domain
from mailcore.delivery.dkim import dns_record, do_generate_dkim_key
from mailcore.delivery.models import DkimAlgorithm, DkimKey
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Manage DKIM signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        gen = sub.add_parser(
            "generate",
            help="new RSA-2048 key (and an ed25519 one with --ed25519); prints the TXT records",
        )
        gen.add_argument("domain")
        gen.add_argument(
            "--ed25519",
            action="store_true",
            help="also an ed25519 key: a second signature (RFC 8463)",
        )
        gen.add_argument("--selector", help="selector of the RSA key (default: mrYYYYMMr…)")
        show = sub.add_parser("show", help="the TXT records of the active keys")
        show.add_argument("domain")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "generate":
            keys = [
                run_action(lambda: do_generate_dkim_key(opts["domain"], selector=opts["selector"]))
            ]
            if opts["ed25519"]:
                keys.append(
                    run_action(
                        lambda: do_generate_dkim_key(
                            opts["domain"], algorithm=DkimAlgorithm.ED25519
                        )
                    )
                )
            audit_cli(
                "dkim.generate",
                keys[0].domain,
                domain=keys[0].domain,
                selectors=[k.selector for k in keys],
            )
            self.stdout.write("; publish in DNS, then mail from this domain is signed with:")
        else:
            domain = run_action(lambda: canonical_domain(opts["domain"]))
            keys = list(
                DkimKey.objects.filter(domain=domain, is_active=True).order_by(
                    "algorithm", "-created_at"
                )
            )
            if not keys:
                raise CommandError(f"no DKIM key for {domain}")
        for key in keys:
            self.stdout.write(dns_record(key))
