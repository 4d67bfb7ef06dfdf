"""Shared pieces of the provisioning commands: error translation and password input."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import CommandError

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
    if len(password) < 8:
        raise CommandError("password must have at least 8 characters")
    return password
