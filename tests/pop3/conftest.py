"""A real POP3 server (mailcore.pop3.server) on free loopback ports, started once per test
session in a background thread; tests drive it with poplib. The database is transactional
(the server's threads use their own connections)."""

from __future__ import annotations

import contextlib
import os
import poplib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailcore.directory.models import Account
from mailcore.pop3.server import Pop3Config, Pop3Server, config_from_settings
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message
from tests.conftest import wait_for
from tests.listening import on_free_ports, tls_context

PASSWORD = "correct horse 1"


# SQLite: the maildrop lock files of the test servers, apart from a `make run` of this tree.
LOCK_DIR = Path(tempfile.gettempdir()) / f"mailroom-test-pop3-locks-{os.getpid()}"


def start_server(**overrides: object) -> Pop3Server:
    overrides.setdefault("lock_dir", LOCK_DIR)
    config: Pop3Config = on_free_ports(config_from_settings(), ("pop3", "pop3s"), **overrides)
    server = Pop3Server(config)
    server.start()
    return server


@pytest.fixture(scope="session")
def pop3_server(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[Pop3Server]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fast_limiter(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_FAILURE_DELAY_SECONDS = 0


@pytest.fixture
def pop3_addr(pop3_server: Pop3Server, transactional_db: None) -> tuple[str, int]:
    return ("127.0.0.1", pop3_server.ports["pop3"])


@pytest.fixture
def pop3s_addr(pop3_server: Pop3Server, transactional_db: None) -> tuple[str, int]:
    return ("127.0.0.1", pop3_server.ports["pop3s"])


@pytest.fixture
def connect(
    pop3s_addr: tuple[str, int], pop3_server: Pop3Server
) -> Iterator[Callable[..., poplib.POP3_SSL]]:
    """Logged-in poplib clients over implicit TLS; connections closed (no QUIT) at teardown."""
    clients: list[poplib.POP3] = []

    def make(user: str = "alice@example.com", password: str = PASSWORD) -> poplib.POP3_SSL:
        c = poplib.POP3_SSL(*pop3s_addr, context=tls_context(), timeout=15)
        clients.append(c)
        c.user(user)
        c.pass_(password)
        return c

    yield make
    for c in clients:
        with contextlib.suppress(OSError):
            c.close()
    # The server releases the maildrop locks once it sees the connections go.
    wait_for(lambda: pop3_server.connections == 0)


def inbox(account: Account) -> Folder:
    return Folder.objects.get(account=account, path="")


def add(account: Account, data: bytes, folder: Folder | None = None) -> Message:
    return do_append(acting_account=account, folder=folder or inbox(account), data=data)


def msg(subject: str, body: str = "Hello\n") -> bytes:
    return (f"From: bob@example.com\nTo: alice@example.com\nSubject: {subject}\n\n{body}").encode()
