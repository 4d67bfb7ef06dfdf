"""`manage.py dnscheck <domain>…`: the console's DNS check on the shell (issue 15 items 3, 6):
each record with ok / missing / wrong, what DNS has, and the exact line to publish. Exit code
1 while a record mail needs (MX, SPF, DKIM, DMARC) is not ok, so an install script can wait
for DNS; SRV records are advisory, as on the console."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_domain
from mailcore.directory.dnscheck import OK, check_domain_dns
from mailcore.directory.queries import is_local_domain
from mailcore.errors import InvalidAddressError


class Command(BaseCommand):
    help = "Check a local domain's MX, SPF, DKIM, DMARC and SRV records; print what to publish."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domains", nargs="+", metavar="domain")

    def handle(self, *args: Any, **opts: Any) -> None:
        missing = False
        for raw in opts["domains"]:
            try:
                domain = canonical_domain(raw)
            except InvalidAddressError as exc:
                raise CommandError(str(exc)) from None
            if not is_local_domain(domain):
                raise CommandError(f"{domain} is not a local domain (manage.py domain add)")
            to_publish = []
            for check in check_domain_dns(domain):
                line = f"{check.status:<8}{check.kind + ' ':<6}{check.name}"
                if check.found:
                    line += f"  (found: {'; '.join(check.found)})"
                if check.detail:
                    line += f"\n              {check.detail}"
                self.stdout.write(line)
                if check.status != OK:
                    # SRV, MTA-STS and TLS-RPT are advisory: mail flows without them.
                    missing = missing or check.kind not in ("srv", "mta-sts", "tlsrpt")
                    if check.expected:
                        to_publish.append(check.expected)
            if to_publish:
                self.stdout.write(f"\nPublish for {domain} (zone-file lines):")
                for record in to_publish:
                    self.stdout.write(f"  {record}")
        if missing:
            raise SystemExit(1)
