"""Fetching from real servers on loopback (issue 11 §8, §10): Mailroom's own POP3 and IMAP
listeners and Debian's Dovecot, with "leave a copy" on and off; each message arrives exactly
once, and the remote copy goes only when asked to."""

from __future__ import annotations

import pytest

from mailcore.directory.models import Account
from mailcore.fetching.actions import do_fetch
from mailcore.fetching.models import ExternalAccount, FetchedId
from mailcore.store.actions import do_create_folder
from mailcore.store.models import Message, Source
from tests.fetching.conftest import PASSWORD, add, inbox, msg, subjects
from tests.fetching.dovecot import Dovecot

pytestmark = pytest.mark.django_db(transaction=True)


def run(ext: ExternalAccount) -> tuple[int, int]:
    result = do_fetch(ext.pk)
    assert result.ran
    assert result.error is None, result.error
    return result.fetched, result.deleted


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_mailroom_listener_keep_copy(
    protocol: str, alice: Account, bob: Account, mailroom_servers: dict[str, int], add_external
) -> None:
    for i in range(3):
        add(bob, msg(f"old {i}"))
    ext = add_external(
        protocol=protocol,
        port=mailroom_servers[f"{protocol}s"],
        username=bob.address,
        password=PASSWORD,
        allow_self_signed=True,  # Mailroom's test certificate is self-signed
        keep=True,
    )
    assert len(ext.cert_sha256) == 64  # pinned at the connection test
    assert run(ext) == (3, 0)
    assert subjects(alice) == ["old 0", "old 1", "old 2"]
    assert set(Message.objects.filter(account=alice).values_list("source", flat=True)) == {
        Source.IMPORT
    }
    # Nothing new: nothing taken twice; the copies stay on the other server.
    assert run(ext) == (0, 0)
    add(bob, msg("old 3"))
    assert run(ext) == (1, 0)
    assert subjects(alice) == ["old 0", "old 1", "old 2", "old 3"]
    assert Message.objects.filter(folder=inbox(bob)).count() == 4
    ext.refresh_from_db()
    assert ext.total_fetched == 4 and ext.last_fetched == 1 and ext.last_error_code == ""
    assert ext.last_run_at is not None and ext.running_until is None


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_mailroom_listener_delete_into_folder(
    protocol: str, alice: Account, bob: Account, mailroom_servers: dict[str, int], add_external
) -> None:
    for i in range(3):
        add(bob, msg(f"move {i}"))
    target = do_create_folder(acting_account=alice, name="Old address")
    ext = add_external(
        protocol=protocol,
        port=mailroom_servers[f"{protocol}s"],
        username=bob.address,
        password=PASSWORD,
        allow_self_signed=True,
        keep=False,
        folder_id=target.pk,
    )
    assert run(ext) == (3, 3)
    assert subjects(alice, target) == ["move 0", "move 1", "move 2"]
    assert subjects(alice) == []
    # Gone from bob's INBOX (to Trash or for good: POP3_DELETE_ACTION / IMAP EXPUNGE).
    assert Message.objects.filter(folder=inbox(bob)).count() == 0
    assert not FetchedId.objects.filter(external=ext).exists()
    assert run(ext) == (0, 0)


@pytest.mark.parametrize(
    ("protocol", "security"),
    [("pop3", "starttls"), ("pop3", "tls"), ("imap", "starttls"), ("imap", "tls")],
)
def test_dovecot_verified_certificate(
    protocol: str,
    security: str,
    alice: Account,
    dovecot: Dovecot,
    remote_user: str,
    add_external,
) -> None:
    """Dovecot's certificate is checked for real (its CA in FETCH_CA_FILE, name localhost)."""
    for i in range(2):
        dovecot.put(remote_user, msg(f"dovecot {i}"))
    plain_port = dovecot.ports[protocol if security == "starttls" else f"{protocol}s"]
    ext = add_external(
        protocol=protocol,
        host="localhost",
        port=plain_port,
        security=security,
        username=remote_user,
        keep=True,
    )
    assert ext.cert_sha256 == ""  # verified, not pinned
    assert run(ext) == (2, 0)
    assert run(ext) == (0, 0)
    assert dovecot.count(remote_user) == 2
    ExternalAccount.objects.filter(pk=ext.pk).update(keep=False)
    dovecot.put(remote_user, msg("dovecot 2"))
    fetched, deleted = run(ext)
    assert fetched == 1
    if protocol == "pop3":
        assert deleted == 3  # the two kept earlier are known already: taken, so deleted now
        assert dovecot.count(remote_user) == 0
    else:
        assert deleted == 1  # IMAP deletes what this run took (the earlier ones stay)
        assert dovecot.count(remote_user) == 2
    assert subjects(alice) == ["dovecot 0", "dovecot 1", "dovecot 2"]
