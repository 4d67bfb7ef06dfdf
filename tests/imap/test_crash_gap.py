"""A CONDSTORE/QRESYNC client whose state holds a flag change that a crash of the database
server lost (asynchronous commits, mailcore.store.history.next_modseq): it must be sent every
message's flags, not a delta (which cannot name a change that left no row behind), so the lost
change does not stay in its cache. The crash is simulated by setting the rows to what it would
leave (the shared test server cannot be crashed), as tests/store/test_write_commit.py does.
SEARCH MODSEQ from such a state names every message, for the same reason."""

from __future__ import annotations

import imaplib
import re
from typing import Any

import pytest
from django.db import connection

from mailcore.directory.models import Account
from mailcore.store import history
from mailcore.store.actions import do_append, do_expunge, do_set_flags
from mailcore.store.models import Folder, Message
from tests.imap.conftest import PASSWORD, tls_context

pytestmark = pytest.mark.django_db(transaction=True)


def _inbox(account: Account) -> Folder:
    return Folder.objects.get(account=account, path="")


def _rows(account: Account, *uids: int) -> list[Message]:
    found = list(
        Message.objects.select_related("folder")
        .filter(folder=_inbox(account), uid__in=uids)
        .order_by("uid")
    )
    for m in found:
        m.account = account
    return found


def _login(addr: tuple[str, int]) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL(*addr, ssl_context=tls_context(), timeout=15)
    client.login("alice@example.com", PASSWORD)
    return client


def _flags_by_uid(fetches: list[Any]) -> dict[int, bytes]:
    out = {}
    for line in fetches:
        assert isinstance(line, bytes)
        m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line) or re.search(
            rb"FLAGS \(([^)]*)\) UID (\d+)", line
        )
        assert m is not None, line
        uid, flags = (m.group(1), m.group(2)) if m.group(1).isdigit() else (m.group(2), m.group(1))
        out[int(uid)] = flags
    return out


def _lose_last_flag_change(account: Account, uid: int, durable: int, old_modseq: int) -> None:
    """What a crash of PostgreSQL leaves after losing the (asynchronous) \\Flagged of `uid`:
    the row, the folder and the counter as they were at modseq `durable`."""
    Message.objects.filter(folder=_inbox(account), uid=uid).update(flagged=False, modseq=old_modseq)
    Folder.objects.filter(pk=_inbox(account).pk).update(highestmodseq=durable)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE store_changecounter SET highestmodseq = %s WHERE account_id = %s",
            [durable, account.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE store_changecounter SET server_started = server_started - "
                "interval '1 hour' WHERE account_id = %s",
                [account.pk],
            )


def _client_saw_a_lost_flag(alice: Account, addr: tuple[str, int]) -> tuple[int, int]:
    """Three messages; a QRESYNC client flags UID 2 and keeps modseq M in its cache; the crash
    loses that change. Returns (uidvalidity, M)."""
    for i in range(3):
        do_append(
            acting_account=alice,
            folder=_inbox(alice),
            data=f"From: a@x.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n".encode(),
        )
    durable = _inbox(alice).highestmodseq
    old_modseq = Message.objects.get(folder=_inbox(alice), uid=2).modseq
    client = _login(addr)
    client._simple_command("ENABLE", "QRESYNC")
    client.select("INBOX")
    typ, data = client.uid("STORE", "2", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0]
    seen = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))  # type: ignore[union-attr]
    assert seen > durable
    client.logout()
    _lose_last_flag_change(alice, 2, durable, old_modseq)
    return _inbox(alice).uidvalidity, seen


def test_qresync_before_the_next_change_sends_every_flag(
    alice: Account, imaps_addr: tuple[str, int]
) -> None:
    """Both databases: the client's modseq is above the account's (nothing changed since the
    crash): SELECT (QRESYNC) answers FLAGS for every message, UID 2 without \\Flagged."""
    uidvalidity, seen = _client_saw_a_lost_flag(alice, imaps_addr)
    client = _login(imaps_addr)
    client._simple_command("ENABLE", "QRESYNC")
    typ, _ = client._simple_command("SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {seen}))")
    assert typ == "OK"
    client.state = "SELECTED"  # imaplib does not know the raw SELECT
    flags = _flags_by_uid(client.untagged_responses.pop("FETCH", []))
    assert sorted(flags) == [1, 2, 3]
    assert b"\\Flagged" not in flags[2]
    # CONDSTORE alone: FETCH (CHANGEDSINCE m) answers every message as well.
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {seen})")
    assert typ == "OK"
    flags = _flags_by_uid([d for d in data if isinstance(d, bytes)])
    assert sorted(flags) == [1, 2, 3] and b"\\Flagged" not in flags[2]
    # SEARCH MODSEQ (changes since that state) names every message too.
    typ, data = client.uid("SEARCH", "MODSEQ", str(seen + 1))
    assert typ == "OK" and data[0].split(b" (")[0].split() == [b"1", b"2", b"3"]
    client.logout()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_qresync_inside_the_gap_after_the_restart_jump_sends_every_flag(
    alice: Account, imaps_addr: tuple[str, int]
) -> None:
    """PostgreSQL: after the restart the next change jumps the counter past the gap; the
    client at M (inside it) gets every message's flags and the expunges since (the tombstones
    after the jump all survived), not just the change after the jump."""
    uidvalidity, seen = _client_saw_a_lost_flag(alice, imaps_addr)
    do_set_flags(acting_account=alice, messages=_rows(alice, 3), add=["seen"])
    do_expunge(acting_account=alice, messages=_rows(alice, 1))
    state = history.history_state(alice.pk)
    assert state.lost(seen) and state.highestmodseq > seen
    client = _login(imaps_addr)
    client._simple_command("ENABLE", "QRESYNC")
    typ, _ = client._simple_command("SELECT", "INBOX", f"(QRESYNC ({uidvalidity} {seen}))")
    assert typ == "OK"
    client.state = "SELECTED"
    assert client.untagged_responses.pop("VANISHED", []) == [b"(EARLIER) 1"]
    flags = _flags_by_uid(client.untagged_responses.pop("FETCH", []))
    assert sorted(flags) == [2, 3]
    assert b"\\Flagged" not in flags[2] and b"\\Seen" in flags[3]
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {seen} VANISHED)")
    assert typ == "OK"
    assert client.untagged_responses.pop("VANISHED", []) == [b"(EARLIER) 1"]
    flags = _flags_by_uid([d for d in data if isinstance(d, bytes)])
    assert sorted(flags) == [2, 3] and b"\\Flagged" not in flags[2]
    typ, data = client.uid("SEARCH", "MODSEQ", str(seen + 1))
    assert typ == "OK" and data[0].split(b" (")[0].split() == [b"2", b"3"]
    # A client whose state survived (after the jump) still gets the delta only.
    now = history.history_state(alice.pk).highestmodseq
    typ, data = client.uid("FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {now - 1})")
    assert typ == "OK" and [d for d in data if isinstance(d, bytes)] == []
    client.logout()
