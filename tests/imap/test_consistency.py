"""One store, one truth: what the REST API (and delivery) changes reaches IMAP clients as
untagged responses (also while they IDLE), and what IMAP changes is what the API reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message
from tests.api.helpers import token_client
from tests.imap.conftest import PASSWORD, tls_context

pytestmark = pytest.mark.django_db(transaction=True)


def mail(subject: str) -> bytes:
    return f"From: x@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


@pytest.fixture
def api(alice: Account) -> APIClient:
    return token_client(alice)


@pytest.fixture
def imc(alice: Account, imaps_addr: tuple[str, int]) -> Iterator[IMAPClient]:
    client = IMAPClient(imaps_addr[0], port=imaps_addr[1], ssl=True, ssl_context=tls_context())
    client.login("alice@example.com", PASSWORD)
    yield client
    client.logout()


def inbox(account: Account) -> Folder:
    return Folder.objects.get(account=account, path="")


def add(account: Account, subject: str) -> Message:
    return do_append(acting_account=account, folder=inbox(account), data=mail(subject))


def test_imap_flag_change_is_what_the_api_reads(
    alice: Account, api: APIClient, imc: IMAPClient
) -> None:
    m = add(alice, "one")
    imc.select_folder("INBOX")
    imc.add_flags([m.uid], [b"\\Seen", b"\\Flagged"])
    flags = api.get(f"/api/v1/messages/{m.pk}").json()["flags"]
    assert flags["seen"] is True and flags["flagged"] is True


def test_api_flag_change_reaches_noop_with_modseq(
    alice: Account, api: APIClient, imc: IMAPClient
) -> None:
    m = add(alice, "two")
    imc.enable("CONDSTORE")
    imc.select_folder("INBOX")
    assert (
        api.patch(f"/api/v1/messages/{m.pk}", {"flagged": True}, format="json").status_code == 200
    )
    m.refresh_from_db()
    _, responses = imc.noop()
    assert (1, b"FETCH", (b"UID", m.uid, b"FLAGS", (b"\\Flagged",), b"MODSEQ", (m.modseq,))) in [
        tuple(r) for r in responses
    ] or any(
        r[1] == b"FETCH" and b"\\Flagged" in r[2][3] and r[2][5] == (m.modseq,) for r in responses
    )


def test_api_move_and_delete_reach_imap_as_expunge(
    alice: Account, api: APIClient, imc: IMAPClient
) -> None:
    a, b, c = add(alice, "a"), add(alice, "b"), add(alice, "c")
    imc.select_folder("INBOX")
    junk = Folder.objects.get(account=alice, special_use="junk")
    response = api.post("/api/v1/messages/move", {"ids": [b.pk], "folder": junk.pk}, format="json")
    assert response.status_code in (200, 204)
    assert api.delete(f"/api/v1/messages/{c.pk}").status_code == 204  # into Trash
    _, responses = imc.noop()
    expunges = [r for r in responses if r[1] == b"EXPUNGE"]
    assert expunges == [(3, b"EXPUNGE"), (2, b"EXPUNGE")]
    assert imc.search() == [a.uid]
    info = imc.select_folder("Junk", readonly=True)
    assert info[b"EXISTS"] == 1
    assert imc.fetch([1], ["ENVELOPE"])  # by UID; the moved message got UID 1 in Junk
    trash = imc.select_folder("Trash", readonly=True)
    assert trash[b"EXISTS"] == 1


def test_expunge_under_qresync_is_vanished(alice: Account, api: APIClient, imc: IMAPClient) -> None:
    a, b = add(alice, "a"), add(alice, "b")
    imc.enable("QRESYNC")
    imc.select_folder("INBOX")
    assert api.delete(f"/api/v1/messages/{a.pk}").status_code == 204
    _, responses = imc.noop()
    assert any(r[0] == b"VANISHED" or (len(r) > 1 and r[1] == b"VANISHED") for r in responses) or (
        imc._imap.untagged_responses.get("VANISHED")
    )
    assert imc.search() == [b.uid]


def test_delivery_and_api_changes_reach_an_idling_client(
    alice: Account, api: APIClient, imc: IMAPClient
) -> None:
    first = add(alice, "before idle")
    imc.select_folder("INBOX")
    imc.idle()
    add(alice, "during idle")  # a delivery: the same store action and change notice
    seen: list[tuple[object, ...]] = []
    for _ in range(20):
        seen += imc.idle_check(timeout=1)
        if (2, b"EXISTS") in seen:
            break
    assert (2, b"EXISTS") in seen
    api.patch(f"/api/v1/messages/{first.pk}", {"seen": True}, format="json")
    flags: list[tuple[object, ...]] = []
    for _ in range(20):
        flags += imc.idle_check(timeout=1)
        if any(r[1] == b"FETCH" for r in flags):
            break
    assert any(r[1] == b"FETCH" and b"\\Seen" in r[2][3] for r in flags)
    imc.idle_done()
    assert imc.search(["UNSEEN"]) == [2]


def test_idle_without_redis_polls(
    settings,
    alice: Account,
    imaps_addr: tuple[str, int],  # type: ignore[no-untyped-def]
) -> None:
    """The embedded default has no pub/sub: the server's one poller finds the change."""
    from tests.imap.conftest import start_server

    settings.REDIS_URL = ""
    server = start_server()
    try:
        client = IMAPClient(
            "127.0.0.1", port=server.ports["imaps"], ssl=True, ssl_context=tls_context()
        )
        client.login("alice@example.com", PASSWORD)
        client.select_folder("INBOX")
        client.idle()
        add(alice, "polled")
        seen: list[tuple[object, ...]] = []
        for _ in range(20):
            seen += client.idle_check(timeout=1)
            if (1, b"EXISTS") in seen:
                break
        assert (1, b"EXISTS") in seen
        client.idle_done()
        client.logout()
    finally:
        server.stop()


def test_another_account_is_unreachable(alice: Account, bob: Account, imc: IMAPClient) -> None:
    do_append(acting_account=bob, folder=inbox(bob), data=mail("bob's"))
    imc.create_folder("Private")
    info = imc.select_folder("INBOX")
    assert info[b"EXISTS"] == 0
    assert imc.search(["SUBJECT", "bob"]) == []
    names = [n for _, _, n in imc.list_folders()]
    assert "Private" in names and len(names) == 7
