"""Privilege separation (issue 15 item 1): listeners bind ports below 1024 as root and then run
as MAILROOM_USER (checked in /proc, not taken from the process's word), the IMAP pre-fork
parent keeps only CAP_NET_BIND_SERVICE, runall starts worker and web as the user, wrong
owners or modes of secrets are refused at start, and development mode is unchanged."""

from __future__ import annotations

import functools
import http.client
import imaplib
import os
import poplib
import re
import signal
import smtplib
import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from mailcore.privileges import CAP_NET_BIND_SERVICE, Secret, ServiceUser, problems
from mailcore.tls import ensure_self_signed

from .conftest import (
    Proc,
    base_env,
    children_of,
    free_low_port,
    free_port,
    ids,
    status,
    wait_until,
)

pytestmark = pytest.mark.e2e


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def caps_dropped(pid: int) -> bool:
    return int(status(pid)["CapEff"], 16) == 0


def assert_runs_as(pid: int, user: ServiceUser) -> None:
    uids, gids = ids(pid)
    assert uids == {user.uid}, status(pid)["Uid"]
    assert gids == {user.gid}, status(pid)["Gid"]
    groups = {int(g) for g in status(pid)["Groups"].split()}
    assert 0 not in groups
    assert int(status(pid)["CapEff"], 16) == 0


def test_pop3_binds_995_style_port_as_root_then_runs_as_the_user(
    python: str, scratch_user: ServiceUser, service_var: Path, start: Callable[..., Proc]
) -> None:
    port = free_low_port()
    env = base_env(service_var, MAILROOM_USER=scratch_user.name, POP3S_LISTEN=f"127.0.0.1:{port}")
    proc = start([python, "-m", "mailcore.pop3"], env, service_var / "pop3.out")
    proc.wait_for("privileges dropped")
    assert_runs_as(proc.pid, scratch_user)
    pop = poplib.POP3_SSL("127.0.0.1", port, context=client_tls(), timeout=10)
    try:
        assert pop.getwelcome().startswith(b"+OK")
        assert "USER" in pop.capa()
    finally:
        pop.quit()
    # What it made as root before the drop (self-signed certificate, database directory)
    # belongs to the user, with the modes the start-up check asks for.
    key = service_var / "tls" / "key.pem"
    assert key.stat().st_uid == scratch_user.uid
    assert key.stat().st_mode & 0o777 == 0o600
    assert (service_var / "secret_key").stat().st_uid == scratch_user.uid


def test_imap_prefork_parent_keeps_only_bind_capability_and_rebinds_for_a_new_worker(
    python: str, scratch_user: ServiceUser, service_var: Path, start: Callable[..., Proc]
) -> None:
    port = free_low_port()
    env = base_env(
        service_var,
        MAILROOM_USER=scratch_user.name,
        IMAPS_LISTEN=f"127.0.0.1:{port}",
        IMAP_PROCESSES="2",
    )
    proc = start([python, "-m", "mailcore.imap"], env, service_var / "imap.out")
    proc.wait_for("privileges dropped")
    wait_until(lambda: len(children_of(proc.pid)) == 2, "two IMAP workers")
    parent = status(proc.pid)
    assert ids(proc.pid)[0] == {scratch_user.uid}
    assert int(parent["CapEff"], 16) == 1 << CAP_NET_BIND_SERVICE
    assert int(parent["CapPrm"], 16) == 1 << CAP_NET_BIND_SERVICE
    workers = children_of(proc.pid)
    for pid in workers:
        wait_until(functools.partial(caps_dropped, pid), "worker drops caps")
        assert_runs_as(pid, scratch_user)
    # A worker that dies is replaced: the parent binds port < 1024 again, as the user.
    os.kill(workers[0], signal.SIGKILL)
    wait_until(
        lambda: workers[0] not in children_of(proc.pid) and len(children_of(proc.pid)) == 2,
        "the replacement worker",
        timeout=30,
    )
    assert "Permission denied" not in proc.text()
    for _ in range(4):  # the kernel spreads connections over both workers' sockets
        imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=10)
        assert imap.welcome.startswith(b"* OK")
        imap.logout()


def test_runall_production_mode_every_child_runs_as_the_user(
    python: str, scratch_user: ServiceUser, service_var: Path, start: Callable[..., Proc]
) -> None:
    smtp_port, web_port, metrics_port = free_low_port(), free_low_port(), free_low_port()
    env = base_env(
        service_var,
        MAILROOM_USER=scratch_user.name,
        SMTP_LISTEN=f"127.0.0.1:{smtp_port}",
        WEB_LISTEN=f"127.0.0.1:{web_port}",
        METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
    )
    argv = [
        python,
        "manage.py",
        "runall",
        "--skip",
        "imap",
        "--skip",
        "pop3",
        "--skip",
        "beat",
        "--web-workers",
        "1",
        "--web-threads",
        "2",
        "--worker-concurrency",
        "1",
        "--worker-pool",
        "solo",
    ]
    proc = start(argv, env, service_var / "runall.out")
    proc.wait_for("started worker")
    proc.wait_for("smtp: privileges dropped")
    assert f"runs as                   {scratch_user.name}" in proc.text()
    # The certificate's names and expiry (issue 15 item 2): the self-signed one made now.
    assert re.search(r"TLS default +mx\.ops\.test, localhost; expires 20\d\d-", proc.text())
    kids = {}
    for pid in children_of(proc.pid):
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        names = (b"gunicorn", b"mailcore.smtp", b"celery", b"mailcore.maillog")
        kids[next(k for k in names if k in cmd)] = pid
    assert_runs_as(kids[b"mailcore.smtp"], scratch_user)
    assert_runs_as(kids[b"celery"], scratch_user)
    # The mail log / metrics process (issue 15 item 4) too, its listener bound before.
    proc.wait_for("maillog: privileges dropped")
    assert_runs_as(kids[b"mailcore.maillog"], scratch_user)
    assert f"metrics                   http://127.0.0.1:{metrics_port}/metrics" in proc.text()
    # gunicorn binds the web port (< 1024) as root; its workers serve as the user.
    wait_until(lambda: bool(children_of(kids[b"gunicorn"])), "a gunicorn worker")
    for pid in children_of(kids[b"gunicorn"]):
        assert ids(pid)[0] == {scratch_user.uid}
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
        assert smtp.ehlo()[0] == 250

    def healthy() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    wait_until(healthy, "the web process behind port < 1024")
    # /metrics adds up the instruments of every process (multiprocess mode): the SMTP
    # session above was counted in the SMTP process.
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert "mailroom_queue_entries" in text
    assert f'mailroom_smtp_sessions_total{{port="{smtp_port}"}} 1.0' in text
    # The database migrated by runall belongs to the user that writes it.
    assert (service_var / "mailroom.sqlite3").stat().st_uid == scratch_user.uid


def test_wrong_mode_of_the_tls_key_is_refused_with_the_fix(
    python: str, scratch_user: ServiceUser, service_var: Path, start: Callable[..., Proc]
) -> None:
    tls = service_var / "tls"
    ensure_self_signed(tls / "cert.pem", tls / "key.pem", "mx.ops.test")
    for path in (tls, tls / "cert.pem", tls / "key.pem"):
        os.chown(path, scratch_user.uid, scratch_user.gid)
    (tls / "key.pem").chmod(0o644)
    env = base_env(
        service_var, MAILROOM_USER=scratch_user.name, POP3S_LISTEN=f"127.0.0.1:{free_port()}"
    )
    proc = start([python, "-m", "mailcore.pop3"], env, service_var / "pop3.out")
    assert proc.proc.wait(60) == 78
    out = proc.text()
    assert "refusing to start in production mode" in out
    assert f"TLS key {tls / 'key.pem'} has mode 0644" in out
    assert f"chmod 600 {tls / 'key.pem'}" in out
    assert "Traceback" not in out
    # runall refuses the same way, before it starts anything.
    runall = start([python, "manage.py", "runall"], env, service_var / "runall.out")
    assert runall.proc.wait(60) != 0
    assert "has mode 0644" in runall.text()
    assert "started" not in runall.text()


def test_problems_name_owner_and_mode(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("x")
    key.chmod(0o640)
    mail = tmp_path / "mail"
    mail.mkdir(mode=0o755)
    mail.chmod(0o755)
    found = problems(
        [
            Secret(key, "TLS key", 0o600),
            Secret(mail, "Maildir root", 0o700),
            Secret(tmp_path / "absent", "spool", 0o700),
        ],
        owner_uid=os.geteuid() + 4242,
    )
    assert any("TLS key" in f and "mode 0640" in f for f in found)
    assert any("Maildir root" in f and "chmod 700" in f for f in found)
    assert sum("must be owned by" in f for f in found) == 2
    key.chmod(0o400)  # stricter is fine
    assert problems([Secret(key, "TLS key", 0o600)], owner_uid=os.geteuid()) == []


def test_development_default_for_a_normal_user_on_high_ports(
    python: str, scratch_user: ServiceUser, service_var: Path, start: Callable[..., Proc]
) -> None:
    port = free_port()
    env = base_env(service_var, POP3S_LISTEN=f"127.0.0.1:{port}")
    env.pop("MAILROOM_USER", None)
    proc = start(
        [python, "-m", "mailcore.pop3"],
        env,
        service_var / "pop3.out",
        user=scratch_user.uid,
        group=scratch_user.gid,
        extra_groups=[],
    )
    proc.wait_for("POP3 (implicit TLS) listening")

    def greets() -> bool:
        try:
            pop = poplib.POP3_SSL("127.0.0.1", port, context=client_tls(), timeout=5)
        except OSError:
            return False
        pop.quit()
        return True

    wait_until(greets, "POP3S greeting")
    assert "privileges dropped" not in proc.text()
    assert ids(proc.pid)[0] == {scratch_user.uid}
