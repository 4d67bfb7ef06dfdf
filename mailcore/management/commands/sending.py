"""`manage.py sending …`: containment from the shell (mailcore.delivery.containment), for the
operator without a console at hand — or a superadmin whose own account is held (the console
lets nobody release their own account).

  sending list                         held accounts, why, and how much mail waits
  sending hold ADDRESS [--detail TEXT] hold now: its queued mail pauses
  sending release ADDRESS              held mail goes out, the counters start afresh
  sending delete-held ADDRESS          held mail deleted (no DSN); the account stays held
  sending policy ADDRESS [--exempt] [--burst N] [--daily N] | --clear
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.addresses import canonical_address
from mailcore.delivery import containment
from mailcore.delivery.models import HoldReason, SendingState
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError
from mailcore.management.commands._base import audit_cli


def _account(address: str) -> Account:
    try:
        found = Account.objects.filter(address=canonical_address(address)).first()
    except InvalidAddressError as exc:
        raise CommandError(str(exc)) from exc
    if found is None:
        raise CommandError(f"no account {address}")
    return found


class Command(BaseCommand):
    help = "Containment of compromised accounts: held senders, release, overrides."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        sub.add_parser("list", help="held accounts")
        hold = sub.add_parser("hold", help="hold an account's sending now")
        hold.add_argument("address")
        hold.add_argument("--detail", default="")
        for name in ("release", "delete-held"):
            sub.add_parser(name).add_argument("address")
        policy = sub.add_parser("policy", help="an account's override of the policy")
        policy.add_argument("address")
        policy.add_argument("--exempt", action="store_true")
        policy.add_argument("--burst", type=int, default=None)
        policy.add_argument("--daily", type=int, default=None)
        policy.add_argument("--clear", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        op = opts["op"]
        if op == "list":
            states = list(
                SendingState.objects.filter(held_at__isnull=False)
                .select_related("account")
                .order_by("held_at")
            )
            counts = containment.held_counts([s.account_id for s in states])
            for s in states:
                n, r = counts[s.account_id]
                self.stdout.write(
                    f"{s.account.address}\t{s.reason}\t{s.held_at:%Y-%m-%d %H:%M:%S}\t"
                    f"{n} messages\t{r} recipients\t{s.detail}"
                )
            return
        account = _account(opts["address"])
        domain = account.domain.name
        if op == "hold":
            detail = opts["detail"] or "held from the shell"
            if containment.do_hold_account(account, reason=HoldReason.ADMIN, detail=detail):
                audit_cli("sending.hold", account.address, domain=domain, detail=detail)
            self.stdout.write(f"{account.address} held")
        elif op == "release":
            released = containment.do_release_account(account, actor="cli")
            audit_cli("sending.release", account.address, domain=domain, released=len(released))
            self.stdout.write(f"{account.address} released: {len(released)} messages queued")
        elif op == "delete-held":
            deleted = containment.do_delete_held(account)
            for queue_id in deleted:
                audit_cli("sending.delete_held", queue_id, domain=domain, account=account.address)
            self.stdout.write(f"{len(deleted)} held messages of {account.address} deleted")
        elif opts["clear"]:
            containment.do_remove_override(account=account)
            audit_cli("sending.policy_clear", account.address, domain=domain)
            self.stdout.write(f"{account.address}: the domain's or the default policy")
        else:
            for name in ("burst", "daily"):
                if opts[name] is not None and opts[name] < (1 if name == "burst" else 0):
                    raise CommandError(f"--{name} must be at least {1 if name == 'burst' else 0}")
            o = containment.do_set_override(
                account=account,
                exempt=opts["exempt"],
                burst_limit=opts["burst"],
                daily_limit=opts["daily"],
                actor="cli",
            )
            audit_cli(
                "sending.policy",
                account.address,
                domain=domain,
                exempt=o.exempt,
                burst_limit=o.burst_limit,
                daily_limit=o.daily_limit,
            )
            self.stdout.write(
                f"{account.address}: exempt={o.exempt} burst={o.burst_limit} daily={o.daily_limit}"
            )
