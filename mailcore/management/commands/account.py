"""`manage.py account add|list|passwd|remove|disable|enable`: the one account store."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from mailcore.directory.actions import (
    do_create_account,
    do_remove_account,
    do_set_account_active,
    do_set_admin_domains,
    do_set_password,
)
from mailcore.directory.models import Account
from mailcore.management.commands._base import (
    audit_cli,
    check_password_policy,
    read_password,
    run_action,
)


class Command(BaseCommand):
    help = "Manage mail accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        add = sub.add_parser("add", help="create an account (asks for the password)")
        add.add_argument("address")
        add.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        add.add_argument("--name", default="", help="display name")
        add.add_argument("--quota", type=int, default=None, help="quota in bytes (0 = none)")
        add.add_argument("--admin", action="store_true", help="superadmin of the server")
        add.add_argument(
            "--admin-of",
            action="append",
            default=[],
            metavar="DOMAIN",
            help="domain admin of DOMAIN (repeatable): the admin API for that domain only",
        )
        lst = sub.add_parser("list", help="list accounts")
        lst.add_argument("--domain", default=None)
        pw = sub.add_parser("passwd", help="set an account's password")
        pw.add_argument("address")
        pw.add_argument("--password-stdin", action="store_true")
        adm = sub.add_parser(
            "admin-of", help="make an account domain admin of exactly these domains (none: revoke)"
        )
        adm.add_argument("address")
        adm.add_argument("domains", nargs="*")
        reset = sub.add_parser(
            "reset-2fa",
            help="remove an account's 2단계 인증 (authenticator app, passkeys, recovery codes): "
            "a lost phone; it then signs in with its password alone",
        )
        reset.add_argument("address")
        for name in ("remove", "disable", "enable"):
            p = sub.add_parser(name, help=f"{name} an account")
            p.add_argument("address")

    def handle(self, *args: Any, **opts: Any) -> None:
        op = opts["op"]
        if op == "add":
            password = read_password(opts["password_stdin"])
            check_password_policy(password, opts["address"], opts["name"])

            def create() -> Account:
                with transaction.atomic():  # an unknown --admin-of domain creates nothing
                    account = do_create_account(
                        opts["address"],
                        password=password,
                        display_name=opts["name"],
                        quota_bytes=opts["quota"],
                        is_staff=opts["admin"],
                    )
                    if opts["admin_of"]:
                        do_set_admin_domains(account, opts["admin_of"])
                return account

            account = run_action(create)
            audit_cli(
                "account.create",
                account.address,
                domain=account.domain.name,
                superadmin=account.is_staff,
                admin_of=opts["admin_of"] or [],
            )
            self.stdout.write(f"created {account.address} (Maildir: {account.storage_path})")
        elif op == "list":
            qs = Account.objects.select_related("domain")
            if opts["domain"]:
                qs = qs.filter(domain__name=opts["domain"].lower())
            for a in qs.prefetch_related("admin_of__domain"):
                state = "active" if a.is_active else "disabled"
                role = " admin" if a.is_staff else ""
                admin_of = [da.domain.name for da in a.admin_of.all()]
                if admin_of:
                    role += f" admin-of={','.join(admin_of)}"
                self.stdout.write(f"{a.address}\t{state}{role}\tquota={a.quota_bytes or 'none'}")
        elif op == "passwd":
            password = read_password(opts["password_stdin"])
            account = run_action(lambda: _account(opts["address"]))
            check_password_policy(password, account.address, account.display_name)
            run_action(lambda: do_set_password(opts["address"], password))
            audit_cli("account.password", opts["address"])
            self.stdout.write(f"password changed for {opts['address']}")
        elif op == "admin-of":
            account = run_action(lambda: _account(opts["address"]))
            domains = run_action(lambda: do_set_admin_domains(account, opts["domains"]))
            audit_cli("account.update", account.address, admin_domains=[d.name for d in domains])
            names = ", ".join(d.name for d in domains) or "no domain"
            self.stdout.write(f"{account.address} is domain admin of {names}")
        elif op == "reset-2fa":
            from mailcore.directory.twofactor import do_reset_factors

            account = run_action(lambda: _account(opts["address"]))
            removed = run_action(lambda: do_reset_factors(account))
            domain = account.domain.name
            audit_cli("account.second_factor_reset", account.address, domain=domain, **removed)
            self.stdout.write(
                f"2단계 인증 reset for {account.address}: {removed['totp']} app, "
                f"{removed['passkeys']} passkeys, {removed['recovery_codes']} recovery codes"
            )
        elif op == "remove":
            run_action(lambda: do_remove_account(opts["address"]))
            audit_cli("account.remove", opts["address"])
            self.stdout.write(f"removed {opts['address']} (its Maildir stays on disk)")
        else:
            run_action(lambda: do_set_account_active(opts["address"], op == "enable"))
            audit_cli("account.update", opts["address"], is_active=op == "enable")
            self.stdout.write(f"{op}d {opts['address']}")


def _account(address: str) -> Account:
    from mailcore.addresses import canonical_address
    from mailcore.errors import NotFoundError

    account = Account.objects.filter(address=canonical_address(address)).first()
    if account is None:
        raise NotFoundError(f"no account {address}")
    return account
