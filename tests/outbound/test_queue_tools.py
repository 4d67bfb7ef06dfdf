"""`manage.py queue flush|retry|delete|bounce`, `mailq`, and `dkim generate|show`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mailcore.delivery.actions import do_enqueue, due_entries
from mailcore.delivery.models import Direction, DkimKey, QueueEntry
from mailcore.store.models import Message
from tests.conftest import database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
MSG = b"From: alice@example.com\r\nTo: x@far.test\r\nSubject: queued\r\n\r\nbody\r\n"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def outbound(sender: str = "alice@example.com") -> QueueEntry:
    entry = do_enqueue(
        sender=sender, recipients=["x@far.test"], data=MSG, direction=Direction.OUTBOUND
    )
    QueueEntry.objects.filter(pk=entry.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1),
        attempts=2,
        last_error="4.4.1 connection refused",
    )
    entry.recipients.update(state="deferred", last_reply="4.4.1 connection refused")
    return entry


def test_flush_and_retry_make_entries_due(alice) -> None:
    a, b = outbound(), outbound()
    QueueEntry.objects.filter(pk=b.pk).update(state="held")
    assert due_entries() == []
    assert "flushed 2 entries" in run("queue", "flush")
    assert sorted(due_entries()) == sorted([a.pk, b.pk])
    QueueEntry.objects.update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert "due now" in run("queue", "retry", a.queue_id)
    assert due_entries() == [a.pk]


def test_delete_removes_rows_and_spool(alice, settings) -> None:
    entry = outbound()
    path = Path(settings.SPOOL_DIR) / entry.spool_name
    assert path.exists()
    run("queue", "delete", entry.queue_id)
    assert not QueueEntry.objects.exists() and not path.exists()
    with pytest.raises(CommandError, match="no queue entry"):
        run("queue", "delete", entry.queue_id)


def test_bounce_sends_one_dsn(alice, settings) -> None:
    entry = outbound()
    assert "bounced 1 recipient" in run("queue", "bounce", entry.queue_id)
    entry.refresh_from_db()
    assert entry.state == "done" and entry.recipients.get().state == "bounced"
    assert not (Path(settings.SPOOL_DIR) / entry.spool_name).exists()
    [dsn] = QueueEntry.objects.filter(origin__startswith="dsn:")
    assert dsn.sender == "" and dsn.direction == "in"
    assert list(dsn.recipients.values_list("address", flat=True)) == ["alice@example.com"]
    out = run("mailq")
    assert dsn.queue_id in out and "<>" in out


def test_bounce_from_the_command_line_rings_the_doorbell_before_it_exits(
    alice, settings, celery_worker_process
) -> None:
    # `manage.py queue bounce` in its own process, as an admin runs it: the DSN was rung on
    # commit, but the doorbell's thread died with the process before it reached the broker,
    # so the DSN waited for the next sweep (the worker here runs none: it would never come).
    entry = outbound()
    celery_worker_process()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "SPOOL_DIR": str(settings.SPOOL_DIR),
        "BROKER_DIR": str(settings.BROKER_DIR),
        "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "queue", "bounce", entry.queue_id],
        cwd=Path(__file__).resolve().parent.parent.parent,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    [dsn] = QueueEntry.objects.filter(origin__startswith="dsn:")
    wait_for(lambda: QueueEntry.objects.get(pk=dsn.pk).state == "done")
    assert Message.objects.filter(account=alice).count() == 1  # the DSN, in alice's inbox


def test_bounce_of_null_sender_sends_nothing(alice) -> None:
    entry = outbound(sender="")
    run("queue", "bounce", entry.queue_id)
    assert not QueueEntry.objects.filter(origin__startswith="dsn:").exists()


def test_dkim_generate_and_show(db) -> None:
    out = run("dkim", "generate", "Example.COM", "--ed25519", "--selector", "s1")
    assert 's1._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; p=' in out
    assert "k=ed25519" in out
    keys = DkimKey.objects.filter(domain="example.com", state="active")
    assert {k.algorithm for k in keys} == {"rsa-sha256", "ed25519-sha256"}
    shown = run("dkim", "show", "example.com")
    assert "s1._domainkey.example.com." in shown and "k=ed25519" in shown
    # A new RSA key is pending (s1 keeps signing until it is activated); selectors are unique.
    run("dkim", "generate", "example.com", "--selector", "s2")
    assert DkimKey.objects.get(selector="s1").is_active
    assert DkimKey.objects.get(selector="s2").state == "pending"
    with pytest.raises(CommandError, match="already exists"):
        run("dkim", "generate", "example.com", "--selector", "s2")
    with pytest.raises(CommandError, match="no DKIM key"):
        run("dkim", "show", "other.example")
