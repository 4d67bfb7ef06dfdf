"""Benchmark helpers: start the whole stack (`manage.py runall`) in a scratch directory against
the database and broker named by DATABASE_URL/REDIS_URL (or the embedded default), provision an
account, and talk to the REST API. Only loopback addresses are used."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port: the kernel's choice, or one from BENCH_PORTS ("36000-36999"),
    so that benchmarks on a shared machine stay within the range their user was given."""
    span = os.environ.get("BENCH_PORTS", "")
    if not span:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    low, _, high = span.partition("-")
    ports = list(range(int(low), int(high or low) + 1))
    # From a random place in the range: the previous run's listeners may still be going away
    # when the next run starts, and those of one run must not be handed to the next.
    at = random.randrange(len(ports))
    for port in ports[at:] + ports[:at]:
        if port in _handed_out:
            continue
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    if _handed_out:  # all handed out once: those of stacks since stopped are free again
        _handed_out.clear()
        return free_port()
    raise RuntimeError(f"no free port left in BENCH_PORTS={span}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    web_port: int
    smtp_port: int
    var: Path

    def manage(self, *args: str, stdin: bytes | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            check=True,
            capture_output=True,
        )
        return out.stdout.decode()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def start_stack(
    *,
    worker_concurrency: int = 2,
    web_workers: int = 2,
    worker_pool: str = "prefork",
    skip: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Stack:
    var = Path(tempfile.mkdtemp(prefix="mailroom-bench-"))
    web, smtp = free_port(), free_port()
    env = {
        **os.environ,
        "MAILROOM_VAR": str(var),
        "WEB_LISTEN": f"127.0.0.1:{web}",
        "SMTP_LISTEN": f"127.0.0.1:{smtp}",
        "MAIL_HOSTNAME": "bench.test",
        "SUBMISSION_LISTEN": f"127.0.0.1:{free_port()}",
        "SMTPS_LISTEN": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
        "MAILROOM_ENV_FILE": str(var / "none.env"),
        "SMTP_MAX_CONNECTIONS_PER_IP": "1000",
        "RSPAMD_EMBEDDED": "0",  # a spam scan is not what these benchmarks measure
        **(extra_env or {}),
    }
    log = (var / "stack.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runall",
            "--worker-concurrency",
            str(worker_concurrency),
            "--worker-pool",
            worker_pool,
            *[f"--skip={name}" for name in skip],
            "--web-workers",
            str(web_workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack = Stack(proc, env, web, smtp, var)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"stack exited; see {var / 'stack.log'}")
        try:
            with socket.create_connection(("127.0.0.1", smtp), timeout=1):
                pass
            with socket.create_connection(("127.0.0.1", web), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
        if time.monotonic() > deadline:
            stack.stop()
            raise RuntimeError("stack did not come up")
    return stack


class Api:
    """A keep-alive HTTP client for the REST API."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token: str | None = None

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        payload = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()  # the server closed an idle keep-alive connection: reconnect once
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)

    def login(self, address: str, password: str) -> None:
        status, body = self.call(
            "POST", "/api/v1/auth/token", {"address": address, "password": password}
        )
        if status != 200:
            raise RuntimeError(f"login failed: {status} {body}")
        self.token = body["token"]  # type: ignore[index]

    def inbox_id(self) -> int:
        _, body = self.call("GET", "/api/v1/folders")
        return next(f["id"] for f in body["results"] if f["special_use"] == "inbox")  # type: ignore[index]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    db = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    broker = "Redis" if os.environ.get("REDIS_URL") else "filesystem"
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, load {load[0]:.1f}; "
        f"Python {sys.version.split()[0]}; {db} + {broker}"
    )
