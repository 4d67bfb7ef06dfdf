"""postmaster@ with nowhere to go (issue 9, item 13). RFC 5321 §4.5.1 makes us accept it at
RCPT, so instead of bouncing it afterwards delivery keeps it in the queue until a route exists;
`domain add`, the runall banner and the console say so, and how to fix it."""

from __future__ import annotations

import io
import smtplib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient, RecipientState
from mailcore.directory.actions import do_create_account, do_create_domain, do_set_alias
from mailcore.directory.queries import list_unrouted_role_addresses
from mailcore.management.commands.runall import Command as RunAll
from mailcore.store.models import Message

pytestmark = pytest.mark.django_db

MAIL = b"From: someone@remote.test\r\nSubject: your server\r\n\r\nhello\r\n"


def domain_add(name: str) -> str:
    out = io.StringIO()
    call_command("domain", "add", name, stdout=out)
    return out.getvalue()


def due_again(entry: QueueEntry) -> None:
    QueueEntry.objects.filter(pk=entry.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1), locked_until=None
    )


def test_domain_add_says_how_to_route_postmaster_and_abuse(settings) -> None:
    settings.POSTMASTER_ADDRESS = ""
    out = domain_add("example.com")
    assert out.splitlines() == [
        "added example.com",
        "WARNING: postmaster@example.com has nowhere to go (it is accepted (RFC 5321) but kept "
        "in the queue): create an account or `alias add postmaster@example.com <admin "
        "address>`, or set POSTMASTER_ADDRESS",
        "WARNING: abuse@example.com has nowhere to go (mail to it is refused): create an "
        "account or `alias add abuse@example.com <admin address>`",
    ]
    # The first admin account takes postmaster@ of every domain; abuse@ still needs a route.
    do_create_account("admin@example.com", password="correct horse 1", is_staff=True)
    out = domain_add("example.net")
    assert "postmaster@" not in out and "WARNING: abuse@example.net has nowhere" in out
    do_set_alias("abuse@example.net", ["admin@example.com"])
    assert [g.address for g in list_unrouted_role_addresses()] == ["abuse@example.com"]


def test_runall_banner_warns_while_postmaster_has_nowhere_to_go(settings, tmp_path: Path) -> None:
    settings.POSTMASTER_ADDRESS = ""
    do_create_domain("example.com")
    do_set_alias("abuse@example.com", ["ops@remote.test"])
    out = io.StringIO()
    RunAll(stdout=out)._banner(False, tmp_path / "runall.log")
    warnings = [line for line in out.getvalue().splitlines() if "WARNING" in line]
    assert warnings == [
        "  WARNING: postmaster@example.com has nowhere to go (it is accepted (RFC 5321) but kept "
        "in the queue): create an account or `alias add postmaster@example.com <admin "
        "address>`, or set POSTMASTER_ADDRESS"
    ]
    settings.POSTMASTER_ADDRESS = "ops@remote.test"  # an outside address is a route too
    out = io.StringIO()
    RunAll(stdout=out)._banner(False, tmp_path / "runall.log")
    assert "WARNING" not in out.getvalue()


@pytest.mark.parametrize("route", ["none", "alias-to-missing-root"])
def test_unrouted_postmaster_is_kept_in_the_queue_not_bounced(settings, route: str) -> None:
    settings.POSTMASTER_ADDRESS = ""
    do_create_domain("example.com")
    if route == "alias-to-missing-root":  # a stock /etc/aliases imported with --allow-dangling
        do_set_alias("postmaster@example.com", ["root@example.com"])
    entry = do_enqueue(
        sender="someone@remote.test", recipients=["postmaster@example.com"], data=MAIL
    )
    assert do_process_entry(entry.pk) == "deferred"
    rcpt = QueueRecipient.objects.get(entry=entry)
    assert rcpt.state == RecipientState.DEFERRED
    assert rcpt.last_reply.startswith("4.3.0 postmaster@example.com has nowhere to go yet")
    assert "POSTMASTER_ADDRESS" in rcpt.last_reply
    # No bounce to the sender: nothing outbound was queued.
    assert not QueueEntry.objects.filter(direction=Direction.OUTBOUND).exists()
    # Once there is somewhere to go, the next retry delivers it.
    admin = do_create_account("admin@example.com", password="correct horse 1", is_staff=True)
    if route == "alias-to-missing-root":
        do_set_alias("root@example.com", ["admin@example.com"])
    due_again(entry)
    assert do_process_entry(entry.pk) == "done"
    assert QueueRecipient.objects.get(entry=entry).state == RecipientState.DELIVERED
    assert Message.objects.filter(account=admin, subject="your server").count() == 1


def test_other_unknown_recipients_still_bounce(settings) -> None:
    settings.POSTMASTER_ADDRESS = ""
    do_create_domain("example.com")
    do_set_alias("root@example.com", ["gone@example.com"])
    entry = do_enqueue(sender="someone@remote.test", recipients=["root@example.com"], data=MAIL)
    do_process_entry(entry.pk)
    assert QueueRecipient.objects.get(entry=entry).state == RecipientState.BOUNCED


@pytest.mark.django_db(transaction=True)
def test_smtp_accepts_postmaster_with_no_route(settings, smtp_factory) -> None:  # type: ignore[no-untyped-def]
    settings.POSTMASTER_ADDRESS = ""
    do_create_domain("example.com")
    host, port = smtp_factory()
    with smtplib.SMTP(host, port) as client:
        client.ehlo("remote.test")
        client.mail("someone@remote.test")
        assert client.rcpt("postmaster@example.com")[0] == 250
        assert client.rcpt("abuse@example.com")[0] == 550


def test_smtp_startup_logs_the_warning(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    from mailcore.smtp.__main__ import _warn_unrouted_role_addresses

    settings.POSTMASTER_ADDRESS = ""
    do_create_domain("example.com")
    do_set_alias("abuse@example.com", ["ops@remote.test"])
    with caplog.at_level("WARNING", logger="mailroom"):
        _warn_unrouted_role_addresses()
    assert [r.getMessage() for r in caplog.records] == [
        "smtp: WARNING: postmaster@example.com has nowhere to go (it is accepted (RFC 5321) "
        "but kept in the queue): create an account or `alias add postmaster@example.com "
        "<admin address>`, or set POSTMASTER_ADDRESS"
    ]


def test_the_check_costs_a_few_queries_whatever_the_number_of_domains(
    settings,  # type: ignore[no-untyped-def]
    django_assert_max_num_queries,
) -> None:
    settings.POSTMASTER_ADDRESS = ""
    for n in range(40):
        do_create_domain(f"d{n}.example")
    do_create_account("admin@d0.example", password="correct horse 1", is_staff=True)
    with django_assert_max_num_queries(12):
        gaps = list_unrouted_role_addresses()
    # postmaster@ everywhere goes to the admin; abuse@ nowhere.
    assert sorted(g.address for g in gaps) == sorted(f"abuse@d{n}.example" for n in range(40))
