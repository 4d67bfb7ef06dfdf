"""The live stack the browser tests drive: `manage.py runall --skip beat` (gunicorn, the SMTP
service and a real Celery worker) on free loopback ports, against a database of its own
(a separate PostgreSQL database when DATABASE_URL names PostgreSQL, else a SQLite file in its
scratch directory) and its own MAILROOM_VAR. Accounts are made with the shell commands.

Also: Debian's Chromium launched through Playwright (never Playwright's own browser download),
and a "remote" HTTP host on another loopback address that records every request it gets."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import itertools
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "browser.test"
PASSWORD = "browser-pass-1"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--headless",
    "--disable-background-networking",
    # A safety net: no host name resolves, so nothing can leave the machine (the tests use
    # IP literals on the loopback only).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.*",
]


def chromium_path() -> str:
    return os.environ.get("CHROMIUM", "/usr/bin/chromium")


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium driven by Playwright (scripts/ensure-chromium.sh installs it)."""
    path = chromium_path()
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            f"{path} is missing: run scripts/ensure-chromium.sh (make test does) "
            "or set CHROMIUM=/path/to/chromium"
        )
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def sign_in(context: Any, base_url: str, user: User) -> None:
    """Signs the context in through the API the login form uses (GET hands out the CSRF
    cookie, POST signs in); the login form itself is tested in test_mail.py."""
    resp = context.request.get(f"{base_url}/api/v1/auth/session")
    assert resp.status in (200, 401, 403), resp.status
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    resp = context.request.post(
        f"{base_url}/api/v1/auth/session",
        data={"address": user.address, "password": user.password},
        headers={"X-CSRFToken": csrf, "Referer": f"{base_url}/"},
    )
    assert resp.status == 200, (resp.status, resp.text())


# --- the stack's own database ------------------------------------------------------------------


@dataclass
class Database:
    url: str
    drop: Callable[[], None] = field(default=lambda: None)


def own_database(var: Path) -> Database:
    """A database for the stack alone: `<name>_browser` next to DATABASE_URL's PostgreSQL
    database (made fresh, dropped at the end), else SQLite in the scratch directory."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        return Database(f"sqlite:///{var / 'mailroom.sqlite3'}")
    import psycopg

    parts = urlsplit(base)
    name = (parts.path.lstrip("/") or "mailroom") + "_browser"
    admin_url = urlunsplit(parts._replace(path="/postgres"))

    def run(sql: str) -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    return Database(
        urlunsplit(parts._replace(path=f"/{name}")),
        lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'),
    )


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class User:
    address: str
    password: str = PASSWORD


class LiveStack:
    def __init__(self) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="mailroom-browser-"))
        self.zone = LoopbackZone()
        self.db = own_database(self.var)
        self.web_port = free_port()
        self.smtp_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        redis = os.environ.get("MAILROOM_BROWSER_REDIS_URL", os.environ.get("REDIS_URL", ""))
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            "DATABASE_URL": self.db.url,
            "REDIS_URL": redis,
            "MAILROOM_VAR": str(self.var),
            "MAILROOM_ENV_FILE": str(self.var / "none.env"),
            "WEB_LISTEN": f"127.0.0.1:{self.web_port}",
            "SMTP_LISTEN": f"127.0.0.1:{self.smtp_port}",
            "SUBMISSION_LISTEN": f"127.0.0.1:{free_port()}",
            "SMTPS_LISTEN": f"127.0.0.1:{free_port()}",
            "MAIL_HOSTNAME": "mx.browser.test",
            # Never a real resolver: the stack's own loopback zone (self.zone) answers for the
            # names a test publishes and SERVFAIL for the rest (a temporary failure at once,
            # as a dead resolver would give after its timeout).
            "RELAY_NAMESERVERS": f"127.0.0.1:{self.zone.port}",
            "INBOUND_AUTH_TIMEOUT": "3",
            "RSPAMD_EMBEDDED": "0",  # tests/inbound runs its own; runall's would cost a CPU
            "FETCH_ALLOW_PRIVATE_TARGETS": "1",  # the external-mail test fetches from loopback
            "API_LOGIN_RATE": "10000/min",
            # No undo window unless a test asks for one (tests/browser/test_outbox.py does).
            "OUTBOX_UNDO_DEFAULT_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("MAILROOM_FAULT", None)
        self.log_path = self.var / "stack.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runall",
                "--skip",
                "beat",
                "--web-workers",
                "2",
                "--worker-concurrency",
                "1",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._names = itertools.count(1)
        try:
            wait_until(self._up, timeout=120, what="the stack (see its log)")
            self.manage("domain", "add", DOMAIN)
        except BaseException:
            self.stop()
            raise

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"runall exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1):
                pass
            # Closed on every path: a probe that times out under load must not leak its socket
            # (pytest turns the ResourceWarning into a failure).
            probe = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=5)
            with contextlib.closing(probe) as conn:
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
        except OSError:
            return False

    def log_tail(self, chars: int = 6000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def manage(self, *args: str, stdin: bytes | None = None) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)}: {out.stderr.decode()[-2000:]}")
        return out.stdout.decode()

    def new_user(self, name: str = "user", display_name: str = "") -> User:
        """A fresh account (its own empty mailbox), made with `manage.py account add`."""
        user = User(f"{name}{next(self._names)}@{DOMAIN}")
        extra = ["--name", display_name] if display_name else []
        self.manage(
            "account",
            "add",
            user.address,
            "--password-stdin",
            *extra,
            stdin=f"{PASSWORD}\n".encode(),
        )
        return user

    def smtp_send(self, data: bytes | EmailMessage, to: list[str], sender: str = "") -> None:
        """Mail in from outside, over the stack's MX listener."""
        raw = data.as_bytes() if isinstance(data, EmailMessage) else data
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as client:
            refused = client.sendmail(sender or "someone@outside.example", to, raw)
            assert not refused, refused

    def api(self, user: User) -> Api:
        api = Api(self.web_port)
        api.login(user.address, user.password)
        return api

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
        finally:
            self._log.close()
            self.db.drop()
            self.zone.stop()


class LoopbackZone:
    """DNS for the stack on 127.0.0.1 (dnslib, UDP and TCP): records a test adds with add(),
    SERVFAIL for every other name."""

    def __init__(self) -> None:
        from dnslib import RCODE
        from dnslib.server import DNSServer

        from tests.outbound.conftest import Zone, free_port_everywhere

        class ServfailZone(Zone):
            def resolve(self, request: Any, handler: Any) -> Any:
                reply = super().resolve(request, handler)
                if reply.header.rcode == RCODE.NXDOMAIN:
                    reply.header.rcode = RCODE.SERVFAIL
                return reply

        self.records = ServfailZone()
        self.port = free_port_everywhere(("127.0.0.1",))
        self.servers = [
            DNSServer(self.records, port=self.port, address="127.0.0.1", tcp=tcp, logger=_Quiet())
            for tcp in (False, True)
        ]
        for server in self.servers:
            server.start_thread()

    def add(self, name: str, rtype: str, value: str) -> None:
        self.records.add(name, rtype, value)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
            server.server.server_close()


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class Api:
    """Token-authenticated REST calls, for seeding and checking what the browser did."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.token = ""

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        ctype = resp.getheader("Content-Type") or ""
        return resp.status, (json.loads(data) if data and "json" in ctype else data)

    def login(self, address: str, password: str) -> None:
        status, body = self.call(
            "POST", "/api/v1/auth/token", {"address": address, "password": password}
        )
        assert status == 200, (status, body)
        self.token = body["token"]

    def folders(self) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/api/v1/folders")
        assert status == 200, (status, body)
        return list(body["results"])

    def folder(self, special_use: str) -> dict[str, Any]:
        return next(f for f in self.folders() if f["special_use"] == special_use)

    def messages(self, folder_id: int) -> list[dict[str, Any]]:
        status, body = self.call("GET", f"/api/v1/folders/{folder_id}/messages?limit=100")
        assert status == 200, (status, body)
        return list(body["results"])

    def find(self, special_use: str, subject: str) -> dict[str, Any] | None:
        folder = self.folder(special_use)
        return next((m for m in self.messages(folder["id"]) if m["subject"] == subject), None)

    def wait_for(self, special_use: str, subject: str, timeout: float = 30.0) -> dict[str, Any]:
        return wait_until(
            lambda: self.find(special_use, subject),
            timeout=timeout,
            what=f"{subject!r} in {special_use}",
        )

    def message(self, message_id: int) -> dict[str, Any]:
        status, body = self.call("GET", f"/api/v1/messages/{message_id}")
        assert status == 200, (status, body)
        return dict(body)


# --- a "remote" host that records what the browser asks it for ----------------------------------

# A 1x1 transparent PNG.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class RemoteHost:
    """An HTTP server on 127.0.0.2 (another loopback address: "elsewhere" to the app) that
    logs every request path; the tracking pixel of the hostile test mail points here."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.requests: list[str] = []
        lock = threading.Lock()
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(PIXEL)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.host = host
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
