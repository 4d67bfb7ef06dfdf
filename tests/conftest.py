"""Shared fixtures: per-test mail and spool directories, accounts made through actions, a live
SMTP server on 127.0.0.1 and helpers to run the delivery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from mailcore.directory.actions import do_create_account, do_create_domain
from mailcore.directory.models import Account, Domain

MAIL_DIR = Path(__file__).parent / "mail"
# Servers started as processes by tests run one IMAP process unless a test asks for more.
os.environ.setdefault("IMAP_PROCESSES", "1")


def load_eml(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


@pytest.fixture(autouse=True)
def _fresh_delivery_memo() -> None:
    """A test's rows are rolled back without signals: the delivery memo (mailcore.delivery.memo)
    must not hand one test the accounts and folders of the one before."""
    from mailcore.delivery import memo

    memo.forget()


@pytest.fixture(autouse=True)
def _mail_dirs(settings: object, tmp_path: Path) -> None:
    settings.MAIL_ROOT = tmp_path / "mail"  # type: ignore[attr-defined]
    settings.SPOOL_DIR = tmp_path / "spool"  # type: ignore[attr-defined]
    settings.MAIL_HOSTNAME = "mx.test"  # type: ignore[attr-defined]
    # Outbound relay: never ask a real resolver (nothing listens on port 1: lookups fail fast);
    # tests/outbound points this at its own DNS server.
    settings.RELAY_NAMESERVERS = "127.0.0.1:1"  # type: ignore[attr-defined]
    # Sender checks (mailcore.inbound) would wait out their DNS budget there: off unless a test
    # (tests/inbound) turns them on with its own DNS server.
    settings.INBOUND_AUTH = False  # type: ignore[attr-defined]
    settings.RSPAMD_URL = ""  # type: ignore[attr-defined]
    settings.RSPAMD_CONTROLLER_URL = ""  # type: ignore[attr-defined]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
    # Sessions' last use: flushed by hand in tests (webmail.accounts.sessions.flush_pending).
    settings.SESSION_TOUCH_BACKGROUND = False  # type: ignore[attr-defined]


@pytest.fixture
def domain(db: None) -> Domain:
    return do_create_domain("example.com")


@pytest.fixture
def make_account(domain: Domain):  # type: ignore[no-untyped-def]
    def make(
        address: str = "alice@example.com", password: str = "correct horse 1", **kwargs: object
    ) -> Account:
        return do_create_account(address, password=password, **kwargs)

    return make


@pytest.fixture
def alice(make_account) -> Account:  # type: ignore[no-untyped-def]
    return make_account("alice@example.com")


@pytest.fixture
def bob(make_account) -> Account:  # type: ignore[no-untyped-def]
    return make_account("bob@example.com")


@pytest.fixture
def smtp_factory(transactional_db: None):  # type: ignore[no-untyped-def]
    """Start the real SMTP listeners (MX, submission 587-style, SMTPS 465-style) on 127.0.0.1,
    free ports, with optional SmtpConfig/IngressPolicy overrides; returns the address of
    `listener` ("mx", "submission" or "smtps"); stopped at teardown."""
    import dataclasses

    from mailcore.config import Listen
    from mailcore.smtp.server import SmtpServer, config_from_settings

    servers: list[SmtpServer] = []

    def start(listener: str = "mx", **overrides: object) -> tuple[str, int]:
        cfg = config_from_settings()
        policy_fields = {f.name for f in dataclasses.fields(cfg.policy)}
        policy = dataclasses.replace(
            cfg.policy, **{k: v for k, v in overrides.items() if k in policy_fields}
        )
        rest = {k: v for k, v in overrides.items() if k not in policy_fields}
        # In-process group commit unless a test asks for the cleanup process (its start, a
        # Django set-up, would cost every test that starts a server a second or two).
        rest.setdefault("cleanup_process", False)
        free = Listen("127.0.0.1", 0)
        cfg = dataclasses.replace(cfg, mx=free, submission=free, smtps=free, policy=policy, **rest)
        server = SmtpServer(cfg)
        server.start()
        servers.append(server)
        return "127.0.0.1", server.ports[listener]

    start.servers = servers  # type: ignore[attr-defined]  # the SmtpServers started, in order
    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(smtp_factory) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    return smtp_factory()


def run_queue() -> list[str]:
    """Process every due queue entry once, as the worker would (the task body, in-process)."""
    from mailcore.delivery.actions import do_process_entry, due_entries

    return [do_process_entry(pk, worker="test") for pk in due_entries()]


@pytest.fixture
def deliver_all():  # type: ignore[no-untyped-def]
    return run_queue


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("MAILROOM_TESTING", "1")
    # Every `manage.py runall` a test starts: no embedded rspamd (tests/inbound runs its own;
    # one per stack would cost the shared machine a CPU for its start).
    os.environ.setdefault("RSPAMD_EMBEDDED", "0")
    assert django_settings.configured


# --- a real Celery worker process, for end-to-end tests ---------------------------------------


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(cond: Callable[[], bool], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.fixture
def celery_worker_process(settings) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    from webmail.celery import app

    app.control.purge()  # leftovers of earlier runs are not this test's business
    procs: list[subprocess.Popen[bytes]] = []

    def start(fault: str = "", **extra_env: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MAIL_ROOT": str(settings.MAIL_ROOT),
            "SPOOL_DIR": str(settings.SPOOL_DIR),
            "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
            "BROKER_DIR": str(settings.BROKER_DIR),
            "DELIVERY_LEASE_SECONDS": "2",
            "DELIVERY_RETRY_BASE_SECONDS": "1",
            "MAILROOM_FAULT": fault,
            **extra_env,
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webmail",
                "worker",
                "-Q",
                "mailroom",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)
