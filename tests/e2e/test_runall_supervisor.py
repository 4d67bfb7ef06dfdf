"""`manage.py runall` as a supervisor: a child that keeps dying is restarted with back-off for
as long as it dies, while every other child stays up (the same process, still answering), and
SIGTERM still stops everything cleanly. Runs the embedded default in a scratch directory."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
STARTED = re.compile(r"\[runall\] started (\w+) \(pid (\d+)\)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by runall) counts as dead.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Stack:
    def __init__(self) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="mailroom-runall-"))
        self.web, self.smtp = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.pop("MAILROOM_FAULT", None)
        env.update(
            {
                "MAILROOM_VAR": str(self.var),
                "MAILROOM_ENV_FILE": str(self.var / "none.env"),
                "WEB_LISTEN": f"127.0.0.1:{self.web}",
                "SMTP_LISTEN": f"127.0.0.1:{self.smtp}",
                "SUBMISSION_LISTEN": f"127.0.0.1:{free_port()}",
                "SMTPS_LISTEN": f"127.0.0.1:{free_port()}",
                # Every other listener runall may start gets a free port too, never a fixed one.
                **{
                    name: f"127.0.0.1:{free_port()}"
                    for name in ("IMAP_LISTEN", "IMAPS_LISTEN", "POP3_LISTEN", "POP3S_LISTEN")
                },
                "MAIL_HOSTNAME": "mx.runall.test",
                "LOG_LEVEL": "WARNING",
            }
        )
        self.log_path = self.var / "runall.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runall",
                "--skip",
                "beat",
                "--web-workers",
                "1",
                "--web-threads",
                "4",
                "--worker-concurrency",
                "1",
                "--worker-pool",
                "solo",
                "--restart-delay",
                "0.1",
                "--restart-delay-max",
                "0.8",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        """Every pid runall has started for `name`, from its console lines."""
        return [int(pid) for child, pid in STARTED.findall(self.text()) if child == name]

    def child(self, name: str) -> int | None:
        """The live child process `name` of runall, read from /proc (not from runall's word)."""
        want = {"web": "gunicorn", "smtp": "mailcore.smtp", "worker": "worker"}[name]
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        for pid in map(int, kids):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if want.encode() in argv[:8] and alive(pid):
                return pid
        return None

    def web_ok(self) -> bool:
        try:
            # Closed on every path: a probe that times out under load must not leak its socket
            # (pytest turns the ResourceWarning into a failure).
            probe = http.client.HTTPConnection("127.0.0.1", self.web, timeout=5)
            with contextlib.closing(probe) as conn:
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
        except OSError:
            return False

    def smtp_ok(self) -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", self.smtp, timeout=10) as client:
                return client.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False

    def running(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"runall exited with {self.proc.returncode}:\n{self.text()[-4000:]}"
            )
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


@pytest.fixture
def stack() -> Iterator[Stack]:
    s = Stack()
    try:
        yield s
    finally:
        s.stop()


def test_a_crash_looping_worker_never_takes_web_and_smtp_down(stack: Stack) -> None:
    wait_until(lambda: stack.running() and stack.web_ok() and stack.smtp_ok(), "the stack")
    web, smtp = stack.child("web"), stack.child("smtp")
    assert web and smtp
    kills = 8  # more than the old supervisor's 5 restarts a minute
    worker = None
    for n in range(kills):
        wait_until(
            lambda: stack.running() and stack.child("worker") not in (None, worker),  # noqa: B023
            f"worker {n + 1}",
        )
        worker = stack.child("worker")
        assert worker
        os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: (
            stack.running()
            and stack.child("worker") not in (None, worker)
            and len(stack.pids("worker")) == kills + 1
        ),  # its console line may come just after
        "the last restart",
    )
    text = stack.text()
    assert f"failure {kills} in a row" in text
    delays = [
        float(d)
        for d in re.findall(
            r"\[runall\] worker \(pid \d+\) exited .*?restarting in ([\d.]+) s", text
        )
    ]
    assert delays == [0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8, 0.8]  # doubling up to the cap, forever
    assert re.search(r"worker \(pid \d+\) exited with signal SIGKILL", text)
    assert len(stack.pids("worker")) == kills + 1
    # The others were never touched: the same processes, still serving.
    assert stack.pids("web") == [web] and stack.pids("smtp") == [smtp]
    assert stack.child("web") == web and stack.child("smtp") == smtp
    assert stack.running() and stack.web_ok() and stack.smtp_ok()
    worker = stack.child("worker")
    assert worker

    # SIGTERM still shuts every child down and runall exits 0.
    children = [web, smtp, worker]
    stack.proc.send_signal(signal.SIGTERM)
    assert stack.proc.wait(60) == 0
    assert not any(alive(pid) for pid in children)
