"""Benchmark helpers: start the whole stack (`manage.py runall`) in a scratch directory against
the database and broker named by DATABASE_URL/REDIS_URL (or the embedded default), provision an
account, and talk to the REST API. Only loopback addresses are used."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free loopback TCP port: from BENCH_PORTS ("37000-37999") when set, so that benchmarks
    run side by side on a shared machine stay in their own ranges; else any the kernel gives."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high) + 1) if low and high else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            got = int(s.getsockname()[1])
            if port and got in _handed_out:
                continue
            _handed_out.add(got)
            return got
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


_handed_out: set[int] = set()  # a range is walked from its start: never hand one out twice


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
        # Not started by most benchmarks, but bound if they are: kept off the default ports.
        "IMAP_LISTEN": f"127.0.0.1:{free_port()}",
        "IMAPS_LISTEN": f"127.0.0.1:{free_port()}",
        "POP3_LISTEN": f"127.0.0.1:{free_port()}",
        "POP3S_LISTEN": f"127.0.0.1:{free_port()}",
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
