"""`mailq` names what waits as Postfix does: a tried entry waiting for its next attempt is
"deferred" (with that time), one never tried "queued", one a worker holds "active"; a refused
connection reads "connection refused", not "host … said" (nobody said anything)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from mailcore.delivery.actions import _claim, do_enqueue, do_process_entry
from mailcore.delivery.models import Direction, QueueEntry

pytestmark = pytest.mark.django_db(transaction=True)
MSG = b"From: alice@example.com\r\nTo: carol@down.test\r\nSubject: hi\r\n\r\nbody\r\n"


def mailq() -> str:
    out = io.StringIO()
    call_command("mailq", stdout=out)
    return out.getvalue()


def test_a_refused_connection_is_deferred_with_its_next_attempt(alice, zone, remote_port) -> None:  # type: ignore[no-untyped-def]
    zone.add("down.test", "MX", "10 mx.down.test.")
    zone.add("mx.down.test", "A", "127.0.0.4")  # nothing listens there
    entry = do_enqueue(
        sender="alice@example.com",
        recipients=["carol@down.test"],
        data=MSG,
        direction=Direction.OUTBOUND,
    )
    line = next(x for x in mailq().splitlines() if x.startswith(entry.queue_id))
    assert re.search(r" queued +<alice@example.com>", line)

    assert do_process_entry(entry.pk) == "deferred"
    entry.refresh_from_db()
    out = mailq()
    line = next(x for x in out.splitlines() if x.startswith(entry.queue_id))
    assert re.search(r" deferred +<alice@example.com>", line), out
    due = timezone.localtime(entry.next_attempt_at).strftime("%a %b %d %H:%M:%S")
    assert f"next attempt {due} (in " in line
    reply = entry.recipients.get().last_reply
    assert reply == f"4.4.1 connect to mx.down.test[127.0.0.4]:{remote_port}: connection refused"
    assert "said" not in out and "Errno" not in out
    assert f"carol@down.test [deferred] ({reply})" in out

    # Held by a worker right now: "active".
    QueueEntry.objects.filter(pk=entry.pk).update(next_attempt_at=timezone.now())
    assert _claim([entry.pk], "test")
    line = next(x for x in mailq().splitlines() if x.startswith(entry.queue_id))
    assert re.search(r" active +<alice@example.com>", line)
    assert "next attempt" not in line
