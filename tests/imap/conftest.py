"""A real IMAP server (mailcore.imap.server) on free loopback ports, started once per test
session in a background thread; tests drive it with imaplib and imapclient. The database is
transactional (the server's threads use their own connections)."""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import Callable, Iterator

import pytest

from mailcore.directory.models import Account
from mailcore.imap.server import ImapConfig, ImapServer, config_from_settings
from tests.listening import on_free_ports, tls_context

PASSWORD = "correct horse 1"


def start_server(**overrides: object) -> ImapServer:
    config: ImapConfig = on_free_ports(config_from_settings(), ("imap", "imaps"), **overrides)
    server = ImapServer(config)
    server.start()
    return server


@pytest.fixture(scope="session")
def imap_server(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[ImapServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_limiter(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_FAILURE_DELAY_SECONDS = 0


@pytest.fixture
def imap_addr(imap_server: ImapServer, transactional_db: None) -> tuple[str, int]:
    return ("127.0.0.1", imap_server.ports["imap"])


@pytest.fixture
def imaps_addr(imap_server: ImapServer, transactional_db: None) -> tuple[str, int]:
    return ("127.0.0.1", imap_server.ports["imaps"])


@pytest.fixture
def connect(imaps_addr: tuple[str, int]) -> Iterator[Callable[..., imaplib.IMAP4_SSL]]:
    """Logged-in imaplib clients over implicit TLS, logged out at teardown."""
    clients: list[imaplib.IMAP4] = []

    def make(user: str = "alice@example.com", password: str = PASSWORD) -> imaplib.IMAP4_SSL:
        c = imaplib.IMAP4_SSL(*imaps_addr, ssl_context=tls_context(), timeout=15)
        c.login(user, password)
        clients.append(c)
        return c

    yield make
    for c in clients:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            c.logout()


@pytest.fixture
def client(alice: Account, connect: Callable[..., imaplib.IMAP4_SSL]) -> imaplib.IMAP4_SSL:
    return connect()
