"""Emptying Trash/Junk and reporting spam (store actions, real Maildir files and counters), and
that every kind of store change is published on the account's Redis channel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from mailcore.directory.models import Account
from mailcore.errors import NotEmptiableError, NotFoundError
from mailcore.store.actions import (
    do_create_folder,
    do_delete_folder,
    do_empty_folder,
    do_expunge,
    do_mark_spam,
    do_move,
    do_rename_folder,
    do_set_flags,
)
from mailcore.store.changes import channel_for
from mailcore.store.models import Folder, Message, MessageText
from mailcore.store.reindex import recount_folders
from tests.api.helpers import folder, message_path, put

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/2"


def counters(f: Folder) -> tuple[int, int, int]:
    f.refresh_from_db()
    return f.message_count, f.unseen_count, f.size_bytes


def recounted(account: Account, f: Folder) -> tuple[int, int, int]:
    recount_folders(account)
    return counters(f)


def test_empty_trash_removes_files_rows_and_counts(alice: Account, bob: Account) -> None:
    trash = folder(alice, "trash")
    msgs = [put(alice, subject=f"t{i}", message_id=f"<t{i}@x>") for i in range(3)]
    do_set_flags(acting_account=alice, messages=[msgs[0]], add=["seen"])
    do_move(acting_account=alice, messages=msgs, destination=trash)
    paths = [message_path(alice, m) for m in msgs]
    assert all(p.exists() for p in paths)
    keep = put(alice, subject="inbox stays")
    bobs = put(bob, subject="bob's trash")
    do_move(acting_account=bob, messages=[bobs], destination=folder(bob, "trash"))
    assert counters(trash)[:2] == (3, 2)

    assert do_empty_folder(acting_account=alice, folder=trash) == 3

    assert not any(p.exists() for p in paths)
    assert not Message.objects.filter(folder=trash).exists()
    assert not MessageText.objects.filter(message_id__in=[m.pk for m in msgs]).exists()
    assert counters(trash) == (0, 0, 0) == recounted(alice, trash)
    assert Message.objects.filter(pk=keep.pk).exists() and message_path(alice, keep).exists()
    assert counters(folder(bob, "trash"))[0] == 1  # another account's Trash is untouched
    assert do_empty_folder(acting_account=alice, folder=trash) == 0


def test_empty_junk_in_batches(alice: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mailcore.store.actions.EMPTY_BATCH", 2)
    junk = folder(alice, "junk")
    for i in range(5):
        put(alice, into=junk, subject=f"j{i}", message_id=f"<j{i}@x>")
    assert do_empty_folder(acting_account=alice, folder=junk) == 5
    assert counters(junk) == (0, 0, 0)


def test_only_trash_and_junk_can_be_emptied(alice: Account, bob: Account) -> None:
    msg = put(alice, subject="precious")
    for special in ("inbox", "sent", "drafts"):
        with pytest.raises(NotEmptiableError):
            do_empty_folder(acting_account=alice, folder=folder(alice, special))
    work = do_create_folder(acting_account=alice, name="Work")
    with pytest.raises(NotEmptiableError):
        do_empty_folder(acting_account=alice, folder=work)
    with pytest.raises(NotFoundError):
        do_empty_folder(acting_account=bob, folder=folder(alice, "trash"))
    assert message_path(alice, msg).exists()


def test_expunge_counts_each_row_once(alice: Account) -> None:
    inbox = folder(alice)
    msg = put(alice)
    stale = Message.objects.get(pk=msg.pk)
    assert do_expunge(acting_account=alice, messages=[msg]) == 1
    # A second expunge of the same (already gone) message, as a concurrent request would.
    assert do_expunge(acting_account=alice, messages=[stale]) == 0
    assert counters(inbox) == (0, 0, 0)


def test_report_spam_and_not_spam(alice: Account, bob: Account) -> None:
    inbox, junk = folder(alice), folder(alice, "junk")
    a = put(alice, subject="buy now", message_id="<a@x>")
    b = put(alice, subject="cheap", message_id="<b@x>")
    assert do_mark_spam(acting_account=alice, messages=[a, b], spam=True) == 2
    for m in (a, b):
        m.refresh_from_db()
        assert m.folder_id == junk.pk and "$Junk" in m.keywords
        assert message_path(alice, m).exists() and "/.Junk/" in str(message_path(alice, m))
    assert counters(junk)[:2] == (2, 2) and counters(inbox)[:2] == (0, 0)
    # Already in Junk: reported again, nothing moves.
    assert do_mark_spam(acting_account=alice, messages=[a], spam=True) == 0

    assert do_mark_spam(acting_account=alice, messages=[a], spam=False) == 1
    a.refresh_from_db()
    assert a.folder_id == inbox.pk
    assert "$NotJunk" in a.keywords and "$Junk" not in a.keywords
    assert message_path(alice, a).exists()
    # "Not spam" on a message outside Junk only marks it.
    c = put(alice, subject="fine", message_id="<c@x>")
    assert do_mark_spam(acting_account=alice, messages=[c], spam=False) == 0
    c.refresh_from_db()
    assert c.folder_id == inbox.pk and c.keywords == ["$NotJunk"]
    with pytest.raises(NotFoundError):
        do_mark_spam(acting_account=bob, messages=[c], spam=True)
    c.refresh_from_db()
    assert c.folder_id == inbox.pk


# --- every kind of change is published ----------------------------------------------------------


@pytest.fixture
def channel(alice: Account, settings: Any) -> Iterator[Any]:
    settings.REDIS_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_for(alice.pk))
    yield pubsub
    pubsub.close()
    client.close()


def received(pubsub: Any, want: int, timeout: float = 3.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            got.append(json.loads(message["data"]))
    return got


def test_store_actions_publish_every_kind(
    alice: Account, channel: Any, django_capture_on_commit_callbacks: Any
) -> None:
    inbox, trash = folder(alice), folder(alice, "trash")

    def run(action: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    msg = run(lambda: put(alice, subject="hello"))
    run(lambda: do_set_flags(acting_account=alice, messages=[msg], add=["seen"]))
    run(lambda: do_move(acting_account=alice, messages=[msg], destination=trash))
    run(lambda: do_empty_folder(acting_account=alice, folder=trash))
    work = run(lambda: do_create_folder(acting_account=alice, name="Work"))
    work_id = work.pk  # delete() clears it
    run(lambda: do_rename_folder(acting_account=alice, folder=work, name="Projects"))
    run(lambda: do_delete_folder(acting_account=alice, folder=work))
    spam = run(lambda: put(alice, subject="spam"))
    run(lambda: do_mark_spam(acting_account=alice, messages=[spam], spam=True))

    seen = [
        (n["kind"], n["folder_id"], tuple(n["message_ids"]), n["extra"].get("op"))
        for n in received(channel, 12)
    ]
    junk = folder(alice, "junk")
    expected = [
        ("add", inbox.pk, (msg.pk,), None),
        ("flags", inbox.pk, (msg.pk,), None),
        ("expunge", inbox.pk, (msg.pk,), None),
        ("add", trash.pk, (msg.pk,), None),
        ("expunge", trash.pk, (msg.pk,), None),
        ("folder", work_id, (), "create"),
        ("folder", work_id, (), "rename"),
        ("folder", work_id, (), "delete"),
        ("add", inbox.pk, (spam.pk,), None),
        ("flags", inbox.pk, (spam.pk,), None),
        ("expunge", inbox.pk, (spam.pk,), None),
        ("add", junk.pk, (spam.pk,), None),
    ]
    # Other test runs share the Redis server (channels are per account id): only ours count.
    assert [s for s in seen if s in expected] == expected
