"""Throttle and login limiter counts are shared by every web process (issue 9 item 3): two real
gunicorn processes, one budget. Redis when REDIS_URL is set, the database otherwise."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailcore.management.commands.runall import web_argv
from tests.conftest import database_url
from webmail.accounts.models import RateCounter
from webmail.accounts.ratecounters import hit

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse 1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Start = Callable[..., tuple[str, int]]


@pytest.fixture
def web_process(settings: Any) -> Iterator[Start]:
    """Start a real gunicorn web process (one worker) on a free port; stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(**extra_env: str) -> tuple[str, int]:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MAIL_ROOT": str(settings.MAIL_ROOT),
            "LOG_LEVEL": "WARNING",
            **extra_env,
        }
        argv = web_argv(sys.executable, f"127.0.0.1:{port}", workers=1, threads=2)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return "127.0.0.1", port
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def post_login(
    server: tuple[str, int], password: str, *, source: str = "127.0.0.1"
) -> tuple[int, dict[str, Any], str | None]:
    conn = http.client.HTTPConnection(*server, timeout=15, source_address=(source, 0))
    try:
        body = json.dumps({"address": "alice@example.com", "password": password})
        conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read()), response.getheader("Retry-After")
    finally:
        conn.close()


@pytest.fixture(params=["redis", "database"])
def store(request: pytest.FixtureRequest, settings: Any) -> str:
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set")
    if request.param == "database":
        settings.REDIS_URL = ""  # the embedded default: counts in the RateCounter table
    return str(request.param)


def test_two_web_processes_share_one_login_throttle(
    alice: Any, web_process: Start, store: str
) -> None:
    first, second = (web_process(API_LOGIN_RATE="4/hour") for _ in range(2))
    answers = [post_login(server, "wrong")[:2] for server in (first, second) * 3]
    # Each process alone has seen only 3 requests: with per-process counts none is refused.
    assert [status for status, _ in answers] == [400, 400, 400, 400, 429, 429]
    assert answers[-1][1]["error"] == "throttled"
    if store == "database":
        assert RateCounter.objects.get().count == 4  # refused requests are not counted


def test_two_web_processes_share_one_login_limiter(
    make_account: Any, web_process: Start, settings: Any
) -> None:
    # The web processes check passwords with their own hasher list: no test-only MD5 here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    make_account("alice@example.com")
    env = {"API_LOGIN_RATE": "100/min", "AUTH_MAX_FAILURES_PER_IP": "3"}
    first, second = web_process(**env), web_process(**env)
    assert post_login(first, "guess 1")[0] == 400
    assert post_login(second, "guess 2")[0] == 400
    assert post_login(first, "guess 3")[0] == 400
    status, body, retry_after = post_login(second, PASSWORD)
    assert (status, body["error"]) == (429, "too_many_failures")
    assert retry_after is not None and int(retry_after) > 0
    assert post_login(second, PASSWORD, source="127.0.0.2")[0] == 200  # another client


def test_counter_allows_exactly_the_limit(store: str) -> None:
    outcomes = [hit("test:203.0.113.1", limit=5, period=3600).allowed for _ in range(8)]
    assert outcomes == [True] * 5 + [False] * 3
    assert hit("test:203.0.113.2", limit=5, period=3600).allowed  # another key, own budget
    refused = hit("test:203.0.113.1", limit=5, period=3600)
    assert not refused.allowed
    assert 0 < refused.wait <= 3600


def test_counter_falls_back_to_the_database_when_redis_is_down(settings: Any) -> None:
    configured = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        outcomes = [hit("test:203.0.113.3", limit=2, period=3600).allowed for _ in range(3)]
    finally:
        settings.REDIS_URL = configured  # the fixture that clears Redis keys runs after this
    assert outcomes == [True, True, False]
    assert RateCounter.objects.get(key="test:203.0.113.3").count == 2
