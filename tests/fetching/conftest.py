"""The remote servers of the fetching tests, each started once per session: Mailroom's own POP3
and IMAP listeners (self-signed certificate) and Debian's Dovecot (certificate from a
throwaway CA that FETCH_CA_FILE trusts). Every test lets private targets through, since all of
them are on loopback (the refusal itself is tested with the setting off)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailcore.directory.models import Account
from mailcore.fetching.actions import ExternalInput, do_create_external_account
from mailcore.fetching.models import ExternalAccount
from mailcore.imap.server import ImapServer
from mailcore.imap.server import config_from_settings as imap_config
from mailcore.pop3.server import Pop3Server
from mailcore.pop3.server import config_from_settings as pop3_config
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message
from tests.fetching.certs import make_ca_and_server
from tests.fetching.dovecot import Dovecot, available
from tests.listening import on_free_ports

PASSWORD = "correct horse 1"
REMOTE_PASSWORD = "remote pass 9"


@pytest.fixture(scope="session")
def tls_files() -> Iterator[tuple[Path, Path, Path]]:
    work = Path(tempfile.mkdtemp(prefix="mailroom-fetch-tls-"))
    yield make_ca_and_server(work)
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot(tls_files: tuple[Path, Path, Path]) -> Iterator[Dovecot]:
    if not available():
        pytest.fail("Dovecot is missing: run `bash scripts/ensure-imap-tools.sh --dovecot`")
    work = Path(tempfile.mkdtemp(prefix="mailroom-fetch-dovecot-"))
    server = Dovecot(work, tls_files[1], tls_files[2], REMOTE_PASSWORD)
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def mailroom_servers(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[dict[str, int]]:
    pop3 = Pop3Server(on_free_ports(pop3_config(), ("pop3", "pop3s")))
    imap = ImapServer(on_free_ports(imap_config(), ("imap", "imaps")))
    pop3.start()
    imap.start()
    yield {**pop3.ports, **imap.ports}
    pop3.stop()
    imap.stop()


@pytest.fixture(autouse=True)
def _fetch_settings(settings, tls_files: tuple[Path, Path, Path]) -> None:  # type: ignore[no-untyped-def]
    settings.FETCH_ALLOW_PRIVATE_TARGETS = True
    settings.FETCH_CA_FILE = str(tls_files[0])
    settings.FETCH_TIMEOUT_SECONDS = 10
    settings.AUTH_FAILURE_DELAY_SECONDS = 0


@pytest.fixture
def remote_user(dovecot: Dovecot) -> str:
    """A fresh, empty Dovecot mailbox for this test."""
    return dovecot.new_user()


def msg(subject: str, body: str = "Hello\n", to: str = "old@example.net") -> bytes:
    return (
        f"From: someone@example.org\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\n{body}"
    ).encode()


def inbox(account: Account) -> Folder:
    return Folder.objects.get(account=account, path="")


def add(account: Account, data: bytes) -> Message:
    return do_append(acting_account=account, folder=inbox(account), data=data)


def subjects(account: Account, folder: Folder | None = None) -> list[str]:
    rows = Message.objects.filter(account=account, folder=folder or inbox(account))
    return sorted(rows.values_list("subject", flat=True))


@pytest.fixture
def add_external(alice: Account) -> Callable[..., ExternalAccount]:
    def make(
        *,
        protocol: str,
        port: int,
        username: str,
        password: str = REMOTE_PASSWORD,
        host: str = "127.0.0.1",
        security: str = "tls",
        keep: bool = True,
        allow_self_signed: bool = False,
        folder_id: int | None = None,
        account: Account | None = None,
    ) -> ExternalAccount:
        return do_create_external_account(
            acting_account=account or alice,
            data=ExternalInput(
                protocol=protocol,
                host=host,
                port=port,
                security=security,
                username=username,
                password=password,
                keep=keep,
                allow_self_signed=allow_self_signed,
                folder_id=folder_id,
            ),
        )

    return make
