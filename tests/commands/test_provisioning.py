"""The shell commands a sysadmin uses: domain, account, alias, mailq, reindex --discover."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailcore.auth import verify_credentials
from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.directory.models import Account, Alias, Domain
from mailcore.store.actions import do_append, do_set_flags
from mailcore.store.models import Folder, Message

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    finally:
        sys.stdin = old
    return out.getvalue()


def test_domain_account_alias_lifecycle(settings) -> None:
    assert "added xn--bcher-kva.example" in run("domain", "add", "Bücher.example")
    assert "(bücher.example)" in run("domain", "list")
    out = run(
        "account",
        "add",
        "Kim@BÜCHER.example",
        "--password-stdin",
        "--name",
        "Kim",
        stdin="a good password\n",
    )
    assert "created kim@xn--bcher-kva.example" in out
    assert verify_credentials("kim@bücher.example", "a good password") is not None
    assert verify_credentials("kim@bücher.example", "wrong password") is None
    run(
        "account",
        "passwd",
        "kim@xn--bcher-kva.example",
        "--password-stdin",
        stdin="another one 2\n",
    )
    assert verify_credentials("kim@xn--bcher-kva.example", "another one 2") is not None
    run("account", "disable", "kim@xn--bcher-kva.example")
    assert verify_credentials("kim@xn--bcher-kva.example", "another one 2") is None
    assert "disabled" in run("account", "list")
    run("account", "enable", "kim@xn--bcher-kva.example")

    assert "root@xn--bcher-kva.example → kim@xn--bcher-kva.example" in run(
        "alias", "add", "root@bücher.example", "kim@bücher.example"
    )
    run("alias", "add", "@bücher.example", "kim@bücher.example")
    assert "@xn--bcher-kva.example\tkim@xn--bcher-kva.example" in run("alias", "list")
    with pytest.raises(CommandError, match="loop"):
        run("alias", "add", "kim2@bücher.example", "root@bücher.example")
        run("alias", "add", "root@bücher.example", "kim2@bücher.example")
    run("alias", "remove", "@bücher.example")
    assert not Alias.objects.filter(source="@xn--bcher-kva.example").exists()

    with pytest.raises(CommandError, match="still has 1 account"):
        run("domain", "remove", "bücher.example")
    run("account", "remove", "kim@bücher.example")
    run("domain", "remove", "bücher.example")
    assert not Domain.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("account", "add", "x@nowhere.example", "--password-stdin"), "not a local domain"),
        (("account", "add", "bad address", "--password-stdin"), "invalid address"),
        (("account", "add", "short@example.com", "--password-stdin"), "at least 8"),
        (("domain", "add", "bad_domain.example"), "invalid domain"),
        (("alias", "add", "a@elsewhere.example", "b@example.com"), "not a local domain"),
        (("account", "passwd", "ghost@example.com", "--password-stdin"), "no account"),
    ],
)
def test_errors_are_one_line_and_change_nothing(
    domain, args: tuple[str, ...], message: str
) -> None:
    stdin = "tiny\n" if "short@example.com" in args else "long enough password\n"
    with pytest.raises(CommandError, match=message):
        run(*args, stdin=stdin)
    assert Account.objects.count() == 0


def test_mailq_shows_entries_with_state_and_reply(alice) -> None:
    assert run("mailq") == "Mail queue is empty\n"
    entry = do_enqueue(sender="bob@remote.example", recipients=["nobody@example.com"], data=b"x")
    out = run("mailq")
    assert entry.queue_id in out and "<bob@remote.example>" in out and "[pending]" in out
    do_process_entry(entry.pk)
    # The bounce left the queue; what waits now is its DSN to the sender, from <>.
    out = run("mailq")
    assert entry.queue_id not in out and "<>" in out and "bob@remote.example [pending]" in out
    assert "[bounced] (5.1.1" in run("mailq", "--all")


def test_reindex_discover_after_the_whole_database_is_lost(make_account) -> None:
    alice = make_account("alice@example.com")
    make_account("밥@example.com")
    inbox = Folder.objects.get(account=alice, special_use="inbox")
    msgs = [
        do_append(acting_account=alice, folder=inbox, data=f"Subject: {n}\r\n\r\nx\r\n".encode())
        for n in range(3)
    ]
    do_set_flags(acting_account=alice, messages=msgs[:2], add=["seen"])
    do_set_flags(acting_account=alice, messages=msgs[2:], add=["flagged"])
    before = sorted(Message.objects.values_list("maildir_key", "uid", "seen", "flagged", "subject"))

    Message.objects.all().delete()
    Folder.objects.all().delete()
    Account.objects.all().delete()
    Domain.objects.all().delete()
    with pytest.raises(CommandError):
        run("reindex", "--discover", "--no-progress")
    out = run("reindex", "--all", "--discover", "--no-progress")
    assert "recreated 2 account(s) without a password" in out
    assert sorted(Account.objects.values_list("address", flat=True)) == [
        "alice@example.com",
        "밥@example.com",
    ]
    after = sorted(Message.objects.values_list("maildir_key", "uid", "seen", "flagged", "subject"))
    assert after == before
    assert verify_credentials("alice@example.com", "correct horse 1") is None  # no password yet
