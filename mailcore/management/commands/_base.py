"""Shared pieces of the provisioning commands: error translation, password input and the audit
row every change from the shell leaves beside the console's (actor "cli:<unix user>")."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.management.base import CommandError

from mailcore.directory.actions import do_record_audit
from mailcore.errors import MailcoreError

T = TypeVar("T")


def run_action(fn: Callable[[], T]) -> T:
    """Call a mailcore action; its errors become one-line CommandErrors (exit status 1)."""
    try:
        return fn()
    except MailcoreError as exc:
        raise CommandError(str(exc)) from exc


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("passwords do not match")
    return password


def check_password_policy(password: str, address: str, display_name: str = "") -> None:
    """The password policy the console and the API apply (AUTH_PASSWORD_VALIDATORS), for a
    password set from the shell; a refusal lists every reason."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from mailcore.directory.models import Account

    try:
        validate_password(password, Account(address=address.lower(), display_name=display_name))
    except ValidationError as exc:
        # Two lists may refuse it for the same reason (Django's and ours): say it once.
        raise CommandError("password refused: " + " ".join(dict.fromkeys(exc.messages))) from exc


def audit_cli(action: str, target: str, /, *, domain: str = "", **detail: Any) -> None:
    """Record a change made from the shell in the audit log the console shows."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = "unknown"
    do_record_audit(
        actor=f"cli:{user}", action=action, target=target, domain=domain, detail=detail, ip="local"
    )
