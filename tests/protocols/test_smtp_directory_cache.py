"""The directory memo of the SMTP listener (mailcore.directory.cache): a repeated lookup costs
no query; a change made in this process is seen at once, one made elsewhere within the TTL;
refusals are never memoised."""

from __future__ import annotations

import smtplib
import time

import pytest

from mailcore.directory import cache as dircache
from mailcore.directory.actions import (
    do_add_relay_rule,
    do_create_account,
    do_set_account_active,
    do_set_domain_active,
)
from mailcore.directory.models import Account
from mailcore.directory.queries import Resolution

pytestmark = pytest.mark.django_db(transaction=True)


def rcpt(addr: tuple[str, int], recipient: str) -> int:
    with smtplib.SMTP(*addr, timeout=10) as c:
        c.ehlo("client.remote.example")
        c.mail("bob@remote.example")
        code, _ = c.rcpt(recipient)
        return code


def test_a_repeated_lookup_costs_no_query(alice, django_assert_num_queries) -> None:
    first = dircache.recipient("alice@example.com")
    rules = dircache.access_rules()
    with django_assert_num_queries(0):
        assert dircache.recipient("alice@example.com") == first
        assert dircache.access_rules() == rules
    assert first.resolution is Resolution.ACCOUNT


def test_changes_in_this_process_apply_at_once(alice, smtp_server) -> None:
    assert rcpt(smtp_server, "alice@example.com") == 250  # now memoised
    do_set_account_active("alice@example.com", False)
    assert rcpt(smtp_server, "alice@example.com") == 550
    do_set_account_active("alice@example.com", True)
    assert rcpt(smtp_server, "alice@example.com") == 250
    do_add_relay_rule("127.0.0.1/32", "reject")
    assert rcpt(smtp_server, "alice@example.com") == 554
    # Domain.objects.update() sends no signal: the action clears the memo itself.
    do_set_domain_active("example.com", False)
    assert dircache.recipient("alice@example.com").resolution is not Resolution.ACCOUNT


def test_refusals_are_not_memoised(alice, smtp_server) -> None:
    assert rcpt(smtp_server, "carol@example.com") == 550
    do_create_account("carol@example.com", password="secret-password-1")
    assert rcpt(smtp_server, "carol@example.com") == 250


def test_a_change_elsewhere_is_seen_within_the_ttl(alice, monkeypatch) -> None:
    monkeypatch.setattr(dircache, "TTL_SECONDS", 0.3)
    assert dircache.recipient("alice@example.com").resolution is Resolution.ACCOUNT
    # update() sends no signal: as when the admin console (another process) makes the change.
    Account.objects.filter(address="alice@example.com").update(is_active=False)
    assert dircache.recipient("alice@example.com").resolution is Resolution.ACCOUNT
    time.sleep(0.4)
    assert dircache.recipient("alice@example.com").resolution is Resolution.DISABLED
