#!/usr/bin/env python
"""End-to-end smoke of the embedded default, started exactly as a newcomer starts it: `make run`
in a scratch var directory (SQLite + filesystem broker), then provisioning through the shell
commands, a message over SMTP with smtplib, and reading it back through the REST API."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    method: str, url: str, body: dict[str, object] | None = None, token: str | None = None
) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http://127.0.0.1 only
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def run_smoke(timeout: float = 180.0) -> None:
    var = Path(tempfile.mkdtemp(prefix="mailroom-smoke-"))
    web, smtp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "MAILROOM_VAR": str(var),
            "WEB_LISTEN": f"127.0.0.1:{web}",
            "SMTP_LISTEN": f"127.0.0.1:{smtp}",
            "MAIL_HOSTNAME": "smoke.test",
            "SUBMISSION_LISTEN": f"127.0.0.1:{free_port()}",
            "SMTPS_LISTEN": f"127.0.0.1:{free_port()}",
            "QUEUE_SWEEP_SECONDS": "2",
            "MAILROOM_ENV_FILE": str(var / "none.env"),
        }
    )
    log_path = var / "run.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{web}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"make run exited with {proc.returncode}")
            try:
                if http("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("web did not come up")
            time.sleep(0.5)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "domain", "add", "smoke.test"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "account", "add", "alice@smoke.test", "--password-stdin"],
            cwd=ROOT,
            env=env,
            input=b"smoke-password-1\n",
            check=True,
        )

        msg = EmailMessage()
        msg["From"] = "Bob <bob@elsewhere.example>"
        msg["To"] = "alice@smoke.test"
        msg["Subject"] = "스모크 테스트 smoke"
        msg.set_content("안녕하세요 — delivered by the embedded default.\n")
        for _ in range(60):  # the SMTP child may still be binding
            try:
                with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as client:
                    refused = client.send_message(msg)
                    assert not refused, refused
                break
            except ConnectionRefusedError:
                time.sleep(0.5)
        else:
            raise RuntimeError("SMTP did not come up")

        status, body = http(
            "POST",
            f"{base}/api/v1/auth/token",
            {"address": "alice@smoke.test", "password": "smoke-password-1"},
        )
        assert status == 200, (status, body)
        token = body["token"]  # type: ignore[index]
        status, folders = http("GET", f"{base}/api/v1/folders", token=token)
        assert status == 200, (status, folders)
        inbox = next(f for f in folders["results"] if f["special_use"] == "inbox")  # type: ignore[index]
        for _ in range(120):
            status, page = http("GET", f"{base}/api/v1/folders/{inbox['id']}/messages", token=token)
            assert status == 200, (status, page)
            if page["results"]:  # type: ignore[index]
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("message never became visible through the API")
        item = page["results"][0]  # type: ignore[index]
        assert item["subject"] == "스모크 테스트 smoke", item
        status, full = http("GET", f"{base}/api/v1/messages/{item['id']}", token=token)
        assert status == 200 and "안녕하세요" in full["text"], (status, full)  # type: ignore[index]
        maildir = var / "mail" / "smoke.test" / "alice" / "Maildir" / "new"
        assert len(list(maildir.iterdir())) == 1, list(maildir.iterdir())
        print(f"smoke: OK (web {web}, smtp {smtp}, var {var})")
    except BaseException:
        log.flush()
        sys.stderr.write(log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


if __name__ == "__main__":
    run_smoke()
