"""`manage.py dkim generate|show|activate <domain>`: DKIM keys of a sending domain and the DNS
TXT records to publish for them. A new key of a domain that signs already is pending: publish
its record beside the current one, then `dkim activate` switches signing to it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_domain
from mailcore.delivery.dkim import (
    Activation,
    dns_record,
    do_activate_dkim_key,
    do_generate_dkim_key,
    published_keys,
)
from mailcore.delivery.models import DkimAlgorithm, DkimKey, DkimKeyState
from mailcore.management.commands._base import audit_cli, run_action


class Command(BaseCommand):
    help = "Manage DKIM signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        gen = sub.add_parser(
            "generate",
            help="new RSA-2048 key (and an ed25519 one with --ed25519); prints the TXT records. "
            "The domain's first key signs at once; a later one is pending until activated",
        )
        gen.add_argument("domain")
        gen.add_argument(
            "--ed25519",
            action="store_true",
            help="also an ed25519 key: a second signature (RFC 8463)",
        )
        gen.add_argument("--selector", help="selector of the RSA key (default: mrYYYYMMr…)")
        gen.add_argument(
            "--replace-pending",
            action="store_true",
            help="retire a pending key of the domain (never activated) and make a new one; "
            "without it a second generate is refused while a key is pending",
        )
        show = sub.add_parser(
            "show", help="the TXT records of the active keys and of pending ones (publish both)"
        )
        show.add_argument("domain")
        act = sub.add_parser(
            "activate",
            help="sign with the pending key from now on (the old one is retired); refused "
            "until the DNS check sees its record",
        )
        act.add_argument("domain")
        act.add_argument("selector", nargs="?", help="default: every pending key of the domain")
        act.add_argument(
            "--force",
            action="store_true",
            help="activate although DNS does not show the record (mail may fail DKIM)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, f"_{opts['op']}")(opts)

    def _generate(self, opts: dict[str, Any]) -> None:
        replace = bool(opts["replace_pending"])
        keys = [
            run_action(
                lambda: do_generate_dkim_key(
                    opts["domain"], selector=opts["selector"], replace_pending=replace
                )
            )
        ]
        if opts["ed25519"]:
            keys.append(
                run_action(
                    lambda: do_generate_dkim_key(
                        opts["domain"], algorithm=DkimAlgorithm.ED25519, replace_pending=replace
                    )
                )
            )
        audit_cli(
            "dkim.generate",
            keys[0].domain,
            domain=keys[0].domain,
            selectors=[k.selector for k in keys],
            states=[k.state for k in keys],
        )
        for key in keys:
            if key.state == DkimKeyState.PENDING:
                self.stdout.write(
                    f"; {key.selector} is pending: the current key keeps signing. Publish this "
                    f"record beside the current one, then run "
                    f"`manage.py dkim activate {key.domain} {key.selector}`"
                )
            else:
                self.stdout.write(
                    f"; {key.selector} signs mail from {key.domain} now; publish in DNS:"
                )
            self.stdout.write(dns_record(key))

    def _show(self, opts: dict[str, Any]) -> None:
        domain = run_action(lambda: canonical_domain(opts["domain"]))
        keys = published_keys(domain)
        if not keys:
            raise CommandError(f"no DKIM key for {domain}")
        for key in keys:
            if key.state == DkimKeyState.PENDING:
                note = (
                    "pending (not signing yet; once published: "
                    f"manage.py dkim activate {domain} {key.selector})"
                )
            else:
                note = "active (signing)"
            self.stdout.write(f"; {key.selector} {key.algorithm}: {note}")
            self.stdout.write(dns_record(key))

    def _activate(self, opts: dict[str, Any]) -> None:
        domain = run_action(lambda: canonical_domain(opts["domain"]))
        if opts["selector"]:
            selectors = [opts["selector"].lower()]
        else:
            selectors = list(
                DkimKey.objects.filter(domain=domain, state=DkimKeyState.PENDING)
                .order_by("algorithm")
                .values_list("selector", flat=True)
            )
            if not selectors:
                raise CommandError(f"no pending DKIM key for {domain}")
        for selector in selectors:

            def activate(selector: str = selector) -> Activation:
                return do_activate_dkim_key(domain, selector, force=opts["force"])

            done = run_action(activate)
            audit_cli(
                "dkim.activate",
                f"{done.key.selector}._domainkey.{domain}",
                domain=domain,
                selector=done.key.selector,
                retired=done.retired,
                forced=done.forced,
            )
            retired = f"; retired {', '.join(done.retired)}" if done.retired else ""
            forced = " (forced: DNS was not checked)" if done.forced else ""
            self.stdout.write(
                f"{done.key.selector} ({done.key.algorithm}) now signs mail from "
                f"{domain}{forced}{retired}"
            )
            if done.retired:
                self.stdout.write(
                    "; keep the retired record in DNS for a few days, until mail signed with it "
                    "has been delivered"
                )
