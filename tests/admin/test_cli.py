"""`manage.py account … --admin-of` and `account admin-of`: domain admins from the shell."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailcore.directory.actions import do_create_domain
from mailcore.directory.models import Account
from mailcore.directory.queries import list_admin_domains

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str | None = None) -> str:
    out, old = io.StringIO(), sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    finally:
        sys.stdin = old
    return out.getvalue()


def test_admin_of_from_the_shell() -> None:
    do_create_domain("a.example")
    do_create_domain("b.example")
    run(
        "account",
        "add",
        "boss@a.example",
        "--password-stdin",
        "--admin-of",
        "A.example",
        stdin="long enough password\n",
    )
    boss = Account.objects.get(address="boss@a.example")
    assert list_admin_domains(boss) == ["a.example"]
    assert "admin-of=a.example" in run("account", "list")
    out = run("account", "admin-of", "boss@a.example", "a.example", "b.example")
    assert "domain admin of a.example, b.example" in out
    assert list_admin_domains(boss) == ["a.example", "b.example"]
    run("account", "admin-of", "boss@a.example")
    assert list_admin_domains(boss) == []
    with pytest.raises(CommandError, match="not a local domain"):
        run("account", "admin-of", "boss@a.example", "c.example")
    with pytest.raises(CommandError, match="no account"):
        run("account", "admin-of", "ghost@a.example", "a.example")
    # An unknown --admin-of domain creates nothing.
    with pytest.raises(CommandError, match="not a local domain"):
        run(
            "account",
            "add",
            "x@a.example",
            "--password-stdin",
            "--admin-of",
            "zz.example",
            stdin="long enough password\n",
        )
    assert not Account.objects.filter(address="x@a.example").exists()


def test_changes_from_the_shell_are_in_the_audit_log() -> None:
    from mailcore.directory.models import AuditLog

    run("domain", "add", "c.example")
    run("account", "add", "ann@c.example", "--password-stdin", stdin="long enough password\n")
    run("alias", "add", "info@c.example", "ann@c.example")
    run("account", "disable", "ann@c.example")
    run("access", "add", "192.0.2.0/24", "REJECT")
    with pytest.raises(CommandError):  # a refused change leaves no audit row
        run("alias", "add", "ann@c.example", "info@c.example")
    rows = list(AuditLog.objects.order_by("id").values_list("actor", "action", "target", "ip"))
    assert [r[1:3] for r in rows] == [
        ("domain.create", "c.example"),
        ("account.create", "ann@c.example"),
        ("alias.create", "info@c.example"),
        ("account.update", "ann@c.example"),
        ("relay_rule.set", "192.0.2.0/24 REJECT"),
    ]
    assert all(actor.startswith("cli:") and ip == "local" for actor, _, _, ip in rows)
