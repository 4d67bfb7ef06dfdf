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


def test_admin_sets_the_policy_within_scope(alice: Account, bob: Account, make_account) -> None:  # type: ignore[no-untyped-def]
    from mailcore.directory.actions import do_create_domain, do_set_admin_domains

    admin = make_account("admin@example.com")
    do_set_admin_domains(admin, ["example.com"])
    do_create_domain("other.example")
    stranger = make_account("carol@other.example")
    api = token_client(admin)
    url = f"/api/v1/admin/accounts/{alice.pk}/pop3"
    assert api.get(url).json() == {"on_delete": "delete", "only_new": False}
    r = api.patch(url, {"on_delete": "keep", "only_new": True}, format="json")
    assert r.status_code == 200 and r.json() == {"on_delete": "keep", "only_new": True}
    assert token_client(alice).get(URL).json() == {"on_delete": "keep", "only_new": True}
    assert api.patch(url, {"on_delete": "x"}, format="json").status_code == 400
    other = f"/api/v1/admin/accounts/{stranger.pk}/pop3"
    assert api.patch(other, {"on_delete": "keep"}, format="json").status_code == 404
    assert token_client(bob).get(url).status_code == 403  # not an admin
