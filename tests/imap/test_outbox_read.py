"""Read status (issue 14 §3) through the IMAP door: a real client's FETCH BODY[] sets \\Seen,
and the sender's status shows the read time (mailcore.store.hooks → mailcore.outbox)."""

from __future__ import annotations

import imaplib
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.outbox.models import OutboxRecipient
from mailcore.store.models import Message, SpecialUse
from tests.api.helpers import token_client
from tests.conftest import run_queue


def test_fetch_body_over_imap_marks_the_senders_status_read(
    alice: Account, bob: Account, connect: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    response = token_client(alice).post(
        "/api/v1/messages/send", {"to": ["bob@example.com"], "text": "x"}, format="json"
    )
    assert response.status_code == 201
    run_queue()
    assert OutboxRecipient.objects.get().read_at is None
    c = connect("bob@example.com")
    c.select("INBOX")
    typ, _ = c.fetch("1", "(BODY[])")
    assert typ == "OK"
    copy = Message.objects.get(account=bob, folder__special_use=SpecialUse.INBOX)
    assert copy.seen
    assert OutboxRecipient.objects.get().read_at is not None
