"""Read status (issue 14 §3) through the POP3 door: with the "mark read" policy a real
client's download and DELE marks the copy \\Seen, and the sender's status shows it."""

from __future__ import annotations

import poplib
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.outbox.models import OutboxRecipient
from mailcore.pop3.actions import do_set_pop3_settings
from tests.api.helpers import token_client
from tests.conftest import run_queue


def test_pop3_mark_read_sets_the_read_time(
    alice: Account, bob: Account, connect: Callable[..., poplib.POP3_SSL]
) -> None:
    do_set_pop3_settings(bob, on_delete="read")
    response = token_client(alice).post(
        "/api/v1/messages/send", {"to": ["bob@example.com"], "text": "x"}, format="json"
    )
    assert response.status_code == 201
    run_queue()
    c = connect("bob@example.com")
    c.retr(1)
    c.dele(1)
    c.quit()
    assert OutboxRecipient.objects.get().read_at is not None
