"""Mailroom as separate processes on loopback, for the scale-out test and benchmark (issue 15
item 8): SMTP processes sharing one port (SO_REUSEPORT, as `SMTP_PROCESSES` under runall), Celery
workers with distinct hostnames, web processes (gunicorn, one port each, as behind a proxy) and
one beat, all against the PostgreSQL and Redis named by the environment; and a load of SMTP
clients that retry what fails before its 250, as a sending MTA does.

Each process runs in its own session, so `kill` (SIGKILL to its process group) takes gunicorn's
master and worker down together, like a crashed host would. Used by tests/e2e/test_scaleout.py
and bench/scaleout.py; nothing here asserts.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailcore.management.commands.runall import beat_argv, web_argv, worker_argv
from mailcore.tls import ensure_self_signed

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.IGNORECASE | re.MULTILINE)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process `pid` holds open (empty when it is gone)."""
    found = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def tcp_sockets(pid: int, port: int, state: str) -> int:
    """How many TCP sockets of process `pid` have local port `port` and `state` ("0A" LISTEN,
    "01" ESTABLISHED), read from /proc/net/tcp{,6}: which SMTP process holds which sessions."""
    inodes = socket_inodes(pid)
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != state:
                continue
            if int(cols[1].rsplit(":", 1)[1], 16) == port and int(cols[9]) in inodes:
                count += 1
    return count


def http_status(port: int, path: str = "/healthz", token: str | None = None) -> int:
    """The status of GET `path` on 127.0.0.1:`port`, 0 when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Token {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: a crash, no clean-up of any kind."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.popen is not None
            self.popen.wait(30)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """tests.conftest.wait_for, saying what it waited for."""
    from tests.conftest import wait_for

    try:
        wait_for(cond, timeout)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Cluster:
    """`smtp` SMTP processes on one port, `workers` Celery workers (solo pool: one delivering
    process each), `web` gunicorn processes (one port each) and one beat. `env` is the common
    environment (DATABASE_URL, REDIS_URL, MAIL_ROOT, SPOOL_DIR …); `worker_env` adds variables
    for worker n (1-based), e.g. a MAILROOM_FAULT for one of them."""

    def __init__(
        self,
        var: Path,
        env: dict[str, str],
        *,
        smtp_port: int,
        web_ports: list[int],
        smtp: int = 2,
        workers: int = 2,
        web_threads: int = 8,
        worker_env: dict[int, dict[str, str]] | None = None,
    ) -> None:
        self.var = var
        self.smtp_port = smtp_port
        self.web_ports = web_ports
        (var / "log").mkdir(parents=True, exist_ok=True)
        common = {
            **env,
            "MAILROOM_VAR": str(var),
            "MAILROOM_ENV_FILE": str(var / "none.env"),
            "SMTP_LISTEN": f"127.0.0.1:{smtp_port}",
            "SUBMISSION_LISTEN": "off",
            "SMTPS_LISTEN": "off",
            # SO_REUSEPORT is on when there is more than one; the caps are shared out.
            "SMTP_PROCESSES": str(smtp),
            "SMTP_MAX_CONNECTIONS_PER_IP": "1000",
            "RSPAMD_EMBEDDED": "0",
            "RSPAMD_URL": "",
            "INBOUND_AUTH": "0",
            "LOG_LEVEL": "WARNING",
        }
        common.pop("MAILROOM_FAULT", None)
        hostname = env.get("MAIL_HOSTNAME", "scaleout.test")
        # The certificate first, as runall makes it before its children start: processes
        # that each make the missing self-signed pair at the same moment can end up with one's
        # key beside the other's certificate (mailcore.tls.ensure_self_signed has no lock).
        common["TLS_CERT_FILE"] = str(var / "tls" / "cert.pem")
        common["TLS_KEY_FILE"] = str(var / "tls" / "key.pem")
        ensure_self_signed(var / "tls" / "cert.pem", var / "tls" / "key.pem", hostname)
        self.env = common
        self.procs: dict[str, Proc] = {}
        for n in range(1, smtp + 1):
            self._add(f"smtp{n}", [PY, "-m", "mailcore.smtp"])
        for n in range(1, workers + 1):
            argv = [
                *worker_argv(PY, 1, "solo"),
                *("--hostname", f"worker{n}@{hostname}", "--loglevel", "WARNING"),
                "--without-heartbeat",
            ]
            self._add(f"worker{n}", argv, (worker_env or {}).get(n, {}))
        for n, port in enumerate(web_ports, 1):
            argv = web_argv(PY, f"127.0.0.1:{port}", workers=1, threads=web_threads)
            argv[argv.index("--access-logfile") + 1] = "/dev/null"
            self._add(f"web{n}", argv)
        self._add("beat", beat_argv(PY, str(var / "celerybeat-schedule")))

    def _add(self, name: str, argv: list[str], extra: dict[str, str] | None = None) -> None:
        env = {**self.env, **(extra or {})}
        self.procs[name] = Proc(name, argv, env, self.var / "log" / f"{name}.log")

    def names(self, kind: str) -> list[str]:
        return [n for n in self.procs if n.rstrip("0123456789") == kind]

    def start(self, worker_ready: Callable[[int], bool], timeout: float = 180.0) -> None:
        """Start every process and wait until each SMTP process listens on the port, each web
        process answers /healthz and `worker_ready(pid)` says each worker registered."""
        for proc in self.procs.values():
            proc.start()

        smtp = self.names("smtp")

        def up() -> bool:
            dead = [p.name for p in self.procs.values() if not p.alive()]
            if dead:
                raise AssertionError(f"{dead} exited at start: see {self.var / 'log'}")
            return (
                all(tcp_sockets(self.procs[n].pid, self.smtp_port, "0A") for n in smtp)
                and all(http_status(port) == 200 for port in self.web_ports)
                and all(worker_ready(self.procs[n].pid) for n in self.names("worker"))
            )

        wait_until(up, "the processes to come up", timeout)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def log_text(self, name: str) -> str:
        try:
            return self.procs[name].log.read_text(errors="replace")
        except OSError:
            return ""


# --- the load --------------------------------------------------------------------------------


def message(tag: str, i: int, rcpt: str, size: int = 2048) -> bytes:
    head = (
        f"From: Load <load@sender.example>\r\nTo: {rcpt}\r\nSubject: {tag} {i}\r\n"
        f"Message-ID: <{tag}-{i}@sender.example>\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head) - 2)] + b"\r\n"
    return head + body


@dataclass
class Load:
    """What the clients saw, filled in while they run (read it under `lock`)."""

    total: int
    accepted_at: dict[int, float] = field(default_factory=dict)
    tries: Counter[int] = field(default_factory=Counter)
    # A try that broke after the message's data went out: the server may have committed it
    # and died before its 250 (RFC 1047's window), so the retry may make a second copy.
    after_data: set[int] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 5xx: a real failure, never retried
    started: float = 0.0
    finished: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)

    def accepted(self) -> int:
        with self.lock:
            return len(self.accepted_at)


def run_load(
    port: int,
    payloads: list[bytes],
    *,
    sender: str,
    rcpt: str,
    concurrency: int,
    per_session: int,
    give_up_after: float = 300.0,
) -> Load:
    """Start `concurrency` client threads sending `payloads` to `rcpt` on 127.0.0.1:`port`,
    `per_session` messages per SMTP session; returns at once with the Load they fill in
    (`done` is set when all have finished). A connection that fails, drops or answers 4xx
    is dropped and the message sent again on a new one, for up to `give_up_after` seconds."""
    load = Load(total=len(payloads))
    deadline = time.monotonic() + give_up_after

    def send_one(client: smtplib.SMTP, i: int) -> None:
        stage = "mail"
        try:
            code, reply = client.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            stage = "rcpt"
            code, reply = client.rcpt(rcpt)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
            stage = "data"
            client.data(payloads[i])
        except BaseException:
            if stage == "data":
                with load.lock:
                    load.after_data.add(i)
            raise

    def client_thread(indices: list[int]) -> None:
        client: smtplib.SMTP | None = None
        in_session = 0
        pending = list(indices)
        while pending:
            i = pending[0]
            if time.monotonic() > deadline:
                with load.lock:
                    load.failures.append(f"gave up on {i}")
                pending.pop(0)
                continue
            with load.lock:
                load.tries[i] += 1
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
                    client.ehlo("client.sender.example")
                    in_session = 0
                send_one(client, i)
            except (OSError, smtplib.SMTPException) as exc:
                code = getattr(exc, "smtp_code", 0) or 0
                if 500 <= code < 600:
                    with load.lock:
                        load.refused.append(f"{i}: {exc!r}")
                    pending.pop(0)
                else:
                    with load.lock:
                        load.failures.append(f"{i}: {type(exc).__name__}: {exc}"[:200])
                    time.sleep(0.05)
                if client is not None:
                    with contextlib.suppress(OSError):
                        client.close()
                client = None
                continue
            with load.lock:
                load.accepted_at[i] = time.perf_counter()
            pending.pop(0)
            in_session += 1
            if in_session >= per_session:
                try:
                    client.quit()
                except (OSError, smtplib.SMTPException):
                    client.close()
                client = None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    chunks = [list(range(c, len(payloads), concurrency)) for c in range(concurrency)]
    threads = [threading.Thread(target=client_thread, args=(c,), daemon=True) for c in chunks]

    def supervise() -> None:
        load.started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        load.finished = time.perf_counter()
        load.done.set()

    threading.Thread(target=supervise, daemon=True).start()
    return load


def maildir_message_ids(maildir: Path) -> Counter[str]:
    """Message-IDs of the files in new/ and cur/ of `maildir`, counted."""
    found: Counter[str] = Counter()
    for sub in ("new", "cur"):
        folder = maildir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            with path.open("rb") as f:
                head = f.read(8192)
            match = MESSAGE_ID.search(head)
            found[match.group(1).decode() if match else f"(none: {path.name})"] += 1
    return found
