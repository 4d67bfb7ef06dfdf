"""One POP3 session per account across every POP3 process (`[IN-USE]`, RFC 1939 §8): a
second server with its own lock connection (or lock files) sees the first one's session, a
real `python -m mailcore.pop3` process holds the lock against this one, and a killed process
lets go of it; IMAP-side access (the store) stays open meanwhile. QUIT semantics: deletions
are in place when +OK arrives, a dropped session deletes nothing and records nothing."""

from __future__ import annotations

import asyncio
import os
import poplib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection

from mailcore.directory.models import Account
from mailcore.pop3.actions import do_set_pop3_settings
from mailcore.pop3.locks import lock_key
from mailcore.pop3.models import Uidl
from mailcore.pop3.server import Pop3Server
from mailcore.store.models import Message
from tests.conftest import database_url, wait_for
from tests.pop3.conftest import PASSWORD, add, inbox, msg, start_server, tls_context

Connect = Callable[..., poplib.POP3_SSL]


def login(port: int) -> poplib.POP3_SSL:
    c = poplib.POP3_SSL("127.0.0.1", port, context=tls_context(), timeout=15)
    try:
        c.user("alice@example.com")
        c.pass_(PASSWORD)
    except BaseException:
        c.close()
        raise
    return c


def assert_in_use(port: int) -> None:
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        login(port)


def test_in_use_across_two_servers(
    alice: Account, connect: Connect, pop3_server: Pop3Server
) -> None:
    add(alice, msg("x"))
    other = start_server()  # its own lock connection (PostgreSQL) or lock files (SQLite)
    try:
        first = connect()
        assert_in_use(other.ports["pop3s"])
        first.quit()
        second = login(other.ports["pop3s"])  # released at QUIT
        assert_in_use(pop3_server.ports["pop3s"])
        assert Message.objects.filter(folder=inbox(alice)).count() == 1  # store still open
        second.close()  # dropped without QUIT: released too
        wait_for(lambda: other.connections == 0)
        connect().quit()
    finally:
        other.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_in_use_held_by_another_process_until_it_dies(
    alice: Account, connect: Connect, pop3_server: Pop3Server, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    add(alice, msg("x"))
    # The other process checks passwords with the hashers of webmail/settings.py (and would
    # rehash one made by another into its first).
    argon2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, argon2]
    alice.password = make_password(PASSWORD, hasher="argon2")
    alice.save(update_fields=["password"])
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
        "TLS_CERT_FILE": str(settings.TLS_CERT_FILE),
        "TLS_KEY_FILE": str(settings.TLS_KEY_FILE),
        "POP3_LOCK_DIR": str(pop3_server.config.lock_dir),
        "POP3_LISTEN": "off",
        "POP3S_LISTEN": f"127.0.0.1:{port}",
    }
    log = (tmp_path / "pop3.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailcore.pop3"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                held = login(port)
                break
            except (ConnectionRefusedError, OSError):
                assert proc.poll() is None, (tmp_path / "pop3.log").read_text()
                assert time.monotonic() < deadline, "the POP3 process did not start"
                time.sleep(0.2)
        assert held.stat()[0] == 1
        assert_in_use(pop3_server.ports["pop3s"])
        proc.send_signal(signal.SIGKILL)  # a crash: no QUIT, no clean shutdown
        proc.wait(15)
        held.close()
        c = connect()  # the dead process's lock went with it
        assert c.stat()[0] == 1
        c.quit()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)
        log.close()


def test_quit_semantics(alice: Account, connect: Connect, pop3_server: Pop3Server) -> None:
    for s in ("a", "b", "c"):
        add(alice, msg(s))
    c = connect()
    c.retr(1)
    c.dele(2)
    c.close()  # dropped: nothing deleted, nothing recorded
    wait_for(lambda: pop3_server.connections == 0)
    assert Message.objects.filter(folder=inbox(alice)).count() == 3
    assert not Uidl.objects.filter(account=alice, downloaded=True).exists()
    c = connect()
    c.retr(1)
    c.dele(2)
    c.quit()  # deletions in place when +OK arrives; no "only new": no download recorded
    assert list(
        Message.objects.filter(folder=inbox(alice))
        .order_by("uid")
        .values_list("subject", flat=True)
    ) == ["a", "c"]
    assert not Uidl.objects.filter(account=alice, downloaded=True).exists()
    do_set_pop3_settings(alice, only_new=True)
    c = connect()
    assert c.stat()[0] == 2  # switched on: counts from now on
    c.retr(1)  # a: retrieved, kept
    c.dele(2)  # c: deleted (gone, nothing to remember)
    c.quit()
    downloaded = Uidl.objects.filter(account=alice, downloaded=True)
    assert list(downloaded.values_list("maildir_key", flat=True)) == list(
        Message.objects.filter(folder=inbox(alice)).values_list("maildir_key", flat=True)
    )
    c = connect()
    assert c.stat()[0] == 0
    c.quit()


def test_a_broken_lock_connection_is_replaced_and_its_locks_retaken(
    alice: Account, connect: Connect, pop3_server: Pop3Server
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks: PostgreSQL")
    add(alice, msg("x"))
    other = start_server()
    try:
        held = connect()
        key = lock_key(alice.pk) & 0xFFFF_FFFF_FFFF_FFFF
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = %s AND objid = %s AND granted",
                [key >> 32, key & 0xFFFF_FFFF],
            )
            assert cursor.fetchall() == [(True,)]
        # What the heartbeat does every 30 s: a new connection takes the lock again.
        asyncio.run_coroutine_threadsafe(pop3_server.locks.check_now(), pop3_server.loop).result(15)
        assert_in_use(other.ports["pop3s"])
        held.quit()
        login(other.ports["pop3s"]).quit()
    finally:
        other.stop()


def test_lock_unavailable_answers_sys_temp(
    alice: Account, transactional_db: None, tmp_path: Path
) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("lock files: SQLite")
    add(alice, msg("x"))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    server = start_server(lock_dir=not_a_dir)
    try:
        with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
            login(server.ports["pop3s"])
    finally:
        server.stop()
