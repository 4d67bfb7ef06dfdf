"""`access add` and the importers (access, mynetworks) share one rule for which wide networks
need --force: loopback and domain-keyed rules do not, client networks wider than /24 (/56)
and RELAY keyed on a (forgeable) sender domain do."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailcore.directory.models import RelayRule

pytestmark = pytest.mark.django_db


def access(*args: str) -> str:
    out = io.StringIO()
    call_command("access", "add", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_loopback_needs_no_force_from_the_command_as_from_the_importer() -> None:
    assert access("127.0.0.0/8", "relay").startswith("127.0.0.0/8\t")
    assert access("::1", "relay").startswith("::1/128\t")
    out = io.StringIO()
    call_command("import_mynetworks", "127.0.0.0/8 [::1]/128", stdout=out)
    assert "already present 2" in out.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ("0.0.0.0/0", "relay", "--to", "backup.example"),  # sendmail To:backup.example RELAY
        ("0.0.0.0/0", "reject", "--from", "spam.example"),  # From:spam.example REJECT
        ("::/0", "discard", "--from", "spam.example"),
    ],
)
def test_domain_keyed_wide_rules_need_no_force(args: tuple[str, ...]) -> None:
    access(*args)
    assert RelayRule.objects.count() == 1


@pytest.mark.parametrize(
    "args",
    [
        ("10.0.0.0/8", "relay"),
        ("2001:db8::/48", "reject"),
        ("0.0.0.0/0", "relay", "--from", "partner.example"),  # forgeable: stays forced
        ("126.0.0.0/7", "relay"),  # contains loopback, but is not only loopback
    ],
)
def test_wide_client_networks_still_need_force(args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError, match="wider than"):
        access(*args)
    assert RelayRule.objects.count() == 0
    access(*args, "--force")
    assert RelayRule.objects.count() == 1
