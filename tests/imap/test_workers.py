"""IMAP_PROCESSES: `python -m mailcore.imap` as a parent and two forked workers, started once
for this module against the test database. Connections land on both workers; an IDLE on one
hears a change made through the other; the per-IP and per-account caps count the
connections of both (Redis); a killed worker is restarted and its counts are dropped."""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from mailcore.directory.actions import do_create_account, do_create_app_password, do_create_domain
from mailcore.directory.models import Domain
from mailcore.tls import ensure_self_signed
from tests.conftest import database_url
from tests.listening import tls_context

ROOT = Path(__file__).resolve().parents[2]
PER_IP = 8
PER_ACCOUNT = 3

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Prefork:
    proc: subprocess.Popen[bytes]
    imaps: int
    mail_root: Path
    log: Path

    def workers(self) -> set[int]:
        """PIDs of the parent's children."""
        out = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        out.add(int(entry))
        return out

    def worker_of(self, client: imaplib.IMAP4) -> int:
        """The worker holding the server side of `client`'s connection."""
        port = client.sock.getsockname()[1]
        want = f"0100007F:{self.imaps:04X} 0100007F:{port:04X}"
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if f"{fields[1]} {fields[2]}" == want:
                inode = fields[9]
        assert inode is not None, "server side of the connection not found"
        for pid in self.workers():
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                            return pid
        raise AssertionError("no worker holds the connection")


@pytest.fixture(scope="module")
def prefork(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefork]:
    tmp = tmp_path_factory.mktemp("prefork")
    cert, key = tmp / "tls" / "cert.pem", tmp / "tls" / "key.pem"
    ensure_self_signed(cert, key, "localhost")
    log = tmp / "imap.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MAIL_ROOT": str(tmp / "mail"),
        "SPOOL_DIR": str(tmp / "spool"),
        "BROKER_DIR": str(django_settings.BROKER_DIR),
        "MAIL_HOSTNAME": "mx.test",
        "MAILROOM_ENV_FILE": str(tmp / "none.env"),
        "IMAP_LISTEN": "off",
        "IMAPS_LISTEN": "127.0.0.1:0",  # the parent prints the port it bound
        "TLS_CERT_FILE": str(cert),
        "TLS_KEY_FILE": str(key),
        "IMAP_PROCESSES": "2",
        "IMAP_MAX_CONNECTIONS_PER_IP": str(PER_IP),
        "IMAP_MAX_CONNECTIONS_PER_ACCOUNT": str(PER_ACCOUNT),
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailcore.imap"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    server = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            found = re.search(rb"implicit TLS\) listening on [\d.]+:(\d+)", log.read_bytes())
            if found:
                server = Prefork(proc, int(found.group(1)), tmp / "mail", log)
                if len(server.workers()) == 2:
                    break
            time.sleep(0.1)
        assert server is not None and len(server.workers()) == 2, log.read_text()[-3000:]
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def login(prefork: Prefork, settings: object) -> Iterator[Callable[..., imaplib.IMAP4_SSL]]:
    """Logged-in clients of accounts made here (app passwords: the server's own hashers)."""
    settings.MAIL_ROOT = prefork.mail_root  # type: ignore[attr-defined]
    if not Domain.objects.filter(name="example.com").exists():
        do_create_domain("example.com")
    secrets: dict[str, str] = {}
    clients: list[imaplib.IMAP4] = []

    def make(user: str = "alice", *, check: bool = True) -> imaplib.IMAP4_SSL:
        address = f"{user}@example.com"
        if address not in secrets:
            account = do_create_account(address, password="pw-unused-123")
            secrets[address] = do_create_app_password(account, "t")[1]
        c = imaplib.IMAP4_SSL("127.0.0.1", prefork.imaps, ssl_context=tls_context(), timeout=15)
        clients.append(c)
        if check:
            c.login(address, secrets[address])
        else:
            c._mailroom_secret = secrets[address]  # type: ignore[attr-defined]
        return c

    yield make
    for c in clients:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            c.logout()
        c.sock.close()
    wait_until(lambda: per_ip_free(prefork) >= PER_IP)


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def per_ip_free(prefork: Prefork) -> int:
    """How many more connections the server takes from 127.0.0.1: TLS connections are opened
    (and held) until one is refused (`* BYE` instead of the greeting)."""
    held: list[socket.socket] = []
    try:
        for _ in range(PER_IP + 1):
            raw = socket.create_connection(("127.0.0.1", prefork.imaps), timeout=5)
            held.append(raw)
            s = tls_context().wrap_socket(raw)  # raw is closed with s from here on
            held.append(s)
            if not s.recv(200).startswith(b"* OK"):
                return len(held) // 2 - 1
        return len(held) // 2
    finally:
        for s in held:
            s.close()


def on_both(prefork: Prefork, clients: list[imaplib.IMAP4_SSL]) -> dict[int, list[int]]:
    where: dict[int, list[int]] = {}
    for i, c in enumerate(clients):
        where.setdefault(prefork.worker_of(c), []).append(i)
    return where


def session_elsewhere(
    prefork: Prefork, login: Callable[..., imaplib.IMAP4_SSL], user: str, workers: set[int]
) -> imaplib.IMAP4_SSL:
    """A session of `user` on a worker not in `workers` (the kernel spreads connections by
    their addresses: 24 tries miss the other worker 1 time in 2^24)."""
    for _ in range(24):
        c = login(user)
        if prefork.worker_of(c) not in workers:
            return c
        c.logout()
    raise AssertionError("every connection landed on the same worker")


def test_connections_land_on_both_workers(
    prefork: Prefork, login: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    first = login("alice")
    one = prefork.worker_of(first)
    other = prefork.worker_of(session_elsewhere(prefork, login, "bob", {one}))
    assert {one, other} == prefork.workers()


def test_idle_on_one_worker_hears_a_change_made_through_the_other(
    prefork: Prefork, login: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    watcher = login("alice")
    other = session_elsewhere(prefork, login, "alice", {prefork.worker_of(watcher)})
    watcher.select("INBOX")
    tag = watcher._new_tag().decode()
    watcher.send(f"{tag} IDLE\r\n".encode())
    assert watcher.readline().startswith(b"+")
    msg = b"From: x@example.org\r\nSubject: across\r\n\r\nbody\r\n"
    typ, _ = other.append("INBOX", None, None, msg)
    assert typ == "OK"
    t0 = time.monotonic()
    watcher.sock.settimeout(5)
    line = watcher.readline()
    waited = time.monotonic() - t0
    assert line == b"* 1 EXISTS\r\n"
    assert waited < 1.0, waited
    watcher.send(b"DONE\r\n")
    assert watcher.readline().startswith(tag.encode() + b" OK")


@pytest.mark.skipif(
    not django_settings.REDIS_URL,
    reason="without Redis (the embedded default) each worker applies the caps on its own",
)
def test_caps_count_the_connections_of_both_workers(
    prefork: Prefork, login: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    # Per account: three sessions, on both workers, and the fourth is refused.
    first = login("alice")
    sessions = [first, session_elsewhere(prefork, login, "alice", {prefork.worker_of(first)})]
    sessions += [login("alice") for _ in range(PER_ACCOUNT - len(sessions))]
    assert len(on_both(prefork, sessions)) == 2
    fourth = login("alice", check=False)
    with pytest.raises(imaplib.IMAP4.error, match="LIMIT"):
        fourth.login("alice@example.com", fourth._mailroom_secret)  # type: ignore[attr-defined]
    # Per IP: PER_IP connections from 127.0.0.1 over both workers, then BYE.
    held = len(sessions) + 1
    assert per_ip_free(prefork) == PER_IP - held
    # A session that ends frees its places on whichever worker it was.
    sessions.pop().logout()
    wait_until(lambda: per_ip_free(prefork) == PER_IP - held + 1)
    assert login("alice").select("INBOX")[0] == "OK"


def test_a_killed_worker_is_restarted_and_its_counts_dropped(
    prefork: Prefork, login: Callable[..., imaplib.IMAP4_SSL]
) -> None:
    before = prefork.workers()
    first = login("alice")
    victim = prefork.worker_of(first)
    sessions = [first, login("alice"), login("alice")]
    on_victim = [s for s in sessions if prefork.worker_of(s) == victim]
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        now = prefork.workers()  # once: a reaped worker leaves between two reads
        return len(now) == 2 and victim not in now and bool(now - before)

    wait_until(replaced)
    wait_until(lambda: b"ended (signal SIGKILL); restarting" in prefork.log.read_bytes())
    for s in on_victim:
        with pytest.raises((imaplib.IMAP4.abort, OSError)):
            s.noop()
    # The victim's counts went with it: the account has its places back (with Redis; on the
    # embedded default each worker counts its own).
    again = [login("alice") for _ in on_victim]
    for c in again:
        assert c.select("INBOX")[0] == "OK"


def test_shared_caps_when_redis_fails() -> None:
    """Redis down: the worker waits at most REDIS_TIMEOUT once, then counts on its own for
    REDIS_BACKOFF without asking (the caps still hold per worker); a release Redis missed is
    kept and made with the next call that reaches Redis."""
    from mailcore.imap import workers
    from mailcore.imap.server import ImapServer, config_from_settings
    from tests.listening import on_free_ports

    dead = workers.SharedCaps("redis://127.0.0.1:1/0", "mailroom:imap:caps:test-dead", 0)
    t0 = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - whatever redis-py raises for a refusal
        dead.admit({"ip:192.0.2.1": 5})
    with pytest.raises(workers.SharedCapsDownError):
        dead.admit({"ip:192.0.2.1": 5})
    assert time.monotonic() - t0 < 2 * workers.REDIS_TIMEOUT + 0.5
    config = on_free_ports(
        config_from_settings(), ("imap", "imaps"), max_connections_per_ip=1, max_per_account=1
    )
    server = ImapServer(config, caps=dead)
    try:
        assert server.admit_ip("192.0.2.1") and not server.admit_ip("192.0.2.1")
        assert server.admit_account(7) and not server.admit_account(7)
        server.release_ip("192.0.2.1")
        server.release_account(7)
        assert server.admit_ip("192.0.2.1") and server.admit_account(7)
        assert dead._unreleased == []  # what was counted here was released here
    finally:
        server.loop.close()
    if django_settings.REDIS_URL:
        live = workers.SharedCaps(django_settings.REDIS_URL, "mailroom:imap:caps:test-live", 3)
        live.clear()
        assert live.admit({"acct:9": 1}) and not live.admit({"acct:9": 1})
        live._unreleased.append(["acct:9"])  # as if Redis had failed on its release
        assert live.admit({"acct:8": 1})  # the next call makes the missed release first
        assert live.admit({"acct:9": 1})
        live.clear()
        live.close()
