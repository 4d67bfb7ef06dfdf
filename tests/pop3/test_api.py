"""The POP3 policy through the REST API (GET/PATCH /api/v1/settings/pop3), and its effect on
a real POP3 session."""

from __future__ import annotations

import poplib
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.store.models import Message
from tests.api.helpers import token_client
from tests.pop3.conftest import add, inbox, msg

URL = "/api/v1/settings/pop3"


def test_get_and_patch(alice: Account, bob: Account) -> None:
    api = token_client(alice)
    assert api.get(URL).json() == {"on_delete": "delete", "only_new": False}
    r = api.patch(URL, {"on_delete": "read"}, format="json")
    assert r.status_code == 200 and r.json() == {"on_delete": "read", "only_new": False}
    r = api.patch(URL, {"only_new": True}, format="json")
    assert r.json() == {"on_delete": "read", "only_new": True}
    assert api.patch(URL, {"on_delete": "shred"}, format="json").status_code == 400
    assert api.patch(URL, {"onlynew": True}, format="json").status_code == 400  # typo refused
    assert token_client(bob).get(URL).json() == {"on_delete": "delete", "only_new": False}


def test_keep_set_by_api_applies_to_pop3(
    alice: Account, connect: Callable[..., poplib.POP3_SSL]
) -> None:
    token_client(alice).patch(URL, {"on_delete": "keep"}, format="json")
    add(alice, msg("a"))
    c = connect()
    c.retr(1)
    c.dele(1)
    c.quit()
    assert Message.objects.filter(folder=inbox(alice)).count() == 1
