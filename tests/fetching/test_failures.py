"""What a user can get wrong, or a server or the network can do, when adding and fetching an
external account: each one is refused with its reason and the server's own words, and nothing
is saved or lost (issue 11 §7, §8)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from mailcore.directory.models import Account
from mailcore.errors import FetchError
from mailcore.fetching import remote
from mailcore.fetching.actions import do_fetch
from mailcore.fetching.models import ExternalAccount
from mailcore.store.models import Message
from tests.fetching.conftest import PASSWORD, add, inbox, msg, subjects
from tests.fetching.dovecot import Dovecot

pytestmark = pytest.mark.django_db(transaction=True)


def refused(excinfo: pytest.ExceptionInfo[FetchError], reason: str) -> str:
    assert excinfo.value.reason == reason, excinfo.value
    assert excinfo.value.code == f"fetch_{reason}"
    return str(excinfo.value)


def test_wrong_password_shows_the_server_reply(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    for protocol in ("pop3", "imap"):
        with pytest.raises(FetchError) as exc:
            add_external(
                protocol=protocol,
                host="localhost",
                port=dovecot.ports[f"{protocol}s"],
                username=remote_user,
                password="wrong",
            )
        text = refused(exc, "login")
        assert "Authentication failed" in text  # Dovecot's own words
    assert not ExternalAccount.objects.exists()


def test_self_signed_refused_then_allowed_and_pinned(
    alice: Account, bob: Account, mailroom_servers: dict[str, int], add_external
) -> None:
    port = mailroom_servers["pop3s"]
    with pytest.raises(FetchError) as exc:
        add_external(protocol="pop3", port=port, username=bob.address, password=PASSWORD)
    assert "self-signed" in refused(exc, "certificate")
    assert not ExternalAccount.objects.exists()
    add(bob, msg("pinned"))
    ext = add_external(
        protocol="pop3",
        port=port,
        username=bob.address,
        password=PASSWORD,
        allow_self_signed=True,
    )
    assert do_fetch(ext.pk).fetched == 1
    # Another certificate later (a man in the middle, or a renewal): refused until saved again.
    ExternalAccount.objects.filter(pk=ext.pk).update(cert_sha256="0" * 64)
    add(bob, msg("not taken"))
    result = do_fetch(ext.pk)
    assert result.error is not None and result.error.reason == "certificate"
    ext.refresh_from_db()
    assert ext.last_error_code == "certificate" and "changed" in ext.last_error_detail
    assert subjects(alice) == ["pinned"]


def test_verified_certificate_must_name_the_host(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    """Dovecot's certificate (from a trusted CA) is for localhost and 127.0.0.1; reached as
    127.0.0.2 (it listens there too) the name does not match, and it is refused."""
    with pytest.raises(FetchError) as exc:
        add_external(
            protocol="imap", host="127.0.0.2", port=dovecot.ports["imaps"], username=remote_user
        )
    assert "mismatch" in refused(exc, "certificate").lower()


def test_private_targets_refused(settings, alice: Account, dovecot: Dovecot, add_external) -> None:
    settings.FETCH_ALLOW_PRIVATE_TARGETS = False
    for host in (
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "[::ffff:127.0.0.1]",
    ):
        with pytest.raises(FetchError) as exc:
            add_external(protocol="imap", host=host, port=993, username="x")
        assert "not allowed" in refused(exc, "private_target")
    assert not ExternalAccount.objects.exists()


def test_private_target_rechecked_at_each_run(
    settings, alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    """Saved while allowed (or while the name pointed elsewhere): every run resolves again
    and refuses, before connecting."""
    ext = add_external(
        protocol="pop3", host="localhost", port=dovecot.ports["pop3s"], username=remote_user
    )
    dovecot.put(remote_user, msg("stays"))
    settings.FETCH_ALLOW_PRIVATE_TARGETS = False
    result = do_fetch(ext.pk)
    assert result.error is not None and result.error.reason == "private_target"
    assert dovecot.count(remote_user) == 1 and subjects(alice) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word (a firewall that swallows, a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for s in held:
        s.close()
    sock.close()


def test_network_failures_in_plain_words(
    settings, alice: Account, add_external, silent_server: int
) -> None:
    with pytest.raises(FetchError) as exc:
        add_external(protocol="pop3", port=free_port(), username="x")
    assert "refused the connection" in refused(exc, "refused")
    with pytest.raises(FetchError) as exc:
        add_external(protocol="imap", host="no-such-host.invalid", port=993, username="x")
    assert "could not be found" in refused(exc, "dns")
    settings.FETCH_TIMEOUT_SECONDS = 1
    with pytest.raises(FetchError) as exc:
        add_external(protocol="imap", port=silent_server, username="x")
    assert "did not answer in time" in refused(exc, "timeout")
    with pytest.raises(FetchError) as exc:  # plaintext is refused before any connection
        add_external(protocol="pop3", port=silent_server, username="x", security="none")
    refused(exc, "plaintext")
    assert not ExternalAccount.objects.exists()


def test_tls_mismatch_and_missing_stls(
    settings, alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    settings.FETCH_TIMEOUT_SECONDS = 2
    with pytest.raises(FetchError) as exc:  # implicit TLS against a plain port
        add_external(
            protocol="imap", host="localhost", port=dovecot.ports["imap"], username=remote_user
        )
    refused(exc, "tls")
    with pytest.raises(FetchError) as exc:  # STARTTLS against the implicit-TLS port
        add_external(
            protocol="pop3",
            host="localhost",
            port=dovecot.ports["pop3s"],
            username=remote_user,
            security="starttls",
        )
    refused(exc, "timeout")  # each side waits for the other to speak first


def test_over_quota_stops_and_deletes_nothing_not_stored(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    for i in range(4):
        dovecot.put(remote_user, msg(f"big {i}", body="x" * 3000 + "\n"))
    ext = add_external(
        protocol="imap",
        host="localhost",
        port=dovecot.ports["imaps"],
        username=remote_user,
        keep=False,
    )
    Account.objects.filter(pk=alice.pk).update(quota_bytes=7000)  # room for two
    result = do_fetch(ext.pk)
    assert result.error is not None and result.error.reason == "over_quota"
    assert result.fetched == 2
    assert dovecot.count(remote_user) == 2  # only what is stored here went
    ext.refresh_from_db()
    assert ext.last_error_code == "over_quota" and ext.last_fetched == 2
    Account.objects.filter(pk=alice.pk).update(quota_bytes=0)
    assert do_fetch(ext.pk).fetched == 2
    got = subjects(alice)
    assert [s for s in got if s.startswith("big")] == ["big 0", "big 1", "big 2", "big 3"]
    assert any("full" in s for s in got)  # the store's quota warning came with the first two
    assert dovecot.count(remote_user) == 0


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_too_large_left_on_server(
    settings, protocol: str, alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    dovecot.put(remote_user, msg("small"))
    dovecot.put(remote_user, msg("huge", body="y" * 5000 + "\n"))
    settings.FETCH_MAX_MESSAGE_BYTES = 2000
    ext = add_external(
        protocol=protocol,
        host="localhost",
        port=dovecot.ports[f"{protocol}s"],
        username=remote_user,
        keep=False,
    )
    result = do_fetch(ext.pk)
    assert result.error is None and result.fetched == 1 and result.left_large == 1
    ext.refresh_from_db()
    assert ext.last_error_code == "too_large"
    assert subjects(alice) == ["small"]
    assert dovecot.count(remote_user) == 1


def test_one_run_at_a_time(
    alice: Account, dovecot: Dovecot, remote_user: str, add_external
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    ext = add_external(
        protocol="pop3", host="localhost", port=dovecot.ports["pop3s"], username=remote_user
    )
    dovecot.put(remote_user, msg("once"))
    later = timezone.now() + timedelta(minutes=5)
    ExternalAccount.objects.filter(pk=ext.pk).update(running_until=later)
    assert not do_fetch(ext.pk).ran  # another run holds the lease
    ExternalAccount.objects.filter(pk=ext.pk).update(running_until=timezone.now())
    assert do_fetch(ext.pk).fetched == 1  # an expired lease (a dead worker) is taken over
    assert Message.objects.filter(folder=inbox(alice)).count() == 1


def test_resolve_checks_every_address() -> None:
    # localhost has a loopback address: refused as a whole even if another were public.
    with pytest.raises(FetchError):
        remote.resolve("localhost", 110, allow_private=False)
    assert remote.resolve("127.0.0.1", 110, allow_private=True)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("-ERR [AUTH] Authentication failed.", "login"),
        ("-ERR [IN-USE] Mailbox is locked by another POP3 session", "in_use"),
        ("-ERR [SYS/TEMP] Temporary authentication failure.", "unavailable"),
        ("[UNAVAILABLE] Temporary authentication failure.", "unavailable"),
        ("[AUTHENTICATIONFAILED] Authentication failed.", "login"),
    ],
)
def test_login_refusals_by_response_code(reply: str, reason: str) -> None:
    assert remote._login_reason(reply) == reason
