"""로그인 기록 through POP3 (poplib)."""

from __future__ import annotations

import pytest

from mailcore.directory.models import Account, LoginRecord


@pytest.mark.django_db(transaction=True)
def test_pop3_logins_are_recorded(alice: Account, connect) -> None:  # type: ignore[no-untyped-def]
    connect().quit()
    record = LoginRecord.objects.get()
    assert (record.account, record.door, record.result, record.method) == (
        alice,
        "pop3",
        "ok",
        "password",
    )
    assert record.ip == "127.0.0.1"
