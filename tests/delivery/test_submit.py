"""do_submit() called directly, as the REST API will: sender checks, routing, limits, the Sent
copy (once, Bcc kept) and all-or-nothing behaviour when the spool fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcore.delivery.actions import do_process_entry
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.delivery.submit import do_submit
from mailcore.errors import (
    DailyLimitError,
    RecipientRejectedError,
    SenderNotAllowedError,
    StorageError,
    TooManyRecipientsError,
    UserError,
)
from mailcore.store.models import Message, SpecialUse
from mailcore.store.queries import get_folder_by_special_use, maildir_for, read_message_bytes

pytestmark = pytest.mark.django_db

MSG = (
    b"From: Alice <alice@example.com>\nTo: bob@example.com, x@remote.example\n"
    b"Bcc: y@remote.example\nSubject: api\n\nbody line\n"
)


def submit(account, **kwargs):  # type: ignore[no-untyped-def]
    args = {
        "envelope_sender": "alice@example.com",
        "recipients": ["bob@example.com", "x@remote.example", "y@remote.example"],
        "data": MSG,
        "source": "api",
    }
    return do_submit(acting_account=account, **{**args, **kwargs})


def test_submit_routes_copies_and_strips_bcc(alice, bob, settings) -> None:
    result = submit(alice)
    inbound, outbound = result.entries
    assert (inbound.direction, outbound.direction) == (Direction.INBOUND, Direction.OUTBOUND)
    assert sorted(outbound.recipients.values_list("address", flat=True)) == [
        "x@remote.example",
        "y@remote.example",
    ]
    out = (Path(settings.SPOOL_DIR) / outbound.spool_name).read_bytes()
    assert b"Bcc" not in out and b"\r\nbody line\r\n" in out and b"\n\n" not in out
    assert b"\r\nMessage-ID: <" in out and b"\r\nDate: " in out
    sent = result.sent_message
    assert sent is not None and sent.folder.special_use == SpecialUse.SENT
    copy = read_message_bytes(sent)
    assert b"Bcc: y@remote.example\r\n" in copy
    assert Message.objects.count() == 1
    # The outbound entry belongs to the relay; the inbound one is delivered like inbound mail.
    assert do_process_entry(inbound.pk, worker="test") == "done"
    assert Message.objects.filter(account=bob).count() == 1
    assert Message.objects.filter(account=alice).count() == 1  # still only the Sent copy


def test_copy_folder_and_no_copy(alice, bob) -> None:
    tome = get_folder_by_special_use(alice, SpecialUse.TOME)
    result = submit(alice, recipients=[], copy_folder=tome)
    assert result.entries == [] and result.sent_message is not None
    assert result.sent_message.folder == tome
    result = submit(alice, recipients=["bob@example.com"], save_copy=False)
    assert result.sent_message is None and len(result.entries) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"envelope_sender": "bob@example.com"}, SenderNotAllowedError),
        ({"envelope_sender": ""}, SenderNotAllowedError),
        (
            {"data": MSG.replace(b"From: Alice <alice@example.com>", b"From: bob@example.com")},
            SenderNotAllowedError,
        ),
        (
            {
                "data": MSG.replace(
                    b"From: Alice <alice@example.com>", b"From: alice@example.com, bob@example.com"
                )
            },
            SenderNotAllowedError,
        ),
        ({"data": b"Subject: no from\r\n\r\nx\r\n"}, SenderNotAllowedError),
        ({"recipients": ["nobody@example.com"]}, RecipientRejectedError),
        ({"recipients": ["x@[1.2.3.4]"]}, RecipientRejectedError),
    ],
)
def test_refusals_store_and_queue_nothing(alice, bob, kwargs, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        submit(alice, **kwargs)
    assert isinstance(info.value, UserError)
    assert QueueEntry.objects.count() == 0 and Message.objects.count() == 0


def test_limits(alice, bob, settings) -> None:
    settings.SUBMISSION_MAX_RECIPIENTS = 2
    with pytest.raises(TooManyRecipientsError):
        submit(alice)
    settings.SUBMISSION_MAX_MESSAGES_PER_DAY = 1
    submit(alice, recipients=["bob@example.com", "x@remote.example"])
    with pytest.raises(DailyLimitError):
        submit(alice, recipients=["bob@example.com"])
    assert Message.objects.filter(account=alice).count() == 1


def test_spool_failure_leaves_no_sent_copy(alice, bob, settings, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    settings.SPOOL_DIR = blocker
    with pytest.raises(StorageError):
        submit(alice)
    assert Message.objects.count() == 0 and QueueEntry.objects.count() == 0
    sent = get_folder_by_special_use(alice, SpecialUse.SENT)
    assert not list(maildir_for(alice).scan(sent.path))
