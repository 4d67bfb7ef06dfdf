"""What the deployment tests share: a scratch system user made with useradd (these tests run as
root, as an administrator's install does), a MAILROOM_VAR it owns, free ports above and below
1024 on loopback, and Mailroom processes started as subprocesses of the embedded default."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailcore.privileges import ServiceUser, service_user

ROOT = Path(__file__).resolve().parents[2]
LISTENERS = (
    "SMTP_LISTEN",
    "SUBMISSION_LISTEN",
    "SMTPS_LISTEN",
    "IMAP_LISTEN",
    "IMAPS_LISTEN",
    "POP3_LISTEN",
    "POP3S_LISTEN",
)


@pytest.fixture(scope="session")
def scratch_user() -> Iterator[ServiceUser]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a system user and binds ports below 1024")
    name = f"mrt{secrets.token_hex(4)}"
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        check=True,
    )
    try:
        user = service_user(name)
        assert user is not None
        yield user
    finally:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def service_var(scratch_user: ServiceUser) -> Iterator[Path]:
    """A MAILROOM_VAR as the install steps make it: owned by the user, mode 0700 (under /tmp:
    pytest's own tmp_path is not reachable by another user)."""
    var = Path(tempfile.mkdtemp(prefix="mailroom-ops-"))
    os.chown(var, scratch_user.uid, scratch_user.gid)
    var.chmod(0o700)
    yield var
    shutil.rmtree(var, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_low_port() -> int:
    """A free port below 1024 on 127.0.0.1 (a privileged one), chosen at random."""
    for port in random.sample(range(600, 1024), 424):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below 1024")


def base_env(var: Path, **extra: str) -> dict[str, str]:
    """The embedded default in `var`, every listener off unless `extra` turns it on."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("MAILROOM_FAULT", None)
    env.update(
        {
            "MAILROOM_VAR": str(var),
            "MAILROOM_ENV_FILE": str(var / "none.env"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MAIL_HOSTNAME": "mx.ops.test",
            "LOG_LEVEL": "WARNING",
            "IMAP_PROCESSES": "1",
            **dict.fromkeys(LISTENERS, "off"),
        }
    )
    env.update(extra)
    return env


class Proc:
    """A Mailroom process with its output in a file, stopped (its whole group) at the end."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, **popen: object) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,  # type: ignore[call-overload]
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 90.0) -> None:
        wait_until(lambda: needle in self.text() or self.proc.poll() is not None, needle, timeout)
        if needle not in self.text():
            raise AssertionError(f"{needle!r} never came; output:\n{self.text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self._log.close()


@pytest.fixture
def start() -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []

    def run(argv: list[str], env: dict[str, str], log: Path, **popen: object) -> Proc:
        proc = Proc(argv, env, log, **popen)
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        proc.stop()


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def status(pid: int) -> dict[str, str]:
    """/proc/<pid>/status as a dict (Uid, Gid, Groups, CapEff …)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def ids(pid: int) -> tuple[set[int], set[int]]:
    """The real, effective, saved and filesystem uids and gids of `pid`."""
    st = status(pid)
    return {int(x) for x in st["Uid"].split()}, {int(x) for x in st["Gid"].split()}


def children_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture(scope="session")
def python(scratch_user: ServiceUser) -> Iterator[str]:
    """An interpreter the scratch user can run. The test machines' Python lives under /root
    (mode 0700, pyenv): a venv of Debian's python3.11 that reads the project's site-packages
    stands in for what an install under /opt gives. Where ours is reachable it is used."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import django, celery, gunicorn"],
            user=scratch_user.uid,
            capture_output=True,
            check=False,
        ).returncode
    except PermissionError:
        probe = 1
    if probe == 0:
        yield sys.executable
        return
    base = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not base.exists():
        pytest.skip(f"{sys.executable} is not reachable by other users and there is no {base}")
    venv = Path(tempfile.mkdtemp(prefix="mailroom-ops-python-"))
    venv.chmod(0o755)
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    ours = next(p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_dir())
    (site / "mailroom-tests.pth").write_text(f"import site; site.addsitedir({str(ours)!r})\n")
    try:
        yield str(venv / "bin" / "python")
    finally:
        shutil.rmtree(venv, ignore_errors=True)
