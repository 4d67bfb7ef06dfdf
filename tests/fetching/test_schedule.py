"""The schedule and the password box (issue 11 §7, §8): the beat task queues due accounts
(and not again while queued), a run sets the next one by the account's interval, and the
password key can be rotated with `manage.py fetch rekey`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import FetchError
from mailcore.fetching import actions, secrets
from mailcore.fetching.models import ExternalAccount
from mailcore.fetching.tasks import fetch_due, fetch_external
from tests.fetching.conftest import msg, subjects
from tests.fetching.dovecot import Dovecot

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_queues_due_accounts_once_and_runs_set_the_next_time(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    queued: list[int] = []
    actions.connect_dispatcher(queued.append)  # what the broker would get
    try:
        ext = add_external(
            protocol="imap", host="localhost", port=dovecot.ports["imaps"], username=remote_user
        )
        assert queued == [ext.pk]  # its first run, at once
        off = add_external(
            protocol="pop3", host="localhost", port=dovecot.ports["pop3s"], username=remote_user
        )
        ExternalAccount.objects.filter(pk=off.pk).update(enabled=False)
        queued.clear()
        assert fetch_due() == 1 and queued == [ext.pk]  # due; the disabled one is not
        assert fetch_due() == 0  # queued already: not again until FETCH_REDISPATCH_SECONDS
        dovecot.put(remote_user, msg("scheduled"))
        assert fetch_external(ext.pk) == {"ran": True, "fetched": 1, "deleted": 0, "error": ""}
        ext.refresh_from_db()
        expected = ext.last_run_at + timedelta(minutes=ext.interval_minutes)
        assert abs((ext.next_run_at - expected).total_seconds()) < 1
        assert fetch_due() == 0
        ExternalAccount.objects.filter(pk=ext.pk).update(next_run_at=timezone.now())
        assert fetch_due() == 1
        assert subjects(alice) == ["scheduled"]
    finally:
        from mailcore.fetching.tasks import fetch_external as task

        actions.connect_dispatcher(task.delay)


def test_key_rotation(settings, alice: Account) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FETCH_ENCRYPTION_KEY = old
    token = secrets.encrypt("remote secret")
    ExternalAccount.objects.create(
        account=alice,
        protocol="imap",
        host="mail.example.net",
        port=993,
        username="me",
        password_encrypted=token,
        next_run_at=timezone.now(),
    )
    settings.FETCH_ENCRYPTION_KEY, settings.FETCH_ENCRYPTION_OLD_KEYS = new, old
    call_command("fetch", "rekey")
    settings.FETCH_ENCRYPTION_OLD_KEYS = ""
    ext = ExternalAccount.objects.get()
    assert ext.password_encrypted != token
    assert secrets.decrypt(ext.password_encrypted) == "remote secret"  # the new key alone
    settings.FETCH_ENCRYPTION_KEY = Fernet.generate_key().decode()  # a key that never was
    with pytest.raises(FetchError) as exc:
        secrets.decrypt(ext.password_encrypted)
    assert exc.value.reason == "password_unreadable"
    run = actions.do_fetch(ext.pk)  # the run says so, in words the user can act on
    assert run.error is not None and run.error.reason == "password_unreadable"


def test_deleted_target_folder_falls_back_to_inbox(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    from mailcore.store.actions import do_create_folder, do_delete_folder

    folder = do_create_folder(acting_account=alice, name="Old")
    ext = add_external(
        protocol="pop3",
        host="localhost",
        port=dovecot.ports["pop3s"],
        username=remote_user,
        folder_id=folder.pk,
    )
    do_delete_folder(acting_account=alice, folder=folder)
    ext.refresh_from_db()
    assert ext.folder_id is None
    dovecot.put(remote_user, msg("to the inbox"))
    assert actions.do_fetch(ext.pk).fetched == 1
    assert subjects(alice) == ["to the inbox"]


def test_pointed_at_another_mailbox_takes_its_mail_too(
    alice: Account, dovecot: Dovecot, add_external
) -> None:
    """Two mailboxes with the same UIDVALIDITY, whose first messages have the same UID (1):
    after the account is moved from one to the other, the other's message 1 is new, not
    "already taken" (the fetch key names the mailbox, not only UIDVALIDITY and UID)."""
    from mailcore.fetching.actions import ExternalInput, do_update_external_account

    first, second = dovecot.new_user(), dovecot.new_user()
    for user in (first, second):
        dovecot.set_uidvalidity(user, 1234567)
    dovecot.put(first, msg("first box"))
    dovecot.put(second, msg("second box"))
    ext = add_external(
        protocol="imap", host="localhost", port=dovecot.ports["imaps"], username=first
    )
    assert actions.do_fetch(ext.pk).fetched == 1
    do_update_external_account(
        acting_account=alice,
        external=ExternalAccount.objects.get(pk=ext.pk),
        data=ExternalInput(
            protocol="imap",
            host="localhost",
            port=dovecot.ports["imaps"],
            security="tls",
            username=second,
            password="",
        ),
    )
    assert actions.do_fetch(ext.pk).fetched == 1
    assert subjects(alice) == ["first box", "second box"]


def test_arrivals_are_announced_to_imap_idle_and_the_web(
    settings, alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    """The store's change notice (what IMAP IDLE and the web's event stream listen to) goes out
    for fetched mail as for any arrival."""
    import json
    import os
    import time

    import redis

    from mailcore.store.changes import channel_for

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2"  # as tests/store
    settings.REDIS_URL = url
    client = redis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_for(alice.pk))
    try:
        ext = add_external(
            protocol="imap", host="localhost", port=dovecot.ports["imaps"], username=remote_user
        )
        dovecot.put(remote_user, msg("announced"))
        assert actions.do_fetch(ext.pk).fetched == 1
        got: list[dict[str, object]] = []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                got.append(json.loads(message["data"]))
        assert got and got[0]["kind"] == "add", got
    finally:
        pubsub.close()
        client.close()
