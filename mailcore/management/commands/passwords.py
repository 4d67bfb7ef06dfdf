"""`manage.py passwords import FILE… | status | check`: the breached-password list behind the
password policy (mailcore/directory/passwords.py).

`import` takes Have I Been Pwned's "Pwned Passwords" SHA-1 file (`HEX:count` lines, plain or
.gz; `--min-count` keeps only passwords seen that often) or plain password lists, one a line,
and merges them into the sorted digest file PASSWORD_DENYLIST_FILE (`--replace` starts over).
Nothing is fetched from the network: download the list where you may, then import it here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore.directory import passwords
from mailcore.management.commands._base import check_password_policy


class Command(BaseCommand):
    help = "Password policy: import a breached-password list, show it, check a password."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="op", required=True)
        imp = sub.add_parser("import", help="merge password lists into the breached list")
        imp.add_argument("files", nargs="+", type=Path)
        imp.add_argument("--min-count", type=int, default=0, help="HIBP: skip rarer entries")
        imp.add_argument("--replace", action="store_true", help="drop the current list first")
        sub.add_parser("status", help="the policy in force")
        chk = sub.add_parser("check", help="check the password on stdin's first line")
        chk.add_argument("--address", default="someone@example.invalid")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["op"] == "import":
            missing = [str(f) for f in opts["files"] if not f.is_file()]
            if missing:
                raise CommandError("no such file: " + ", ".join(missing))
            count = passwords.import_denylist(
                opts["files"], min_count=opts["min_count"], merge=not opts["replace"]
            )
            self.stdout.write(f"{passwords.denylist_path()}: {count} breached passwords")
        elif opts["op"] == "status":
            policy = passwords.policy()
            self.stdout.write(
                f"minimum length {policy['min_length']}, maximum {policy['max_length']}; "
                f"common-password lists: Django's 20,000 + Korean; breached list: "
                f"{policy['breached_list_entries']} entries ({passwords.denylist_path()})"
            )
        else:
            password = sys.stdin.readline().rstrip("\r\n")
            check_password_policy(password, opts["address"])
            self.stdout.write("password accepted by the policy")
