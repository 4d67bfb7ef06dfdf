"""로그인 기록 through IMAP (imaplib): the client's ID name and version, the method."""

from __future__ import annotations

import imaplib

import pytest

from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account, LoginRecord
from tests.listening import tls_context


@pytest.mark.django_db(transaction=True)
def test_imap_logins_are_recorded_with_the_client_id(alice: Account, imaps_addr) -> None:  # type: ignore[no-untyped-def]
    _, secret = do_create_app_password(alice, "Thunderbird")
    with imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=15) as c:
        c.xatom("ID", '("name" "Thunderbird" "version" "128.5")')
        with pytest.raises(imaplib.IMAP4.error):
            c.login("alice@example.com", "wrong")
        c.login("alice@example.com", secret)
    got = [(r.door, r.result, r.method, r.client) for r in LoginRecord.objects.order_by("id")]
    assert got == [
        ("imap", "failed", "", "Thunderbird 128.5"),
        ("imap", "ok", "app_password", "Thunderbird 128.5"),
    ]
