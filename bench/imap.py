#!/usr/bin/env python
"""IMAP benchmark: Mailroom's IMAP server (`python -m mailcore.imap`) beside Debian's Dovecot
(dovecot-imapd, started here on loopback high ports with its own configuration in a scratch
directory), on the same machine and the same mail, runs interleaved. Prints both figures and
the ratio Mailroom / Dovecot (above 1 means Mailroom is ahead; for times and memory, below 1).

Mail: one corpus generated once (plain, multipart/alternative and attachment messages,
Korean and English subjects, CRLF line ends, flags), written as Maildir files for Dovecot
(with a dovecot-uidlist, so UIDs are the same on both) and delivered into Mailroom's store
through its Maildir module, then indexed by `reindex` (which computes what IMAP serves).

Figures:
  1. --clients (10) concurrent clients on a --messages (10,000) message INBOX: full
     LOGIN…LOGOUT cycles (LOGIN, SELECT, FETCH headers, FETCH body, STORE, SEARCH, APPEND,
     EXPUNGE, LOGOUT) per second, then each command alone for --seconds: ops/s, p50/p99.
  2. The full-folder `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
     BODYSTRUCTURE)` on a --big-messages (100,000) message INBOX: time, bytes, and the peak
     RSS of the serving process (cold: first fetch after loading; then warm).
  3. --idle (5,000) concurrent authenticated IDLE sessions: server memory growth / N
     (Mailroom: the one server process, RSS and PSS; Dovecot: PSS summed over all its
     processes, since it runs one imap process per connection unless it hibernates them).

Both servers use implicit TLS (993-style) with the same self-signed RSA-2048 certificate.
Mailroom logins use app passwords (what mail clients are given; account passwords are
Argon2, ~1.3 s each); Dovecot's passwd-file holds {SHA256} hashes, the same cost class.

    bash scripts/ensure-imap-tools.sh --dovecot        # Debian's dovecot-imapd and isync
    psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS mailroom_bench" \\
        -c "CREATE DATABASE mailroom_bench"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
    REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/imap.py                 # full size: 10,000 / 100,000 / 5,000
    ... bench/imap.py --messages 2000 --big-messages 20000 --idle 500 --seconds 5   # quick

Loading is part of the run: 22,000 messages took 80 s into Mailroom (one fsynced file each,
then `reindex`), so the full size needs several minutes before the first figure.
Every loop is bounded by a count and a time (--seconds, --max-ops, --timeout). Needs root or
a user that may run Dovecot: as root, Dovecot's mail processes run as `nobody`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import email.utils
import hashlib
import imaplib
import json
import multiprocessing
import os
import pwd
import random
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stack import free_port, machine, percentile  # noqa: E402

DOMAIN = "bench.test"
USERS = {"cycle": f"cycle@{DOMAIN}", "big": f"big@{DOMAIN}", "idle": f"idle@{DOMAIN}"}
PASSWORD = "bench-password-1"
HEADER_FIELDS = (
    "From To Cc Subject Date Message-ID In-Reply-To References Content-Type List-Id Priority"
)
BIG_FETCH = "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"
PHASES = (
    "cycle",
    "LOGIN",
    "SELECT",
    "FETCH headers",
    "FETCH body",
    "STORE",
    "SEARCH flags",
    "SEARCH header",
    "SEARCH text",
    "APPEND",
    "EXPUNGE",
)

# --- the corpus --------------------------------------------------------------------------------

_EN_WORDS = (
    "meeting report budget invoice travel schedule release notes review draft update "
    "project quarterly results summary agenda minutes contract proposal feedback"
)
_KO_WORDS = "회의 보고서 예산 청구서 출장 일정 공지 검토 초안 안내 결과 요약 계약 제안 의견"
_TEXT_WORDS = (
    "The quick brown fox jumps over the lazy dog while the committee reviews the budget "
    "and the team ships the release on schedule. 다람쥐 헌 쳇바퀴에 타고파, 회의는 내일 "
    "오후 세 시에 열립니다. Please find the figures attached and reply by Friday."
)
_EN, _KO, _TEXT = _EN_WORDS.split(), _KO_WORDS.split(), _TEXT_WORDS.split()
_BASE_DATE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _subject(rng: random.Random, i: int) -> str:
    words = _KO if i % 3 == 0 else _EN
    text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 5))) + f" #{i}"
    if i % 3 == 0:
        return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="
    return text.capitalize()


def _paragraphs(rng: random.Random, size: int) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choice(_TEXT) for _ in range(rng.randint(8, 12)))
        out.append(line)
        length += len(line.encode()) + 2
    return "\r\n".join(out)


def corpus_message(i: int, to: str) -> tuple[bytes, str, float]:
    """Message number i (deterministic): its bytes (CRLF), Maildir flag letters, date."""
    rng = random.Random(i)
    when = _BASE_DATE + timedelta(minutes=7 * i)
    sender = i % 97
    head = [
        f"Return-Path: <sender{sender}@example.net>",
        f"From: Sender {sender} <sender{sender}@example.net>",
        f"To: {to}",
        f"Subject: {_subject(rng, i)}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: <bench-{i}@example.net>",
        "MIME-Version: 1.0",
    ]
    if i % 5 == 1 and i > 0:
        head += [
            f"In-Reply-To: <bench-{i - 1}@example.net>",
            f"References: <bench-{i - 1}@example.net>",
        ]
    if i % 7 == 0:
        head.append("List-Id: Team list <team.example.net>")
    kind = i % 10
    text = _paragraphs(rng, rng.choice((800, 1500, 3000, 6000)))
    if kind < 7:
        head.append("Content-Type: text/plain; charset=utf-8")
        head.append("Content-Transfer-Encoding: 8bit")
        body = text
    elif kind < 9:
        b = f"alt-{i}"
        head.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        html = "<html><body><p>" + text.replace("\r\n", "</p>\r\n<p>") + "</p></body></html>"
        body = (
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--{b}--"
        )
    else:
        b = f"mix-{i}"
        head.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        blob = base64.encodebytes(rng.randbytes(rng.choice((2048, 8192, 20000)))).decode()
        body = (
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
            f'--{b}\r\nContent-Type: application/pdf; name="report-{i}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="report-{i}.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n" + blob.replace("\n", "\r\n") + f"--{b}--"
        )
    data = ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode()
    letters = ""
    if i % 17 == 0:
        letters += "F"
    if i % 11 == 0:
        letters += "R"
    if i % 3 != 0:
        letters += "S"
    return data, letters, when.timestamp()


def append_message(tag: str) -> bytes:
    """A 4 KiB message a client APPENDs."""
    body = ("Appended by the benchmark. " * 40 + "\r\n") * 4
    return (
        f"From: Bench <bench@example.net>\r\nTo: cycle@{DOMAIN}\r\nSubject: append {tag}\r\n"
        f"Date: {email.utils.format_datetime(datetime.now(tz=UTC))}\r\n"
        f"Message-ID: <append-{tag}@example.net>\r\n\r\n{body}"
    ).encode()


def write_dovecot_maildir(home: Path, to: str, count: int, uidvalidity: int) -> None:
    """`count` corpus messages as a Dovecot Maildir INBOX (home/Maildir/cur + dovecot-uidlist,
    UIDs 1..count in date order)."""
    md = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        data, letters, mtime = corpus_message(i, to)
        base = f"{int(mtime)}.M{i}P1.bench,S={len(data)},W={len(data)}"
        path = md / "cur" / f"{base}:2,{letters}"
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        lines.append(f"{i + 1} :{base}\n")
    guid = hashlib.md5(str(home).encode()).hexdigest()
    (md / "dovecot-uidlist").write_text(
        f"3 V{uidvalidity} N{count + 1} G{guid}\n" + "".join(lines), encoding="ascii"
    )


# --- process memory ----------------------------------------------------------------------------


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS")


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_cpu_ticks(root: int) -> int:
    """CPU clock ticks (user + system) the process tree below `root` has used so far: every
    live process's own time plus what it has reaped of its children (cutime + cstime). A child
    born and gone between two looks (Dovecot's imap process of one LOGIN…LOGOUT) is counted
    through its parent, which a sampler of live processes (compare.CpuMeter) would miss; one
    that was alive at the first look and is reaped by the second is counted once."""
    total = 0
    for pid in descendants(root):
        f = _stat_fields(pid)
        if f is not None:  # after ")": state is f[0], utime f[11], stime f[12], cutime…cstime
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total


class ServerCpu:
    """A server's CPU seconds over a phase: its process tree (tree_cpu_ticks) plus, for
    Mailroom, the PostgreSQL backends of its database (their CPU is the server's work too;
    they are Django's kept connections, so compare.CpuMeter's sampling sees them whole)."""

    def __init__(self, root: int, dbname: str = "") -> None:
        from bench.compare import CpuMeter, postgres_backends

        self.root = root
        self.meter = CpuMeter(lambda: postgres_backends(dbname)) if dbname else None
        self.ticks0 = 0
        self.database = 0.0

    def start(self) -> None:
        if self.meter is not None:
            self.meter.start()
        self.ticks0 = tree_cpu_ticks(self.root)

    def stop(self) -> float:
        ticks = tree_cpu_ticks(self.root) - self.ticks0
        self.database = self.meter.stop() if self.meter is not None else 0.0
        return ticks / TICK + self.database


TICK = os.sysconf("SC_CLK_TCK")


class PeakSampler:
    """Samples a process's RSS every 10 ms in a thread (and resets/reads VmHWM when allowed)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.base = pid, 0, rss_kb(pid)
        self._stop = threading.Event()
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._stop.wait(0.01)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _status_kb(self.pid, "VmHWM"), self.base)


# --- the servers -------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int  # implicit TLS
    cafile: Path
    logins: dict[str, tuple[str, str]]  # role → (user, password)
    root_pid: int
    session_pid: Callable[[set[int]], int | None] = lambda before: None
    server_pids: Callable[[], list[int]] = list
    dbname: str = ""  # Mailroom's database: its backends' CPU counts as the server's

    def ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))

    def memory(self) -> tuple[int, int, int]:
        """(RSS sum, PSS sum, process count) of the server's processes, in kB."""
        pids = self.server_pids()
        return sum(rss_kb(p) for p in pids), sum(pss_kb(p) for p in pids), len(pids)


class Dovecot:
    """Debian's Dovecot with its own configuration on loopback high ports."""

    def __init__(
        self, work: Path, cert: Path, key: str | Path, *, idle: int, hibernate: float
    ) -> None:
        self.work = work
        self.port_imap, self.port_imaps = free_port(), free_port()
        for sub in ("run", "state", "mail"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # Dovecot refuses mail access as uid 0: its mail processes run as nobody.
            nobody = pwd.getpwnam("nobody")
            uid, gid = nobody.pw_uid, nobody.pw_gid
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(uid).pw_name
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        self.uid, self.gid = uid, gid
        limit = idle + 200
        passwd = "".join(
            f"{u}:{{SHA256}}{base64.b64encode(hashlib.sha256(PASSWORD.encode()).digest()).decode()}\n"
            for u in USERS.values()
        )
        (work / "passwd").write_text(passwd)
        hib = f"imap_hibernate_timeout = {hibernate:g}s\n" if hibernate > 0 else ""
        # Hibernation hands an IDLE client's socket and inotify watch from its imap process
        # to imap-hibernate (one process for all), which hands it back through imap-master.
        hib_master = (
            "  unix_listener imap-master {\n    user = $default_internal_user\n  }\n"
            if hibernate > 0
            else ""
        )
        (work / "dovecot.conf").write_text(
            f"""# bench/imap.py: Debian's Dovecot, defaults except what the benchmark needs
protocols = imap
listen = 127.0.0.1
base_dir = {work}/run
state_dir = {work}/state
instance_name = mailroom-bench-{os.getpid()}
log_path = {work}/dovecot.log
info_log_path = /dev/null
{users}ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
mail_location = maildir:{work}/mail/%n/Maildir
mail_max_userip_connections = {limit}
first_valid_uid = {min(uid, 500)}
verbose_proctitle = yes
default_client_limit = {limit}
default_process_limit = {limit}
default_vsz_limit = 1G
{hib}passdb {{
  driver = passwd-file
  args = scheme=SHA256 username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={work}/mail/%n
}}
# High-performance login mode (Dovecot's advice for many connections): a few imap-login
# processes, each holding many clients, instead of one process per connection.
service imap-login {{
  service_count = 0
  process_min_avail = {os.cpu_count() or 2}
  client_limit = {limit}
  inet_listener imap {{
    port = {self.port_imap}
  }}
  inet_listener imaps {{
    port = {self.port_imaps}
    ssl = yes
  }}
}}
service imap {{
  process_limit = {limit}
{hib_master}}}
service imap-hibernate {{
  unix_listener imap-hibernate {{
    mode = 0660
    group = $default_internal_group
  }}
}}
service anvil {{
  client_limit = {limit * 3 + 100}
}}
service auth {{
  client_limit = {limit * 3 + 100}
}}
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def home(self, user: str) -> Path:
        return self.work / "mail" / user.split("@")[0]

    def prepare_mail(self) -> None:
        os.chmod(self.work, 0o755)
        subprocess.run(
            ["chown", "-R", f"{self.uid}:{self.gid}", str(self.work / "mail")], check=True
        )

    def start(self) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.proc = subprocess.Popen(
            [dovecot, "-F", "-c", str(self.work / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "stderr.log").open("wb"),
            start_new_session=True,
        )
        wait_port(self.port_imaps, self.proc, self.work / "dovecot.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def imap_pids(self) -> set[int]:
        assert self.proc
        return {p for p in descendants(self.proc.pid) if cmdline(p).startswith("dovecot/imap ")}

    def target(self, cafile: Path) -> Target:
        assert self.proc
        root = self.proc.pid

        def session_pid(before: set[int]) -> int | None:
            new = self.imap_pids() - before
            return min(new) if new else None

        return Target(
            "Dovecot",
            self.port_imaps,
            cafile,
            {role: (u, PASSWORD) for role, u in USERS.items()},
            root,
            session_pid,
            lambda: descendants(root),
        )


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}; {log}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port} after {timeout} s") from None
            time.sleep(0.2)


class Mailroom:
    """`python -m mailcore.imap` on free loopback ports, against DATABASE_URL/REDIS_URL."""

    def __init__(
        self, work: Path, cert: Path, key: Path, extra_env: dict[str, str], *, idle: int
    ) -> None:
        self.work = work
        self.port_imap, self.port_imaps = free_port(), free_port()
        self.env = {
            **os.environ,
            "MAILROOM_VAR": str(work / "var"),
            "MAILROOM_ENV_FILE": str(work / "none.env"),
            "MAIL_HOSTNAME": "bench.test",
            "IMAP_LISTEN": f"127.0.0.1:{self.port_imap}",
            "IMAPS_LISTEN": f"127.0.0.1:{self.port_imaps}",
            "TLS_CERT_FILE": str(cert),
            "TLS_KEY_FILE": str(key),
            "LOG_LEVEL": "WARNING",
            # One IP and three accounts hold all the benchmark's connections.
            "IMAP_MAX_CONNECTIONS": str(idle + 1000),
            "IMAP_MAX_CONNECTIONS_PER_IP": str(idle + 500),
            "IMAP_MAX_CONNECTIONS_PER_ACCOUNT": str(idle + 500),
            **extra_env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.secrets: dict[str, str] = {}

    @staticmethod
    def available() -> bool:
        return (ROOT / "mailcore" / "imap" / "__main__.py").exists()

    def load(self, dovecot_homes: dict[str, Path], timeout: float) -> None:
        spec = self.work / "load.json"
        spec.write_text(json.dumps({u: str(h) for u, h in dovecot_homes.items()}))
        out = subprocess.run(
            [sys.executable, __file__, "--load-mailroom", str(spec)],
            cwd=ROOT,
            env=self.env,
            check=False,
            capture_output=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"loading Mailroom failed:\n{out.stderr.decode()[-3000:]}")
        self.secrets = json.loads(out.stdout.decode().strip().splitlines()[-1])

    def start(self) -> None:
        log = (self.work / "imap.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailcore.imap"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port_imaps, self.proc, self.work / "imap.log")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)

    def target(self, cafile: Path) -> Target:
        assert self.proc
        root = self.proc.pid
        return Target(
            "Mailroom",
            self.port_imaps,
            cafile,
            {role: (u, self.secrets[u]) for role, u in USERS.items()},
            root,
            lambda before: root,
            lambda: descendants(root),
            database_name(),
        )


def database_name() -> str:
    """The PostgreSQL database of DATABASE_URL ("" for the embedded default)."""
    from urllib.parse import urlparse

    url = os.environ.get("DATABASE_URL", "")
    return urlparse(url).path.lstrip("/") if url.startswith("postgres") else ""


def load_mailroom(spec_file: str) -> None:
    """(Subprocess) Accounts with app passwords, the corpus files delivered through the store's
    Maildir module with the same UIDs as Dovecot's, then `reindex`; prints {user: secret}."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from mailcore.directory.actions import (
        do_create_account,
        do_create_app_password,
        do_create_domain,
        do_remove_account,
    )
    from mailcore.directory.models import Account, Domain
    from mailcore.store.models import Folder
    from mailcore.store.queries import maildir_for
    from mailcore.store.reindex import reindex_account

    call_command("migrate", verbosity=0)
    homes = {u: Path(h) for u, h in json.loads(Path(spec_file).read_text()).items()}
    if not Domain.objects.filter(name=DOMAIN).exists():
        do_create_domain(DOMAIN)
    secrets: dict[str, str] = {}
    for user, home in homes.items():
        if Account.objects.filter(address=user).exists():
            do_remove_account(user)  # a earlier run's rows; its files were in another var/
        account = do_create_account(user, password=PASSWORD)
        _, secrets[user] = do_create_app_password(account, "bench")
        inbox = Folder.objects.get(account=account, special_use="inbox")
        md = maildir_for(account)
        src = home / "Maildir"
        mapping: dict[str, int] = {}
        for line in (src / "dovecot-uidlist").read_text().splitlines()[1:]:
            uid, _, base = line.partition(" :")
            mapping[base] = int(uid)
        for entry in os.scandir(src / "cur"):
            base, _, letters = entry.name.partition(":2,")
            st = entry.stat()
            md.deliver(
                "",
                base,
                Path(entry.path).read_bytes(),
                info=letters,
                in_cur=True,
                mtime=st.st_mtime,
            )
        md.rewrite_uidlist("", inbox.uidvalidity, mapping)
        reindex_account(account)
    with connection.cursor() as cursor:  # what autovacuum would do after such a bulk load
        cursor.execute("ANALYZE")
    print(json.dumps(secrets))


# --- the clients -------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    ops: int = 0
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    client_cpu: float = 0.0  # seconds (user + system) of the load generator's processes
    server_cpu: float = 0.0  # seconds of the server's processes (ServerCpu)

    def add(self, command: str, seconds: float) -> None:
        self.latencies.setdefault(command, []).append(seconds)


class RawClient:
    """The load generator's cheap client (--client raw, the default): a blocking TLS socket,
    commands written as one send, responses read to the tagged line with read_response
    (literals skipped by their length, nothing else parsed). It answers the calls the bench
    makes of imaplib.IMAP4_SSL with what the bench reads of them: (status, [text after the
    status]). At several thousand commands a second on two cores, imaplib's parsing of every
    response line (regular expressions, a literal copied into tuples) costs as much CPU as a
    server's answer, and the clients share the cores with the server measured; like Postfix's
    smtp-source (C) in bench/compare.py, a cheaper load generator leaves the servers the CPU.
    The same client runs against both servers."""

    def __init__(self, t: Target) -> None:
        raw = socket.create_connection(("127.0.0.1", t.port), timeout=120)
        self.sock = t.ctx().wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = bytearray()
        self.tags = 0
        self.fetches = 0  # FETCH responses of the last command
        self.literal: bytes | None = None  # imaplib's way: sent as the last argument
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("closed before the greeting")
            self.buf += chunk
        del self.buf[: self.buf.index(b"\r\n") + 2]

    def _continuation(self, tag: bytes) -> bool:
        """Wait for the server's "+" (True) or its tagged refusal (False)."""
        while True:
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("connection closed")
                self.buf += chunk
                continue
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 2]
            if line.startswith(b"+"):
                return True
            if line.startswith(tag + b" "):
                self.buf[:0] = line + b"\r\n"
                return False

    def command(self, text: str, literal: bytes | None = None) -> tuple[str, list[bytes]]:
        self.tags += 1
        tag = b"r%d" % self.tags
        line = tag + b" " + text.encode()
        if literal is None:
            self.sock.sendall(line + b"\r\n")
        else:
            self.sock.sendall(line + b" {%d}\r\n" % len(literal))
            if self._continuation(tag):
                self.sock.sendall(literal + b"\r\n")
        self.fetches, _, done = read_response(self.sock, tag, self.buf)
        parts = done.split(b" ", 2)
        return parts[1].decode(), [parts[2] if len(parts) > 2 else b""]

    def login(self, user: str, password: str) -> tuple[str, list[bytes]]:
        def q(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        return self.command(f"LOGIN {q(user)} {q(password)}")

    def select(self, mailbox: str) -> tuple[str, list[bytes]]:
        return self.command(f"SELECT {mailbox}")

    def uid(self, name: str, *args: str) -> tuple[str, list[bytes]]:
        literal, self.literal = self.literal, None
        return self.command(" ".join(("UID", name, *args)), literal)

    def append(
        self, mailbox: str, flags: None, date: None, message: bytes
    ) -> tuple[str, list[bytes]]:
        return self.command(f"APPEND {mailbox}", message)

    def logout(self) -> tuple[str, list[bytes]]:
        try:
            return self.command("LOGOUT")
        finally:
            self.sock.close()


CLIENT = {"kind": "raw"}  # --client; set before the client processes fork


def _connect(t: Target) -> imaplib.IMAP4_SSL:
    if CLIENT["kind"] == "raw":
        return RawClient(t)  # type: ignore[return-value]  # the calls the bench makes
    return imaplib.IMAP4_SSL("127.0.0.1", t.port, ssl_context=t.ctx(), timeout=120)


def _check(typ: str, data: object, what: str) -> None:
    if typ != "OK":
        raise RuntimeError(f"{what}: {typ} {data!r}")


def _timed(res: PhaseResult, command: str, fn: Callable[[], tuple[str, object]]) -> object:
    t = time.perf_counter()
    typ, data = fn()
    res.add(command, time.perf_counter() - t)
    _check(typ, data, command)
    return data


def _appenduid(client: imaplib.IMAP4_SSL, data: object) -> int:
    # RFC 4315 (UIDPLUS): "OK [APPENDUID <uidvalidity> <uid>]"
    text = b" ".join(d for d in data if isinstance(d, bytes)) if isinstance(data, list) else b""  # type: ignore[union-attr]
    code = text.split(b"APPENDUID", 1)
    if len(code) != 2:
        raise RuntimeError(f"no APPENDUID in {text!r}")
    return int(code[1].split()[1].rstrip(b"]"))


class Ops:
    """The commands of one client; `uids` is the folder's UID range to pick from."""

    def __init__(self, t: Target, res: PhaseResult, rng: random.Random, count: int) -> None:
        self.t, self.res, self.rng, self.count = t, res, rng, count
        self.user, self.password = t.logins["cycle"]
        self.toggle = 0
        self.search_i = 0

    def uid(self) -> int:
        return self.rng.randint(1, self.count)

    def login(self) -> imaplib.IMAP4_SSL:
        t0 = time.perf_counter()
        c = _connect(self.t)
        self.res.add("connect+TLS", time.perf_counter() - t0)
        _timed(self.res, "LOGIN", lambda: c.login(self.user, self.password))
        return c

    def logout(self, c: imaplib.IMAP4_SSL) -> None:
        t = time.perf_counter()
        c.logout()
        self.res.add("LOGOUT", time.perf_counter() - t)

    def select(self, c: imaplib.IMAP4_SSL) -> None:
        _timed(self.res, "SELECT", lambda: c.select("INBOX"))

    def fetch_headers(self, c: imaplib.IMAP4_SSL) -> None:
        lo = self.rng.randint(1, max(1, self.count - 49))
        _timed(
            self.res,
            "FETCH headers",
            lambda: c.uid(
                "FETCH",
                f"{lo}:{lo + 49}",
                f"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])",
            ),
        )

    def fetch_body(self, c: imaplib.IMAP4_SSL) -> None:
        u = self.uid()
        _timed(self.res, "FETCH body", lambda: c.uid("FETCH", str(u), "(BODY.PEEK[])"))
        # The raw client only counts the answer's FETCH responses (more than one: another
        # client's flag change reported here too).
        if getattr(c, "fetches", 1) < 1:
            raise RuntimeError(f"FETCH body of UID {u}: no FETCH response")

    def store(self, c: imaplib.IMAP4_SSL) -> None:
        u, op = self.uid(), ("+FLAGS", "-FLAGS")[self.toggle % 2]
        self.toggle += 1
        _timed(self.res, "STORE", lambda: c.uid("STORE", str(u), op, "(\\Flagged)"))

    def search(self, c: imaplib.IMAP4_SSL, kind: str) -> None:
        self.search_i += 1
        if kind == "SEARCH flags":
            args: tuple[str, ...] = ("UNSEEN", "FLAGGED") if self.search_i % 2 else ("UNSEEN",)
        elif kind == "SEARCH header":
            args = ("FROM", f"sender{self.search_i % 97}@example.net")
        else:
            args = ("TEXT", self.rng.choice(("committee", "figures", "다람쥐", "schedule")))
        if not args[-1].isascii():
            # imaplib sends arguments as ASCII: the UTF-8 word goes as a literal.
            c.literal = args[-1].encode()  # type: ignore[attr-defined]
            args = ("CHARSET", "UTF-8", *args[:-1])
        _timed(self.res, kind, lambda: c.uid("SEARCH", *args))

    def append(self, c: imaplib.IMAP4_SSL) -> int:
        msg = append_message(f"{os.getpid()}-{self.rng.random()}")
        data = _timed(self.res, "APPEND", lambda: c.append("INBOX", None, None, msg))
        return _appenduid(c, data)

    def expunge(self, c: imaplib.IMAP4_SSL, uid: int) -> None:
        _timed(self.res, "EXPUNGE", lambda: c.uid("EXPUNGE", str(uid)))

    def remove(self, c: imaplib.IMAP4_SSL, uids: list[int]) -> None:
        """Untimed: expunge what this client appended."""
        for i in range(0, len(uids), 200):
            chunk = ",".join(str(u) for u in uids[i : i + 200])
            _check(*c.uid("STORE", chunk, "+FLAGS.SILENT", "(\\Deleted)"), "STORE \\Deleted")
            _check(*c.uid("EXPUNGE", chunk), "UID EXPUNGE")


# Set before the pool forks: lambdas and barriers do not pickle, forked children inherit them.
_TARGETS: dict[str, Target] = {}
_BARRIER: list[object] = []


def _client(
    name: str,
    phase: str,
    count: int,
    seconds: float,
    max_ops: int,
    seed: int,
) -> PhaseResult:
    t, barrier, finish = _TARGETS[name], _BARRIER[0], _BARRIER[1]
    res = PhaseResult()
    ops = Ops(t, res, random.Random(seed), count)
    c: imaplib.IMAP4_SSL | None = None
    appended: list[int] = []
    started = False
    try:
        if phase not in ("cycle", "LOGIN"):
            c = ops.login()
            ops.select(c)
        if phase == "EXPUNGE":
            # Untimed: the messages the timed loop expunges.
            appended.extend(ops.append(c) for _ in range(min(max_ops, 100)))  # type: ignore[arg-type]
            _check(
                *c.uid("STORE", ",".join(map(str, appended)), "+FLAGS.SILENT", "(\\Deleted)"),  # type: ignore[union-attr]
                "STORE",
            )
        res.latencies.clear()
        barrier.wait(120)  # type: ignore[attr-defined]
        started = True
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while res.ops < max_ops and time.perf_counter() < deadline:
            if phase == "cycle":
                s = ops.login()
                ops.select(s)
                ops.fetch_headers(s)
                ops.fetch_body(s)
                ops.store(s)
                ops.search(s, ("SEARCH flags", "SEARCH header", "SEARCH text")[res.ops % 3])
                u = ops.append(s)
                _check(*s.uid("STORE", str(u), "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
                ops.expunge(s, u)
                ops.logout(s)
            elif phase == "LOGIN":
                ops.logout(ops.login())
            elif phase == "SELECT":
                ops.select(c)  # type: ignore[arg-type]
            elif phase == "FETCH headers":
                ops.fetch_headers(c)  # type: ignore[arg-type]
            elif phase == "FETCH body":
                ops.fetch_body(c)  # type: ignore[arg-type]
            elif phase == "STORE":
                ops.store(c)  # type: ignore[arg-type]
            elif phase.startswith("SEARCH"):
                ops.search(c, phase)  # type: ignore[arg-type]
            elif phase == "APPEND":
                appended.append(ops.append(c))  # type: ignore[arg-type]
            elif phase == "EXPUNGE":
                if not appended:
                    break
                ops.expunge(c, appended.pop())  # type: ignore[arg-type]
            res.ops += 1
        res.elapsed = time.perf_counter() - t0
        res.client_cpu = time.process_time() - cpu0
        with contextlib.suppress(threading.BrokenBarrierError):
            finish.wait(seconds + 120)  # type: ignore[attr-defined]
        if c is not None:
            ops.remove(c, appended)
            c.logout()
    except Exception as exc:
        res.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        res.elapsed = res.elapsed or seconds
        # The others stop waiting for this one (at the start only if it never got there:
        # an abort just after the barrier opened would break it for those not yet awake).
        if not started:
            barrier.abort()  # type: ignore[attr-defined]
        finish.abort()  # type: ignore[attr-defined]
    return res


def run_phase(
    t: Target, phase: str, *, clients: int, count: int, seconds: float, max_ops: int
) -> PhaseResult:
    ctx = multiprocessing.get_context("fork")
    _TARGETS[t.name] = t
    # The bench is a party to both barriers: the server's CPU is measured from the moment the
    # clients start their timed loops to the moment the last one ends (not their set-up).
    start, finish = ctx.Barrier(clients + 1), ctx.Barrier(clients + 1)
    _BARRIER[:] = [start, finish]
    cpu = ServerCpu(t.root_pid, t.dbname)
    server_cpu = 0.0
    with ctx.Pool(clients) as pool:
        pending = pool.starmap_async(
            _client,
            [(t.name, phase, count, seconds, max_ops, 1000 * k + 7) for k in range(clients)],
        )
        try:
            start.wait(130)
            cpu.start()
            finish.wait(seconds + 130)
            server_cpu = cpu.stop()
        except threading.BrokenBarrierError:
            pass  # a client failed: its error is in the results
        results = pending.get(seconds + 600)
    total = PhaseResult(server_cpu=server_cpu)
    for r in results:
        total.ops += r.ops
        total.elapsed = max(total.elapsed, r.elapsed)
        total.errors += r.errors
        total.client_cpu += r.client_cpu
        for k, v in r.latencies.items():
            total.latencies.setdefault(k, []).extend(v)
    return total


# --- the full-folder FETCH ---------------------------------------------------------------------


def read_response(sock: ssl.SSLSocket, tag: bytes, buf: bytearray) -> tuple[int, int, bytes]:
    """Read up to the tagged line, honouring literals; (untagged FETCH count, bytes, tagged)."""
    fetches, total, pos = 0, 0, 0
    while True:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            chunk = sock.recv(1 << 18)
            if not chunk:
                raise RuntimeError("connection closed mid-response")
            total += len(chunk)
            del buf[:pos]
            pos = 0
            buf += chunk
            continue
        line = bytes(buf[pos:nl])
        if line.startswith(b"* ") and b" FETCH " in line[:40]:
            fetches += 1
        if line.endswith(b"}") and b"{" in line:
            n = int(line[line.rindex(b"{") + 1 : -1].rstrip(b"+-"))
            while len(buf) < nl + 2 + n:
                chunk = sock.recv(1 << 18)
                if not chunk:
                    raise RuntimeError("connection closed inside a literal")
                total += len(chunk)
                buf += chunk
            pos = nl + 2 + n
            continue
        pos = nl + 2
        if line.startswith(tag + b" "):
            del buf[:pos]
            return fetches, total, line


def command(sock: ssl.SSLSocket, buf: bytearray, tag: str, text: str) -> bytes:
    sock.sendall(f"{tag} {text}\r\n".encode())
    _, _, line = read_response(sock, tag.encode(), buf)
    if not line.split()[1:2] == [b"OK"]:
        raise RuntimeError(f"{text.split()[0]}: {line!r}")
    return line


def big_fetch(t: Target) -> tuple[float, float, int, int, int, int]:
    """(seconds to the first byte, seconds in all, bytes, FETCH responses, server RSS before
    and at peak in kB) of the full-folder FETCH on the big account."""
    user, password = t.logins["big"]
    before = set(descendants(t.root_pid))
    raw = socket.create_connection(("127.0.0.1", t.port), timeout=600)
    sock = t.ctx().wrap_socket(raw, server_hostname="127.0.0.1")
    buf = bytearray()
    try:
        while b"\r\n" not in buf:
            buf += sock.recv(4096)
        del buf[: buf.index(b"\r\n") + 2]
        creds = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        command(sock, buf, "a1", f"AUTHENTICATE PLAIN {creds}")
        command(sock, buf, "a2", "SELECT INBOX")
        pid = t.session_pid(before) or t.root_pid
        sampler = PeakSampler(pid)
        t0 = time.perf_counter()
        sock.sendall(f"a3 {BIG_FETCH}\r\n".encode())
        first = sock.recv(1 << 18)
        t_first = time.perf_counter() - t0
        buf += first
        fetches, total, line = read_response(sock, b"a3", buf)
        elapsed = time.perf_counter() - t0
        peak = sampler.stop()
        if b" OK" not in line:
            raise RuntimeError(f"FETCH: {line!r}")
        with contextlib.suppress(OSError):
            command(sock, buf, "a4", "LOGOUT")
        return t_first, elapsed, total + len(first), fetches, sampler.base, peak
    finally:
        sock.close()


# --- idle connections --------------------------------------------------------------------------


async def _idle_one(
    t: Target, ctx: ssl.SSLContext, gate: asyncio.Semaphore, held: list[asyncio.StreamWriter]
) -> None:
    user, password = t.logins["idle"]
    async with gate:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", t.port, ssl=ctx, server_hostname="127.0.0.1"),
            60,
        )
        await reader.readline()
        creds = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        for tag, text in (("a", f"AUTHENTICATE PLAIN {creds}"), ("b", "SELECT INBOX")):
            writer.write(f"{tag} {text}\r\n".encode())
            while True:
                line = await asyncio.wait_for(reader.readline(), 60)
                if not line:
                    raise RuntimeError("closed")
                if line.startswith(tag.encode() + b" "):
                    if b" OK" not in line[:6]:
                        raise RuntimeError(line.decode(errors="replace").strip())
                    break
        writer.write(b"c IDLE\r\n")
        while True:
            line = await asyncio.wait_for(reader.readline(), 60)
            if line.startswith(b"+"):
                break
            if not line or line.startswith(b"c "):
                raise RuntimeError(f"IDLE refused: {line!r}")
        held.append(writer)


async def _idle(t: Target, n: int, settle: float, limit: float) -> tuple[int, int, int, str]:
    ctx = t.ctx()
    gate = asyncio.Semaphore(50)
    held: list[asyncio.StreamWriter] = []
    rss0, pss0, procs0 = t.memory()
    tasks = [asyncio.create_task(_idle_one(t, ctx, gate, held)) for _ in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    errors = [str(task.exception())[:120] for task in done if task.exception()]
    await asyncio.sleep(settle)
    rss1, pss1, procs1 = t.memory()
    note = f"{len(held)}/{n} idling, {procs0}→{procs1} server processes"
    if errors:
        note += f"; {len(errors)} failed, e.g. {errors[0]}"
    for w in held:
        w.close()
    await asyncio.gather(*(w.wait_closed() for w in held), return_exceptions=True)
    return len(held), (rss1 - rss0), (pss1 - pss0), note


def idle_memory(t: Target, n: int, settle: float, timeout: float) -> tuple[int, int, int, str]:
    return asyncio.run(_idle(t, n, settle, timeout))


# --- main --------------------------------------------------------------------------------------


INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")


def raise_inotify(need: int) -> int | None:
    """Dovecot's IDLE (and its hibernation) needs one inotify instance per IDLE process; the
    kernel default allows 128 per user. Raised for the run (root only); returns the old value."""
    try:
        old = int(INOTIFY.read_text())
        if old < need:
            INOTIFY.write_text(str(need))
            return old
    except (OSError, ValueError):
        print(f"note: could not raise {INOTIFY} to {need}: Dovecot IDLE falls back to polling")
    return None


def raise_nofile(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, need))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def ms_per_op(seconds: float, ops: int) -> str:
    return f"{seconds * 1000 / ops:.3f}" if ops else "–"


def fmt_ratio(m: float | None, d: float | None) -> str:
    if not m or not d:
        return "–"
    return f"{m / d:.2f}×"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=10_000, help="INBOX of the command runs")
    ap.add_argument("--big-messages", type=int, default=100_000, help="INBOX of the full FETCH")
    ap.add_argument("--idle", type=int, default=5_000, help="concurrent IDLE sessions")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=15, help="length of each phase")
    ap.add_argument("--max-ops", type=int, default=5_000, help="per client and phase")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per server")
    ap.add_argument(
        "--phases", default=",".join(PHASES), help="comma list of: " + ", ".join(PHASES)
    )
    ap.add_argument("--only", choices=("both", "dovecot", "mailroom"), default="both")
    ap.add_argument(
        "--client",
        choices=("raw", "imaplib"),
        default="raw",
        help="the load generator: a raw TLS socket reading to the tagged line (cheap) or "
        "Python's imaplib (what the figures before 2026-12-05 used)",
    )
    ap.add_argument("--skip", default="", help="comma list of: commands, big, idle")
    ap.add_argument(
        "--dovecot-hibernate",
        type=float,
        default=2,
        help="imap_hibernate_timeout in seconds (0 = off: one imap process per IDLE client)",
    )
    ap.add_argument("--mailroom-env", action="append", default=[], help="KEY=VALUE for the server")
    ap.add_argument(
        "--timeout", type=float, default=3600, help="for loading and for the idle set-up"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--load-mailroom", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load_mailroom:
        load_mailroom(args.load_mailroom)
        return

    CLIENT["kind"] = args.client
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        ap.error(f"unknown phases: {', '.join(sorted(unknown))}")
    nofile = raise_nofile(args.idle * 2 + 1000)
    if nofile < args.idle + 500:
        ap.error(f"open-file limit {nofile} is too low for --idle {args.idle}; raise `ulimit -Hn`")
    use_mailroom = args.only in ("both", "mailroom")
    if use_mailroom and not Mailroom.available():
        print("Mailroom: mailcore/imap/__main__.py is not there yet: running Dovecot only")
        use_mailroom = False
    use_dovecot = args.only in ("both", "dovecot")
    if use_dovecot and not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()):
        sys.exit("Dovecot is not installed: bash scripts/ensure-imap-tools.sh --dovecot")

    work = Path(tempfile.mkdtemp(prefix="mailroom-bench-imap-"))
    os.chmod(work, 0o711)  # Dovecot's unprivileged processes walk through it
    print(f"machine: {machine()}")
    print(
        f"bench/imap.py: {args.messages} + {args.big_messages} messages, {args.clients} clients, "
        f"{args.seconds:g} s per phase (≤ {args.max_ops} ops per client), {args.rounds} rounds; "
        f"idle {args.idle}; {args.client} client; open-file limit {nofile}; scratch {work}"
    )
    from mailcore.tls import ensure_self_signed

    cert, key = work / "tls" / "cert.pem", work / "tls" / "key.pem"
    ensure_self_signed(cert, key, "localhost")
    os.chmod(work / "tls", 0o755)
    os.chmod(key, 0o644)  # Dovecot's master reads it as root; here only a scratch key

    dovecot = Dovecot(work / "dovecot", cert, key, idle=args.idle, hibernate=args.dovecot_hibernate)
    t0 = time.perf_counter()
    sizes = {"cycle": args.messages, "big": args.big_messages, "idle": 20}
    for role, user in USERS.items():
        write_dovecot_maildir(dovecot.home(user), user, sizes[role], 1_700_000_000 + len(role))
    dovecot.prepare_mail()
    print(f"corpus: written as Maildir in {time.perf_counter() - t0:.1f} s")
    servers: list[tuple[str, object]] = []
    mailroom: Mailroom | None = None
    old_inotify = raise_inotify(args.idle + 500) if use_dovecot else None
    try:
        if use_dovecot:
            dovecot.start()
            servers.append(("Dovecot", dovecot))
        if use_mailroom:
            extra = dict(kv.split("=", 1) for kv in args.mailroom_env)
            mailroom = Mailroom(work / "mailroom", cert, key, extra, idle=args.idle)
            (work / "mailroom").mkdir()
            t0 = time.perf_counter()
            mailroom.load({u: dovecot.home(u) for u in USERS.values()}, args.timeout)
            print(f"Mailroom: corpus delivered and reindexed in {time.perf_counter() - t0:.1f} s")
            mailroom.start()
            servers.append(("Mailroom", mailroom))
        targets = {name: srv.target(cert) for name, srv in servers}  # type: ignore[attr-defined]
        names = list(targets)

        def order(r: int) -> list[str]:
            return names if r % 2 == 0 else names[::-1]

        # 1. commands ----------------------------------------------------------------------
        if "commands" not in skip:
            for name in names:  # warm-up: one SELECT and a header FETCH of the whole folder
                c = _connect(targets[name])
                c.login(*targets[name].logins["cycle"])
                c.select("INBOX")
                c.uid("FETCH", "1:*", f"(FLAGS BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})])")
                c.logout()
            results: dict[str, dict[str, list[PhaseResult]]] = {n: {} for n in names}
            for r in range(args.rounds):
                for phase in phases:
                    for name in order(r):
                        res = run_phase(
                            targets[name],
                            phase,
                            clients=args.clients,
                            count=args.messages,
                            seconds=args.seconds,
                            max_ops=args.max_ops,
                        )
                        results[name].setdefault(phase, []).append(res)
                        rate = res.ops / res.elapsed if res.elapsed else 0
                        err = f"  ERRORS {len(res.errors)}: {res.errors[0]}" if res.errors else ""
                        print(
                            f"  round {r + 1} {name:8} {phase:14} {rate:8.1f} ops/s, "
                            f"CPU per op: server {ms_per_op(res.server_cpu, res.ops)} ms, "
                            f"clients {ms_per_op(res.client_cpu, res.ops)} ms{err}",
                            flush=True,
                        )
            print(
                f"\nCommands, {args.clients} clients, {args.messages}-message INBOX "
                "(median of rounds; ops/s; p50/p99 latency in ms; server CPU ms per op, from "
                "/proc: the process tree, for Mailroom with its database's backends)"
            )
            print(
                f"{'command':16}"
                + "".join(f"{n:>30}{'srv ms':>8}" for n in names)
                + "   ratio  CPU ratio"
            )
            cpu_table: list[tuple[str, list[float], list[float], list[float]]] = []
            for phase in phases:
                cells, rates, cpus, client_cpus = [], [], [], []
                for name in names:
                    runs = results[name][phase]
                    cpu_ms = statistics.median(
                        r.server_cpu * 1000 / r.ops if r.ops else 0 for r in runs
                    )
                    cpus.append(cpu_ms)
                    client_cpus.append(
                        statistics.median(r.client_cpu * 1000 / r.ops if r.ops else 0 for r in runs)
                    )
                    rate = statistics.median(r.ops / r.elapsed if r.elapsed else 0 for r in runs)
                    lat = [x for r in runs for x in r.latencies.get(phase, [])]
                    if phase == "cycle":
                        lat = []
                    if phase == "LOGIN":
                        lat = [x for r in runs for x in r.latencies.get("LOGIN", [])]
                    p = (
                        f"{percentile(lat, 50) * 1000:.1f}/{percentile(lat, 99) * 1000:.1f}"
                        if lat
                        else "–"
                    )
                    errors = sum(len(r.errors) for r in runs)
                    cells.append(
                        f"{rate:10.1f} {p:>13}"
                        + (f" ERR{errors}" if errors else "")
                        + f"{cpu_ms:>8.3f}"
                    )
                    rates.append(rate)
                ratio = fmt_ratio(rates[-1], rates[0]) if len(names) == 2 else ""
                # Server CPU per op, Dovecot / Mailroom: above 1 means Mailroom uses less.
                cpu_ratio = fmt_ratio(cpus[0], cpus[-1]) if len(names) == 2 else ""
                label = "LOGIN…LOGOUT" if phase == "cycle" else phase
                print(
                    f"{label:16}" + "".join(f"{c:>38}" for c in cells) + f"   {ratio}  {cpu_ratio}"
                )
                cpu_table.append((label, rates, cpus, client_cpus))
            print(
                "  load generator's own CPU per op (ms, user + system of the client processes; "
                f"the machine has {os.cpu_count()} cores):"
            )
            for label, rates, _, client_cpus in cpu_table:
                busy = "  ".join(
                    f"{n} {c:.3f} ({c * rate / 1000:.2f} cores)"
                    for n, c, rate in zip(names, client_cpus, rates, strict=True)
                )
                print(f"    {label:14}  {busy}")
            print("  inside the cycles (p50/p99 ms):")
            for cmd in (
                "connect+TLS",
                "LOGIN",
                "SELECT",
                "FETCH headers",
                "FETCH body",
                "STORE",
                "SEARCH flags",
                "SEARCH header",
                "SEARCH text",
                "APPEND",
                "EXPUNGE",
                "LOGOUT",
            ):
                cells = []
                for name in names:
                    lat = [
                        x for r in results[name].get("cycle", []) for x in r.latencies.get(cmd, [])
                    ]
                    cells.append(
                        f"{percentile(lat, 50) * 1000:.1f}/{percentile(lat, 99) * 1000:.1f}"
                        if lat
                        else "–"
                    )
                print(f"    {cmd:14}" + "".join(f"{c:>30}" for c in cells))

        # 2. the full-folder FETCH ---------------------------------------------------------
        if "big" not in skip:
            print(f"\nFull-folder FETCH, {args.big_messages} messages: {BIG_FETCH}")
            big: dict[str, list[tuple[float, float, int, int, int, int]]] = {n: [] for n in names}
            for r in range(max(2, args.rounds)):
                for name in order(r):
                    out = big_fetch(targets[name])
                    big[name].append(out)
                    first, total, nbytes, fetches, base, peak = out
                    print(
                        f"  run {r + 1} {'(cold)' if r == 0 else '(warm)'} {name:8} {total:7.2f} s "
                        f"(first byte {first * 1000:.0f} ms), {nbytes / 2**20:.1f} MiB, "
                        f"{fetches} FETCH responses, serving process RSS {base / 1024:.0f} → "
                        f"peak {peak / 1024:.0f} MiB"
                    )
            if len(names) == 2:
                warm = {n: statistics.median(x[1] for x in big[n][1:]) for n in names}
                print(
                    f"  warm median: {names[0]} {warm[names[0]]:.2f} s, {names[1]} "
                    f"{warm[names[1]]:.2f} s, "
                    f"time ratio {fmt_ratio(warm[names[1]], warm[names[0]])}"
                )

        # 3. idle connections ---------------------------------------------------------------
        if "idle" not in skip and args.idle > 0:
            settle = args.dovecot_hibernate + 5 if args.dovecot_hibernate > 0 else 5
            hib = f"after {args.dovecot_hibernate:g} s" if args.dovecot_hibernate > 0 else "off"
            print(
                f"\nIdle: {args.idle} concurrent authenticated IDLE sessions (settle {settle:g} s; "
                f"Dovecot hibernation {hib})"
            )
            for name in names:
                held, drss, dpss, note = idle_memory(targets[name], args.idle, settle, args.timeout)
                per = f"{drss / max(held, 1):.1f} KiB RSS, {dpss / max(held, 1):.1f} KiB PSS"
                print(
                    f"  {name:8} +{drss / 1024:.1f} MiB RSS, +{dpss / 1024:.1f} MiB PSS → "
                    f"{per} per connection ({note})"
                )
                time.sleep(2)
    finally:
        if mailroom is not None:
            mailroom.stop()
        dovecot.stop()
        if old_inotify is not None:
            INOTIFY.write_text(str(old_inotify))
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
