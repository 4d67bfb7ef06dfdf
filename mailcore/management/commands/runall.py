"""`manage.py runall` (what `make run` starts): every Mailroom process under one supervisor.

Migrates, makes a self-signed certificate if none is configured, prints what listens where,
then runs web, SMTP, the delivery worker and the queue sweep (beat). Each child is restarted on
its own whenever it dies, with growing back-off while it keeps dying, never stopping the others.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailcore import privileges
from mailcore.directory.queries import role_address_warnings
from mailcore.tls import certificates_from_settings, ensure_self_signed, expiry_warnings

log = logging.getLogger("mailroom.supervisor")

# Restart back-off (Postfix master throttles a failing service; systemd grows RestartSec): the
# n-th quick death in a row waits BASE * 2**(n-1) seconds, at most MAX, for as long as it keeps
# failing. A child that ran STABLE seconds before it died starts a new count.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
STABLE_SECONDS = 30.0
POLL_SECONDS = 0.2


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class Child:
    """One supervised process. Each child is restarted on its own schedule: one that keeps
    dying never stops or delays the others."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # quick deaths in a row
    restart_at: float | None = None  # set while waiting out the back-off
    # Popen's user/group/extra_groups/umask: a child that binds no privileged port starts as
    # the service user (production mode under root); the listeners drop after binding.
    popen: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.restart_at = None
        self.proc = subprocess.Popen(self.argv, start_new_session=False, **self.popen)

    def backoff(self, base: float, cap: float) -> float:
        return float(min(cap, base * 2 ** max(0, self.failures - 1)))


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


def children(py: str, opts: dict[str, Any]) -> list[Child]:
    """Every process runall supervises, in start order; one line per child."""
    var = str(settings.BROKER_DIR.parent)
    as_user = privileges.popen_user_kwargs()
    web = web_argv(
        py, str(settings.WEB_LISTEN), workers=opts["web_workers"], threads=opts["web_threads"]
    )
    web_popen = as_user
    if as_user and settings.WEB_LISTEN.port < 1024:
        # gunicorn binds as root and starts its workers as the user (the master stays root).
        user = privileges.service_user()
        assert user is not None
        web += ["--user", str(user.uid), "--group", str(user.gid), "--umask", "0o077"]
        web_popen = {}
    return [
        Child("web", web, popen=web_popen),
        *smtp_children(py, settings.SMTP_PROCESSES),
        Child("imap", [py, "-m", "mailcore.imap"]),
        Child("pop3", [py, "-m", "mailcore.pop3"]),
        Child(
            "worker",
            worker_argv(py, opts["worker_concurrency"], opts["worker_pool"]),
            popen=as_user,
        ),
        Child("beat", beat_argv(py, os.path.join(var, "celerybeat-schedule")), popen=as_user),
        *maillog_children(py),
    ]


def embedded_rspamd() -> Child | None:
    """Debian's rspamd as a child, on loopback ports with its config under VAR_DIR/rspamd (a
    LOCAL_CONFDIR overlay; /etc/rspamd is only read), when it is installed, RSPAMD_EMBEDDED is
    not "0" and no RSPAMD_URL names another one. Sets RSPAMD_URL and RSPAMD_CONTROLLER_URL for
    the children. Bayes learns into the broker's Redis when there is one (else rspamd scans
    but cannot learn). Mail arriving before it is ready is delivered unscanned and marked."""
    from urllib.parse import urlsplit

    from mailcore.inbound import rspamd_local

    if settings.RSPAMD_EMBEDDED in ("0", "off", "no") or settings.RSPAMD_URL:
        return None
    if not rspamd_local.installed():
        log.info("rspamd is not installed: mail is delivered without a spam scan")
        return None
    base = settings.RSPAMD_EMBEDDED_PORT
    where = rspamd_local.LocalRspamd(Path(settings.VAR_DIR) / "rspamd", base, base + 1, base + 2)
    redis = None
    if settings.REDIS_URL:
        url = urlsplit(settings.REDIS_URL)
        db = int((url.path or "/0").strip("/") or 0)
        redis = (url.hostname or "127.0.0.1", url.port or 6379, db)
    nameservers = [n.strip() for n in settings.RELAY_NAMESERVERS.split(",") if n.strip()]
    rspamd_local.write_config(where, redis=redis, dns=nameservers[0] if nameservers else None)
    os.environ["RSPAMD_URL"] = where.url
    os.environ["RSPAMD_CONTROLLER_URL"] = where.controller_url
    return Child("rspamd", rspamd_local.argv(where))


def maillog_children(python: str) -> list[Child]:
    """The mail log and /metrics process, when either is on (issue 15 item 4)."""
    if settings.MAIL_LOG == "off" and not settings.METRICS_LISTEN.enabled:
        return []
    return [Child("maillog", [python, "-m", "mailcore.maillog"])]


def migrate() -> None:
    """The schema first. In production mode under root it runs as the service user, so a
    SQLite database (and its WAL files) belong to the processes that write it."""
    as_user = privileges.popen_user_kwargs()
    if not as_user:
        call_command("migrate", interactive=False, verbosity=0)
        return
    manage = Path(settings.BASE_DIR) / "manage.py"
    done = subprocess.run(
        [sys.executable, str(manage), "migrate", "--noinput", "--verbosity", "0"],
        check=False,
        **as_user,
    )
    if done.returncode != 0:
        raise CommandError(f"migrate failed (exit code {done.returncode})")


def metrics_dir() -> None:
    """With METRICS_LISTEN on, every child keeps its Prometheus instruments in files under
    $MAILROOM_VAR/metrics (prometheus_client's multiprocess mode), emptied at each start so
    counters of a previous run do not count twice."""
    if not settings.METRICS_LISTEN.enabled:
        return
    path = Path(settings.VAR_DIR) / "metrics"
    if path.exists():
        shutil.rmtree(path)
    privileges.make_dirs(path, 0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)


def run_as() -> str:
    """The banner's line on privileges."""
    user = privileges.service_user()
    if user is None:
        who = "root (set MAILROOM_USER to drop privileges)" if os.geteuid() == 0 else "this user"
        return f"{who}; development mode"
    if os.geteuid() == 0:
        return (
            f"{user.name} (uid {user.uid}): listeners bind as root, then drop; "
            "worker and beat start as it"
        )
    return f"{user.name} (uid {user.uid})"


def smtp_children(python: str, processes: int) -> list[Child]:
    """SMTP_PROCESSES listeners on the same ports (SO_REUSEPORT, see mailcore.smtp.server):
    "smtp", then "smtp-2" …, each restarted on its own."""
    return [
        Child("smtp" if n == 1 else f"smtp-{n}", [python, "-m", "mailcore.smtp"])
        for n in range(1, max(1, processes) + 1)
    ]


def open_log(path: Path) -> Path:
    """The supervisor's own log (its starts, deaths and restarts), rotated at 1 MB with 5 old
    files kept. Not propagated to the root handler: the console gets its own line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in list(log.handlers):
        log.removeHandler(old)
        old.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1 << 20, backupCount=5)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return path


def worker_argv(python: str, concurrency: int, pool: str) -> list[str]:
    return [
        python,
        "-m",
        "celery",
        "-A",
        "webmail",
        "worker",
        "-Q",
        "mailroom",
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"worker@{settings.MAIL_HOSTNAME}",
    ]


def beat_argv(python: str, schedule: str) -> list[str]:
    return [
        python,
        "-m",
        "celery",
        "-A",
        "webmail",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        schedule,
    ]


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
            metavar="NAME",
            help="do not start this process (web, smtp, worker, beat …; e.g. workers on "
            "another host); may be repeated",
        )
        parser.add_argument(
            "--restart-delay",
            type=float,
            default=BACKOFF_BASE_SECONDS,
            help="seconds before restarting a child that died quickly; doubles with each "
            "further quick death (default %(default)s)",
        )
        parser.add_argument(
            "--restart-delay-max",
            type=float,
            default=BACKOFF_MAX_SECONDS,
            help="the longest wait between restarts of a failing child (default %(default)s)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        procs = children(sys.executable, opts)
        spam = embedded_rspamd()  # before any child starts: they inherit its RSPAMD_URL
        if spam is not None:
            procs.append(spam)
        unknown = set(opts["skip"]) - {c.name for c in procs}
        if unknown:
            known = ", ".join(c.name for c in procs)
            raise CommandError(f"--skip {', '.join(sorted(unknown))}: not one of {known}")
        # --skip smtp skips every SMTP process (smtp, smtp-2 …).
        procs = [c for c in procs if not {c.name, c.name.partition("-")[0]} & set(opts["skip"])]
        base = max(0.05, opts["restart_delay"])
        cap = max(base, opts["restart_delay_max"])
        try:
            privileges.check_settings("runall")
        except privileges.PrivilegeError as exc:
            raise CommandError(str(exc)) from None
        migrate()
        metrics_dir()
        created = False
        if settings.TLS_SELF_SIGNED:
            created = ensure_self_signed(
                settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME
            )
        # Event streams may take three quarters of the web threads; the rest serve requests.
        os.environ.setdefault("EVENTS_MAX_STREAMS", str(max(1, opts["web_threads"] * 3 // 4)))
        log_file = open_log(Path(settings.VAR_DIR) / "log" / "runall.log")
        self._banner(created, log_file)
        stopping = False

        def stop(signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            for child in procs:
                self._start(child, base, cap)
            while not stopping:
                time.sleep(POLL_SECONDS)
                for child in procs:
                    if stopping:
                        break
                    self._tend(child, base, cap)
        finally:
            self._stop_all(procs)
        sys.exit(0)

    def _say(self, message: str, *, level: int = logging.INFO) -> None:
        """To the supervisor's log file and to the console runall was started from."""
        log.log(level, message)
        self.stdout.write(f"[runall] {message}")
        self.stdout.flush()

    def _start(self, child: Child, base: float, cap: float) -> None:
        try:
            child.start()
        except OSError as exc:  # cannot even fork/exec: fail like a quick death
            child.proc = None
            child.failures += 1
            delay = child.backoff(base, cap)
            child.restart_at = time.monotonic() + delay
            self._say(
                f"{child.name} could not start ({exc}; failure {child.failures} in a row); "
                f"retrying in {delay:g} s",
                level=logging.ERROR,
            )
            return
        assert child.proc is not None
        self._say(f"started {child.name} (pid {child.proc.pid})")

    def _tend(self, child: Child, base: float, cap: float) -> None:
        """Notice a dead child and schedule its restart, or restart it once its wait is over."""
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                self._start(child, base, cap)
            return
        if child.proc is None:
            return
        code = child.proc.poll()
        if code is None:
            return
        ran = now - child.started_at
        child.failures = 1 if ran >= STABLE_SECONDS else child.failures + 1
        delay = child.backoff(base, cap)
        child.restart_at = now + delay
        self._say(
            f"{child.name} (pid {child.proc.pid}) exited with {describe_exit(code)} after "
            f"{ran:.1f} s (failure {child.failures} in a row); restarting in {delay:g} s",
            level=logging.WARNING if child.failures == 1 else logging.ERROR,
        )

    @staticmethod
    def _stop_all(procs: list[Child]) -> None:
        for child in procs:
            if child.proc and child.proc.poll() is None:
                child.proc.terminate()
        deadline = time.monotonic() + 10
        for child in procs:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def _banner(self, cert_created: bool, log_file: Path) -> None:
        s = settings
        lines = [
            "Mailroom is starting",
            f"  web (webmail + REST API)  http://{s.WEB_LISTEN}/   API: http://{s.WEB_LISTEN}/api/v1/",
            f"  SMTP (MX, STARTTLS)       {s.SMTP_LISTEN}",
            f"  submission (STARTTLS)     {s.SUBMISSION_LISTEN}",
            f"  submission (implicit TLS) {s.SMTPS_LISTEN}",
            f"  IMAP (STARTTLS)           {s.IMAP_LISTEN}",
            f"  IMAP (implicit TLS)       {s.IMAPS_LISTEN}",
            f"  POP3 (STLS)               {s.POP3_LISTEN}",
            f"  POP3 (implicit TLS)       {s.POP3S_LISTEN}",
            f"  database                  {describe_database()}",
            f"  broker                    {describe_broker()}",
            f"  mail store (Maildir)      {s.MAIL_ROOT}",
            f"  spool                     {s.SPOOL_DIR}",
            f"  TLS certificate           {s.TLS_CERT_FILE}"
            + (" (self-signed, created now)" if cert_created else ""),
            *(f"  TLS {info.label:<22}{info.describe()}" for info in certificates_from_settings()),
            f"  runs as                   {run_as()}",
            f"  mail log                  {s.MAIL_LOG} (stdout of maillog)",
            "  metrics                   "
            + (f"http://{s.METRICS_LISTEN}/metrics" if s.METRICS_LISTEN.enabled else "off"),
            f"  hostname                  {s.MAIL_HOSTNAME}",
            f"  spam filter (rspamd)      {os.environ.get('RSPAMD_URL') or 'off'}",
            f"  supervisor log            {log_file}",
        ]
        # postmaster@ (RFC 5321 §4.5.1) and abuse@ with nowhere to go: said where it is seen.
        lines += [f"  {warning}" for warning in role_address_warnings()]
        lines += [
            f"  WARNING {warning}"
            for warning in expiry_warnings(certificates_from_settings(), s.TLS_EXPIRY_WARNING_DAYS)
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
