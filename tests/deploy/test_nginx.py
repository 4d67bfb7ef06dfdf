"""The nginx path of deploy/ (issue 15 item 3), brought up on loopback: Debian's nginx with the
shipped site file (names, ports and certificate paths replaced, nothing else) and a
self-signed certificate, in front of the real web process (gunicorn, the embedded default in
a scratch directory). A browser-style sign-in over HTTPS (CSRF cookie, Origin, secure session
cookie) and a server-sent events stream that delivers an event while it is open."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from mailcore.tls import ensure_self_signed

from .conftest import ROOT, Proc, base_env, free_port, wait_until

pytestmark = pytest.mark.e2e
NAME = "mail.ops.test"
PASSWORD = "correct horse battery 15"
SITE = ROOT / "deploy" / "nginx" / "mailroom.conf"


class Https(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with SNI, Host and certificate check for NAME."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=NAME)  # type: ignore[attr-defined]


def site_for_test(https: int, plain: int, web: int, cert: Path, key: Path, acme: Path) -> str:
    text = SITE.read_text()
    text = "\n".join(line for line in text.splitlines() if "[::]" not in line)
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{plain};")
    text = text.replace("/etc/letsencrypt/live/mail.example.com/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/mail.example.com/privkey.pem", str(key))
    text = text.replace("/var/www/letsencrypt", str(acme))
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{web}")
    return text.replace("mail.example.com", NAME).replace("example.com", "ops.test")


@pytest.fixture
def stack(start: Callable[..., Proc]) -> Iterator[dict[str, object]]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/ensure-*.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="mailroom-nginx-"))
    var = work / "var"
    https, plain, web = free_port(), free_port(), free_port()
    env = base_env(
        var,
        WEB_LISTEN=f"127.0.0.1:{web}",
        ALLOWED_HOSTS=NAME,
        CSRF_TRUSTED_ORIGINS=f"https://{NAME}:{https}",
        TRUSTED_PROXIES="127.0.0.1",
        WEB_PROXY_HTTPS="true",
    )
    manage = [sys.executable, "manage.py"]
    for argv in (["migrate", "--noinput"], ["domain", "add", "ops.test"]):
        subprocess.run([*manage, *argv], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        [*manage, "account", "add", "ann@ops.test", "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
    )
    start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "webmail.wsgi:application",
            "--bind",
            f"127.0.0.1:{web}",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--no-control-socket",
        ],
        env,
        work / "web.out",
    )
    cert, key = work / "tls" / "cert.pem", work / "tls" / "key.pem"
    ensure_self_signed(cert, key, NAME)
    (work / "acme").mkdir()
    (work / "mailroom.conf").write_text(site_for_test(https, plain, web, cert, key, work / "acme"))
    (work / "nginx.conf").write_text(
        f"""user root;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/mailroom.conf;
}}
"""
    )
    check = subprocess.run(
        [
            "nginx",
            "-t",
            "-c",
            str(work / "nginx.conf"),
            "-p",
            str(work),
            "-e",
            str(work / "error.log"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    start(
        ["nginx", "-c", str(work / "nginx.conf"), "-p", str(work), "-e", str(work / "error.log")],
        env,
        work / "nginx.out",
    )

    def up(port: int) -> Callable[[], bool]:
        def ready() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
            except OSError:
                return False
            return True

        return ready

    wait_until(up(https), "nginx")
    wait_until(up(web), "gunicorn")
    ctx = ssl.create_default_context(cafile=str(cert))  # verifies the chain and the name
    yield {"https": https, "plain": plain, "ctx": ctx}
    shutil.rmtree(work, ignore_errors=True)


def request(
    stack: dict[str, object],
    method: str,
    path: str,
    *,
    body: object = None,
    cookies: SimpleCookie | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[http.client.HTTPResponse, Https]:
    conn = Https(NAME, int(stack["https"]), context=stack["ctx"], timeout=15)  # type: ignore[call-overload]
    sent = dict(headers or {})
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=sent)
    return conn.getresponse(), conn


def keep_cookies(jar: SimpleCookie, response: http.client.HTTPResponse) -> list[str]:
    raw = response.headers.get_all("Set-Cookie") or []
    for header in raw:
        jar.load(header)
    return raw


def test_login_and_event_stream_through_nginx_https(stack: dict[str, object]) -> None:
    # Plain HTTP is sent to HTTPS (certbot's challenge path aside).
    plain = http.client.HTTPConnection("127.0.0.1", int(stack["plain"]), timeout=10)  # type: ignore[call-overload]
    plain.request("GET", "/", headers={"Host": NAME})
    moved = plain.getresponse()
    assert moved.status == 301
    assert moved.headers["Location"] == f"https://{NAME}/"
    plain.close()

    jar: SimpleCookie = SimpleCookie()
    origin = f"https://{NAME}:{stack['https']}"
    response, conn = request(stack, "GET", "/api/v1/auth/session")
    assert response.status == 403  # not signed in; hands out the CSRF cookie
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    keep_cookies(jar, response)
    response.read()
    conn.close()
    csrf = {"X-CSRFToken": jar["csrftoken"].value, "Origin": origin, "Referer": origin + "/"}
    response, conn = request(
        stack,
        "POST",
        "/api/v1/auth/session",
        body={"address": "ann@ops.test", "password": PASSWORD},
        cookies=jar,
        headers=csrf,
    )
    assert response.status == 200, response.read()
    session = [c for c in keep_cookies(jar, response) if c.startswith("sessionid=")]
    assert session and "Secure" in session[0] and "HttpOnly" in session[0]
    assert json.loads(response.read())["address"] == "ann@ops.test"
    conn.close()

    stream, stream_conn = request(stack, "GET", "/api/v1/events", cookies=jar)
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    stream_conn.sock.settimeout(10)

    def next_event() -> tuple[str, str]:
        name = data = ""
        while True:
            line = stream.readline().decode().rstrip("\r\n")
            if line.startswith("event:"):
                name = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data = line.partition(":")[2].strip()
            elif line == "" and name:
                return name, data

    assert next_event()[0] == "counts"  # the first event, not held back by the proxy
    csrf["X-CSRFToken"] = jar["csrftoken"].value  # rotated at sign-in
    created, conn = request(
        stack, "POST", "/api/v1/folders", body={"name": "Through nginx"}, cookies=jar, headers=csrf
    )
    assert created.status == 201, created.read()
    conn.close()
    seen = [next_event() for _ in range(2)]
    changes = [json.loads(data) for name, data in seen if name == "change"]
    assert any(c["kind"] == "folder" for c in changes), seen
    stream_conn.close()
