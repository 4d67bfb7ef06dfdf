"""`manage.py sending`: hold, list, release, delete-held and policy from the shell, each
audited as cli:<user>; held mail stays in the queue until released."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailcore.delivery import containment
from mailcore.delivery.models import EntryState, QueueEntry
from mailcore.delivery.submit import do_submit
from mailcore.directory.models import AuditLog
from tests.conftest import run_queue

pytestmark = pytest.mark.django_db(transaction=True)


def sending(*args: str) -> str:
    out = StringIO()
    call_command("sending", *args, stdout=out)
    return out.getvalue()


def submit(alice, n: int) -> None:  # type: ignore[no-untyped-def]
    do_submit(
        acting_account=alice,
        envelope_sender="alice@example.com",
        recipients=["bob@example.com"],
        data=f"From: alice@example.com\r\nSubject: n{n}\r\n\r\nhi\r\n".encode(),
        source="smtp",
    )


def test_hold_list_release_and_delete_from_the_shell(alice, bob) -> None:
    assert "alice@example.com held" in sending("hold", "alice@example.com", "--detail", "phish")
    submit(alice, 1)
    submit(alice, 2)
    run_queue()
    states = list(QueueEntry.objects.filter(authenticated_as=alice).values_list("state", flat=True))
    assert states == [EntryState.PAUSED, EntryState.PAUSED]
    listed = sending("list")
    assert "alice@example.com\tadmin" in listed and "2 messages\t2 recipients\tphish" in listed
    first = QueueEntry.objects.filter(authenticated_as=alice).order_by("pk").first()
    assert first is not None
    assert containment.do_delete_held(alice, queue_ids=[first.queue_id]) == [first.queue_id]
    assert "released: 1 messages queued" in sending("release", "alice@example.com")
    run_queue()
    assert list(
        QueueEntry.objects.filter(authenticated_as=alice).values_list("state", flat=True)
    ) == [EntryState.DONE]
    assert sending("list") == ""
    sending("hold", "alice@example.com")
    submit(alice, 3)
    assert "1 held messages of alice@example.com deleted" in sending(
        "delete-held", "alice@example.com"
    )
    assert set(AuditLog.objects.values_list("action", flat=True)) >= {
        "sending.hold",
        "sending.release",
        "sending.delete_held",
    }
    assert AuditLog.objects.filter(action="sending.release").get().actor.startswith("cli:")


def test_policy_override_from_the_shell(alice) -> None:
    assert "exempt=True" in sending("policy", "alice@example.com", "--exempt")
    assert containment.limits_for(alice).exempt
    sending("policy", "alice@example.com", "--daily", "3")
    assert containment.limits_for(alice).daily == 3
    sending("policy", "alice@example.com", "--clear")
    assert containment.limits_for(alice).source == "default"
    with pytest.raises(CommandError):
        sending("policy", "alice@example.com", "--burst", "0")
    with pytest.raises(CommandError):
        sending("hold", "nobody@example.com")
