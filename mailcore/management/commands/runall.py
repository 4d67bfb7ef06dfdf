"""`manage.py runall` (what `make run` starts): every Mailroom process under one supervisor.

Migrates, makes a self-signed certificate if none is configured, prints what listens where,
then runs web, SMTP, the delivery worker and the queue sweep (beat), restarting any that die.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from mailcore.tls import ensure_self_signed

RESTART_WINDOW = 60.0
MAX_RESTARTS = 5


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, start_new_session=False)


def web_argv(python: str, bind: str, *, workers: int, threads: int) -> list[str]:
    """gunicorn for the web process. Threaded workers (gthread): an open event stream
    (GET /api/v1/events) holds one thread for minutes, not a whole worker process; the
    stream caps (EVENTS_MAX_STREAMS) keep threads free for ordinary requests."""
    return [
        python,
        "-m",
        "gunicorn",
        "webmail.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "5",
        "--no-control-socket",
    ]


def describe_database() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite (WAL) {db['NAME']}"
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    return f"PostgreSQL {db.get('USER') or ''}@{where}/{db['NAME']}"


def describe_broker() -> str:
    if settings.REDIS_URL:
        return f"Redis {settings.REDIS_URL}"
    return f"filesystem:// {settings.BROKER_DIR}"


class Command(BaseCommand):
    help = "Run every Mailroom process (web, SMTP, worker, sweep) in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument(
            "--web-threads",
            type=int,
            default=32,
            help="threads per web worker (each open event stream holds one)",
        )
        parser.add_argument("--worker-concurrency", type=int, default=2)
        parser.add_argument(
            "--worker-pool", default="prefork", choices=["prefork", "threads", "solo"]
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=["web", "smtp", "worker", "beat"],
            help="do not start this process (e.g. workers on another host)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        created = False
        if settings.TLS_SELF_SIGNED:
            created = ensure_self_signed(
                settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME
            )
        py = sys.executable
        web = settings.WEB_LISTEN
        var = str(settings.BROKER_DIR.parent)
        children = [
            Child(
                "web",
                web_argv(py, str(web), workers=opts["web_workers"], threads=opts["web_threads"]),
            ),
            Child("smtp", [py, "-m", "mailcore.smtp"]),
            Child(
                "worker",
                [
                    py,
                    "-m",
                    "celery",
                    "-A",
                    "webmail",
                    "worker",
                    "-Q",
                    "mailroom",
                    "--concurrency",
                    str(opts["worker_concurrency"]),
                    "--pool",
                    opts["worker_pool"],
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    f"worker@{settings.MAIL_HOSTNAME}",
                ],
            ),
            Child(
                "beat",
                [
                    py,
                    "-m",
                    "celery",
                    "-A",
                    "webmail",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    os.path.join(var, "celerybeat-schedule"),
                ],
            ),
        ]
        children = [c for c in children if c.name not in opts["skip"]]
        # Event streams may take three quarters of the web threads; the rest serve requests.
        os.environ.setdefault("EVENTS_MAX_STREAMS", str(max(1, opts["web_threads"] * 3 // 4)))
        self._banner(created)
        stopping = False

        def stop(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        for child in children:
            child.start()
        exit_code = 0
        try:
            while not stopping:
                time.sleep(0.5)
                for child in children:
                    assert child.proc is not None
                    code = child.proc.poll()
                    if code is None or stopping:
                        continue
                    now = time.monotonic()
                    child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW]
                    if len(child.restarts) >= MAX_RESTARTS:
                        self.stderr.write(f"{child.name} keeps dying (exit {code}); stopping all")
                        stopping, exit_code = True, 1
                        break
                    self.stderr.write(f"{child.name} exited with {code}; restarting")
                    child.restarts.append(now)
                    child.start()
        finally:
            for child in children:
                if child.proc and child.proc.poll() is None:
                    child.proc.terminate()
            deadline = time.monotonic() + 10
            for child in children:
                if child.proc is None:
                    continue
                try:
                    child.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
        sys.exit(exit_code)

    def _banner(self, cert_created: bool) -> None:
        s = settings
        lines = [
            "Mailroom is starting",
            f"  web (webmail + REST API)  http://{s.WEB_LISTEN}/   API: http://{s.WEB_LISTEN}/api/v1/",
            f"  SMTP (MX, STARTTLS)       {s.SMTP_LISTEN}",
            f"  submission (STARTTLS)     {s.SUBMISSION_LISTEN}",
            f"  submission (implicit TLS) {s.SMTPS_LISTEN}",
            f"  database                  {describe_database()}",
            f"  broker                    {describe_broker()}",
            f"  mail store (Maildir)      {s.MAIL_ROOT}",
            f"  spool                     {s.SPOOL_DIR}",
            f"  TLS certificate           {s.TLS_CERT_FILE}"
            + (" (self-signed, created now)" if cert_created else ""),
            f"  hostname                  {s.MAIL_HOSTNAME}",
            "  not yet available: IMAP, POP3 — see the README",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
