#!/usr/bin/env python
"""POP3 benchmark: Mailroom's POP3 server (`python -m mailcore.pop3`) beside Debian's Dovecot
(dovecot-pop3d, started here on loopback high ports with its own configuration), on the same
machine and the same mail, runs interleaved. Prints both figures and the ratio Mailroom /
Dovecot (above 1 means Mailroom is ahead; for times, below 1).

The corpus, the Dovecot and Mailroom set-up and the loading are bench/imap.py's (imported):
the same generated messages as Maildir files for Dovecot and, for Mailroom, delivered
through the store's Maildir module with the same UIDs and then `reindex`.

Figures:
  1. --clients (10) concurrent clients, each on its own account of --messages (2,000)
     messages (Mailroom allows one POP3 session per account, `[IN-USE]`), doing full
     sessions for --seconds: connect + TLS (995-style), USER/PASS, STAT, UIDL, LIST,
     RETR of --k (10) messages, TOP n 0 of --k messages, QUIT without DELE.
     Sessions/s and each command's rate and p50/p99.
  2. One client downloading a whole --download-messages (1,000) message mailbox (LIST,
     then RETR 1..n, one after the other, as a POP3 client does): seconds and MB/s.
  3. DELE+QUIT sessions on a --dele-messages (200) message mailbox: each session deletes
     the first --dele-per-session (5) messages it is offered and QUITs (UPDATE state).
     Mailroom runs with POP3_DELETE_ACTION=expunge (gone for good, as Dovecot does).

Logins: Mailroom takes an app password (what mail clients get); Dovecot's passwd-file
holds a {SHA256} hash. Both servers use the same self-signed RSA-2048 certificate.

    bash scripts/ensure-imap-tools.sh --dovecot        # dovecot-imapd and dovecot-pop3d
    psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS mailroom_bench" \\
        -c "CREATE DATABASE mailroom_bench"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/pop3.py
    ... bench/pop3.py --clients 4 --messages 500 --seconds 5     # quick

Loading is part of the run (clients × messages + download + dele messages into both).
Every loop is bounded by a count and a time (--seconds, --max-sessions, --timeout).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import multiprocessing
import os
import random
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.imap import (  # noqa: E402
    DOMAIN,
    PASSWORD,
    Dovecot,
    Mailroom,
    corpus_message,
    fmt_ratio,
    raise_nofile,
    wait_port,
    write_dovecot_maildir,
)
from bench.stack import free_port, machine, percentile  # noqa: E402

COMMANDS = ("connect+TLS", "USER/PASS", "STAT", "UIDL", "LIST", "RETR", "TOP 0", "QUIT")
MAX_RESPONSE = 200 * 2**20  # a response larger than this is an error, not a benchmark


def users(clients: int) -> dict[str, str]:
    """role → address: one account per client, one to download, one to delete from."""
    out = {f"c{k}": f"pop{k}@{DOMAIN}" for k in range(clients)}
    out["download"] = f"popdl@{DOMAIN}"
    out["dele"] = f"popdele@{DOMAIN}"
    return out


def write_padded_maildir(home: Path, to: str, count: int, uidvalidity: int, pad_kb: int) -> None:
    """As bench/imap.py's write_dovecot_maildir, each corpus message followed by pad_kb KiB of
    76-character text lines (the body of a text/plain message grows; a multipart one gets an
    epilogue), for a mailbox of the issue's size (1,000 messages, about 25 MB)."""
    md = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (md / sub).mkdir(parents=True, exist_ok=True)
    line = base64.b64encode(hashlib.sha256(b"pad").digest() * 2)[:76] + b"\r\n"
    padding = line * (pad_kb * 1024 // len(line))
    lines = []
    for i in range(count):
        data, letters, mtime = corpus_message(i, to)
        data += padding
        base = f"{int(mtime)}.M{i}P1.bench,S={len(data)},W={len(data)}"
        path = md / "cur" / f"{base}:2,{letters}"
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
        lines.append(f"{i + 1} :{base}\n")
    guid = hashlib.md5(str(home).encode()).hexdigest()
    (md / "dovecot-uidlist").write_text(
        f"3 V{uidvalidity} N{count + 1} G{guid}\n" + "".join(lines), encoding="ascii"
    )


# --- the servers -------------------------------------------------------------------------------


class DovecotPop3(Dovecot):
    """bench/imap.py's Dovecot with POP3 listeners and a passwd-file for our accounts."""

    def __init__(self, work: Path, cert: Path, key: Path, addresses: list[str], limit: int) -> None:
        super().__init__(work, cert, key, idle=limit, hibernate=0)
        self.port_pop3, self.port_pop3s = free_port(), free_port()
        digest = base64.b64encode(hashlib.sha256(PASSWORD.encode()).digest()).decode()
        (work / "passwd").write_text("".join(f"{u}:{{SHA256}}{digest}\n" for u in addresses))
        conf = work / "dovecot.conf"
        text = conf.read_text().replace("protocols = imap\n", "protocols = imap pop3\n", 1)
        text = text.replace("# bench/imap.py:", "# bench/pop3.py (on bench/imap.py's):", 1)
        text += f"""pop3_uidl_format = %08Xu%08Xv
service pop3-login {{
  service_count = 0
  process_min_avail = {os.cpu_count() or 2}
  client_limit = {limit + 200}
  inet_listener pop3 {{
    port = {self.port_pop3}
  }}
  inet_listener pop3s {{
    port = {self.port_pop3s}
    ssl = yes
  }}
}}
service pop3 {{
  process_limit = {limit + 200}
}}
"""
        conf.write_text(text)

    def start(self) -> None:
        super().start()
        assert self.proc
        wait_port(self.port_pop3s, self.proc, self.work / "dovecot.log")


class MailroomPop3(Mailroom):
    """bench/imap.py's Mailroom loader, serving `python -m mailcore.pop3` instead."""

    def __init__(
        self, work: Path, cert: Path, key: Path, extra_env: dict[str, str], n: int
    ) -> None:
        super().__init__(work, cert, key, extra_env, idle=0)
        self.port_pop3, self.port_pop3s = free_port(), free_port()
        self.env.update(
            {
                "POP3_LISTEN": f"127.0.0.1:{self.port_pop3}",
                "POP3S_LISTEN": f"127.0.0.1:{self.port_pop3s}",
                "POP3_MAX_CONNECTIONS_PER_IP": str(n + 50),
                "POP3_DELETE_ACTION": "expunge",
            }
        )
        self.env.update(extra_env)

    @staticmethod
    def available() -> bool:
        return (ROOT / "mailcore" / "pop3" / "__main__.py").exists()

    def start(self) -> None:
        import subprocess

        log = (self.work / "pop3.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailcore.pop3"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port_pop3s, self.proc, self.work / "pop3.log")


@dataclass
class Target:
    name: str
    port: int  # implicit TLS
    cafile: Path
    logins: dict[str, tuple[str, str]]  # role → (user, password)


# --- a small POP3 client (raw socket: the client's own cost stays small) ----------------------


class Pop3Error(Exception):
    pass


class Client:
    def __init__(self, t: Target, timeout: float = 60) -> None:
        ctx = ssl.create_default_context(cafile=str(t.cafile))
        raw = socket.create_connection(("127.0.0.1", t.port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = bytearray()
        self.line()  # greeting

    def _fill(self) -> None:
        data = self.sock.recv(262144)
        if not data:
            raise Pop3Error("connection closed")
        self.buf += data
        if len(self.buf) > MAX_RESPONSE:
            raise Pop3Error("response too large")

    def line(self) -> bytes:
        while (i := self.buf.find(b"\r\n")) < 0:
            self._fill()
        out = bytes(self.buf[:i])
        del self.buf[: i + 2]
        if not out.startswith(b"+OK"):
            raise Pop3Error(out.decode(errors="replace")[:200])
        return out

    def cmd(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self, text: str) -> int:
        """A multi-line command: the bytes of its data (dot-stuffed), up to the lone dot."""
        self.cmd(text)
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):  # empty listing
                del self.buf[:3]
                return 0
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                del self.buf[: i + 5]
                return i + 2
            start = max(0, len(self.buf) - 4)
            self._fill()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class Result:
    sessions: int = 0
    elapsed: float = 0.0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)


def _timed(res: Result, name: str, fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    res.latencies.setdefault(name, []).append(time.perf_counter() - t0)
    return out


_TARGETS: dict[str, Target] = {}
_BARRIER: list[object] = []


def session(t: Target, role: str, k: int, res: Result, first: int) -> None:
    """One full session without DELE; RETR and TOP of k messages from `first` on."""
    user, password = t.logins[role]
    c = _timed(res, "connect+TLS", lambda: Client(t))
    try:
        t0 = time.perf_counter()
        c.cmd(f"USER {user}")
        c.cmd(f"PASS {password}")
        res.latencies.setdefault("USER/PASS", []).append(time.perf_counter() - t0)
        stat = _timed(res, "STAT", lambda: c.cmd("STAT"))
        count = int(stat.split()[1])
        _timed(res, "UIDL", lambda: c.multi("UIDL"))
        _timed(res, "LIST", lambda: c.multi("LIST"))
        picks = [(first + j) % count + 1 for j in range(min(k, count))]
        for n in picks:
            res.bytes += _timed(res, "RETR", lambda n=n: c.multi(f"RETR {n}"))
        for n in picks:
            _timed(res, "TOP 0", lambda n=n: c.multi(f"TOP {n} 0"))
        _timed(res, "QUIT", lambda: c.cmd("QUIT"))
    finally:
        c.close()


def _client(name: str, role: str, k: int, seconds: float, max_sessions: int, seed: int) -> Result:
    t, barrier = _TARGETS[name], _BARRIER[0]
    res = Result()
    try:
        barrier.wait(120)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while res.sessions < max_sessions and time.perf_counter() < deadline:
            session(t, role, k, res, seed + res.sessions * k)
            res.sessions += 1
        res.elapsed = time.perf_counter() - t0
    except Exception as exc:
        res.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        res.elapsed = res.elapsed or seconds
    return res


def run_sessions(
    t: Target, clients: int, k: int, seconds: float, max_sessions: int, rnd: int
) -> Result:
    ctx = multiprocessing.get_context("fork")
    _TARGETS[t.name] = t
    _BARRIER[:] = [ctx.Barrier(clients)]
    with ctx.Pool(clients) as pool:
        results = pool.starmap(
            _client,
            [
                (t.name, f"c{c}", k, seconds, max_sessions, 97 * c + 13 * rnd)
                for c in range(clients)
            ],
        )
    total = Result()
    for r in results:
        total.sessions += r.sessions
        total.elapsed = max(total.elapsed, r.elapsed)
        total.bytes += r.bytes
        total.errors += r.errors
        for key, v in r.latencies.items():
            total.latencies.setdefault(key, []).extend(v)
    return total


ALONE = ("STAT", "UIDL", "LIST", "RETR", "TOP 0", "NOOP")


def _alone(name: str, role: str, cmd: str, seconds: float, max_ops: int, seed: int) -> Result:
    """One open session repeating one command (`sessions` counts the commands)."""
    t, barrier = _TARGETS[name], _BARRIER[0]
    res = Result()
    rng = random.Random(seed)
    user, password = t.logins[role]
    c: Client | None = None
    try:
        c = Client(t)
        c.cmd(f"USER {user}")
        c.cmd(f"PASS {password}")
        count = int(c.cmd("STAT").split()[1])
        barrier.wait(120)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while res.sessions < max_ops and time.perf_counter() < deadline:
            n = rng.randint(1, count)
            text = {"RETR": f"RETR {n}", "TOP 0": f"TOP {n} 0"}.get(cmd, cmd)
            t1 = time.perf_counter()
            if cmd in ("STAT", "NOOP"):
                c.cmd(text)
            else:
                nbytes = c.multi(text)
                if cmd == "RETR":
                    res.bytes += nbytes
            res.latencies.setdefault(cmd, []).append(time.perf_counter() - t1)
            res.sessions += 1
        res.elapsed = time.perf_counter() - t0
        c.cmd("QUIT")
    except Exception as exc:
        res.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        res.elapsed = res.elapsed or seconds
    finally:
        if c is not None:
            c.close()
    return res


def run_alone(t: Target, cmd: str, clients: int, seconds: float, max_ops: int, rnd: int) -> Result:
    ctx = multiprocessing.get_context("fork")
    _TARGETS[t.name] = t
    _BARRIER[:] = [ctx.Barrier(clients)]
    with ctx.Pool(clients) as pool:
        results = pool.starmap(
            _alone,
            [(t.name, f"c{c}", cmd, seconds, max_ops, 31 * c + 7 * rnd) for c in range(clients)],
        )
    total = Result()
    for r in results:
        total.sessions += r.sessions
        total.elapsed = max(total.elapsed, r.elapsed)
        total.bytes += r.bytes
        total.errors += r.errors
        for key, v in r.latencies.items():
            total.latencies.setdefault(key, []).extend(v)
    return total


def download(t: Target) -> tuple[float, int, int]:
    """One client takes the whole mailbox: (seconds, bytes of RETR data, messages)."""
    user, password = t.logins["download"]
    t0 = time.perf_counter()
    c = Client(t)
    try:
        c.cmd(f"USER {user}")
        c.cmd(f"PASS {password}")
        count = int(c.cmd("STAT").split()[1])
        c.multi("UIDL")
        c.multi("LIST")
        total = sum(c.multi(f"RETR {n}") for n in range(1, count + 1))
        c.cmd("QUIT")
    finally:
        c.close()
    return time.perf_counter() - t0, total, count


def dele_cycles(t: Target, per: int, seconds: float) -> tuple[int, int, float, list[float]]:
    """DELE+QUIT sessions until the mailbox is empty or time is up:
    (sessions, messages deleted, seconds, per-session latencies)."""
    user, password = t.logins["dele"]
    deleted = sessions = 0
    lat: list[float] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s0 = time.perf_counter()
        c = Client(t)
        try:
            c.cmd(f"USER {user}")
            c.cmd(f"PASS {password}")
            count = int(c.cmd("STAT").split()[1])
            if count == 0:
                c.cmd("QUIT")
                break
            c.multi("UIDL")
            n = min(per, count)
            for i in range(1, n + 1):
                c.cmd(f"DELE {i}")
            c.cmd("QUIT")
        finally:
            c.close()
        lat.append(time.perf_counter() - s0)
        deleted += n
        sessions += 1
    return sessions, deleted, time.perf_counter() - t0, lat


def check_deleted(t: Target, expect: int) -> str:
    """Count what is left after the DELE runs (a server that keeps mail would be flattered)."""
    user, password = t.logins["dele"]
    c = Client(t)
    try:
        c.cmd(f"USER {user}")
        c.cmd(f"PASS {password}")
        left = int(c.cmd("STAT").split()[1])
        c.cmd("QUIT")
    finally:
        c.close()
    return "ok" if left == expect else f"MISMATCH: {left} left, expected {expect}"


def ms(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{percentile(values, 50) * 1000:.1f}/{percentile(values, 99) * 1000:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=10, help="concurrent clients (= accounts)")
    ap.add_argument("--messages", type=int, default=2_000, help="mailbox of each client")
    ap.add_argument("--k", type=int, default=10, help="RETR and TOP 0 per session")
    ap.add_argument("--download-messages", type=int, default=1_000)
    ap.add_argument(
        "--download-pad-kb",
        type=int,
        default=20,
        help="KiB added to each downloaded message (20: about 25 MB for 1,000)",
    )
    ap.add_argument("--dele-messages", type=int, default=200)
    ap.add_argument("--dele-per-session", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=15, help="length of each timed run")
    ap.add_argument("--max-sessions", type=int, default=2_000, help="per client and run")
    ap.add_argument("--max-ops", type=int, default=20_000, help="per client and command run")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per server")
    ap.add_argument("--only", choices=("both", "dovecot", "mailroom"), default="both")
    ap.add_argument("--skip", default="", help="comma list of: sessions, commands, download, dele")
    ap.add_argument("--mailroom-env", action="append", default=[], help="KEY=VALUE for the server")
    ap.add_argument("--timeout", type=float, default=3600, help="for loading")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    limits = (
        ("--clients", args.clients, 1, 200),
        ("--messages", args.messages, 1, 200_000),
        ("--k", args.k, 0, 1000),
        ("--download-messages", args.download_messages, 1, 200_000),
        ("--download-pad-kb", args.download_pad_kb, 0, 10_240),
        ("--dele-messages", args.dele_messages, 1, 100_000),
        ("--dele-per-session", args.dele_per_session, 1, 1000),
        ("--rounds", args.rounds, 1, 20),
        ("--max-sessions", args.max_sessions, 1, 1_000_000),
        ("--max-ops", args.max_ops, 1, 10_000_000),
    )
    for flag, value, lo, hi in limits:
        if not lo <= value <= hi:
            ap.error(f"{flag} must be between {lo} and {hi}")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    raise_nofile(args.clients * 4 + 1000)
    use_mailroom = args.only in ("both", "mailroom")
    if use_mailroom and not MailroomPop3.available():
        print("Mailroom: mailcore/pop3/__main__.py is not there: running Dovecot only")
        use_mailroom = False
    use_dovecot = args.only in ("both", "dovecot")
    if use_dovecot and not Path("/usr/lib/dovecot/pop3").exists():
        sys.exit("Dovecot's POP3 is not installed: bash scripts/ensure-imap-tools.sh --dovecot")

    work = Path(tempfile.mkdtemp(prefix="mailroom-bench-pop3-"))
    os.chmod(work, 0o711)  # Dovecot's unprivileged processes walk through it
    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"bench/pop3.py: {args.clients} clients × {args.messages} messages, k={args.k}, "
        f"download {args.download_messages} (+{args.download_pad_kb} KiB each), "
        f"dele {args.dele_messages} "
        f"({args.dele_per_session} per session); {args.seconds:g} s per run "
        f"(≤ {args.max_sessions} sessions per client), {args.rounds} rounds; scratch {work}"
    )
    from mailcore.tls import ensure_self_signed

    cert, key = work / "tls" / "cert.pem", work / "tls" / "key.pem"
    ensure_self_signed(cert, key, "localhost")
    os.chmod(work / "tls", 0o755)
    os.chmod(key, 0o644)  # Dovecot's master reads it as root; here only a scratch key

    accounts = users(args.clients)
    dovecot = DovecotPop3(work / "dovecot", cert, key, list(accounts.values()), args.clients)
    sizes = dict.fromkeys(accounts, args.messages)
    sizes["download"], sizes["dele"] = args.download_messages, args.dele_messages
    t0 = time.perf_counter()
    for role, user in accounts.items():
        validity = 1_700_000_000 + len(role)
        if role == "download" and args.download_pad_kb:
            home = dovecot.home(user)
            write_padded_maildir(home, user, sizes[role], validity, args.download_pad_kb)
        else:
            write_dovecot_maildir(dovecot.home(user), user, sizes[role], validity)
    dovecot.prepare_mail()
    print(
        f"corpus: {sum(sizes.values())} messages written as Maildir in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    mailroom: MailroomPop3 | None = None
    try:
        targets: dict[str, Target] = {}
        if use_dovecot:
            dovecot.start()
            logins = {role: (u, PASSWORD) for role, u in accounts.items()}
            targets["Dovecot"] = Target("Dovecot", dovecot.port_pop3s, cert, logins)
        if use_mailroom:
            extra = dict(kv.split("=", 1) for kv in args.mailroom_env)
            (work / "mailroom").mkdir()
            mailroom = MailroomPop3(work / "mailroom", cert, key, extra, args.clients)
            t0 = time.perf_counter()
            mailroom.load({u: dovecot.home(u) for u in accounts.values()}, args.timeout)
            print(f"Mailroom: corpus delivered and reindexed in {time.perf_counter() - t0:.1f} s")
            mailroom.start()
            logins = {role: (u, mailroom.secrets[u]) for role, u in accounts.items()}
            targets["Mailroom"] = Target("Mailroom", mailroom.port_pop3s, cert, logins)
        names = list(targets)

        def order(r: int) -> list[str]:
            return names if r % 2 == 0 else names[::-1]

        # 1. full sessions ---------------------------------------------------------------
        if "sessions" not in skip:
            for name in names:  # warm-up: one session per account
                warm = Result()
                for c in range(args.clients):
                    session(targets[name], f"c{c}", args.k, warm, 0)
            runs: dict[str, list[Result]] = {n: [] for n in names}
            for r in range(args.rounds):
                for name in order(r):
                    res = run_sessions(
                        targets[name], args.clients, args.k, args.seconds, args.max_sessions, r
                    )
                    runs[name].append(res)
                    rate = res.sessions / res.elapsed if res.elapsed else 0
                    mib = res.bytes / res.elapsed / 2**20 if res.elapsed else 0
                    err = f"  ERRORS {len(res.errors)}: {res.errors[0]}" if res.errors else ""
                    print(
                        f"  round {r + 1} {name:8} {rate:8.1f} sessions/s, "
                        f"{mib:.1f} MiB/s RETR{err}"
                    )
            print(
                f"\nFull sessions, {args.clients} clients, {args.messages}-message mailboxes, "
                f"RETR and TOP 0 of {args.k} each (median of rounds)"
            )
            print(f"{'':14}" + "".join(f"{n:>28}" for n in names) + "   ratio")
            rates = [
                statistics.median(x.sessions / x.elapsed if x.elapsed else 0 for x in runs[n])
                for n in names
            ]
            errs = {n: sum(len(x.errors) for x in runs[n]) for n in names}
            cells = [
                f"{r:.1f}/s" + (f" ERR{errs[n]}" if errs[n] else "")
                for r, n in zip(rates, names, strict=True)
            ]
            ratio = fmt_ratio(rates[-1], rates[0]) if len(names) == 2 else ""
            print(f"{'sessions':14}" + "".join(f"{c:>28}" for c in cells) + f"   {ratio}")
            print("  inside the sessions (p50/p99 ms):")
            for cmd in COMMANDS:
                cells = [ms([v for x in runs[n] for v in x.latencies.get(cmd, [])]) for n in names]
                print(f"    {cmd:12}" + "".join(f"{c:>26}" for c in cells))

        # 1b. each command alone in open sessions ----------------------------------------
        if "commands" not in skip:
            cruns: dict[str, dict[str, list[Result]]] = {n: {} for n in names}
            for r in range(args.rounds):
                for cmd in ALONE:
                    for name in order(r):
                        res = run_alone(
                            targets[name], cmd, args.clients, args.seconds, args.max_ops, r
                        )
                        cruns[name].setdefault(cmd, []).append(res)
                        rate = res.sessions / res.elapsed if res.elapsed else 0
                        err = f"  ERRORS {len(res.errors)}: {res.errors[0]}" if res.errors else ""
                        print(f"  round {r + 1} {name:8} {cmd:8} {rate:8.1f} ops/s{err}")
            print(
                f"\nEach command alone, {args.clients} clients in open sessions on "
                f"{args.messages}-message mailboxes (RETR/TOP: random message; median of "
                "rounds; ops/s, p50/p99 ms)"
            )
            print(f"{'command':14}" + "".join(f"{n:>28}" for n in names) + "   ratio")
            for cmd in ALONE:
                cells, crates = [], []
                for n in names:
                    xs = cruns[n][cmd]
                    rate = statistics.median(x.sessions / x.elapsed if x.elapsed else 0 for x in xs)
                    errors = sum(len(x.errors) for x in xs)
                    lat = [v for x in xs for v in x.latencies.get(cmd, [])]
                    crates.append(rate)
                    cells.append(f"{rate:8.1f} {ms(lat):>13}" + (f" ERR{errors}" if errors else ""))
                ratio = fmt_ratio(crates[-1], crates[0]) if len(names) == 2 else ""
                print(f"  {cmd:12}" + "".join(f"{c:>28}" for c in cells) + f"   {ratio}")

        # 2. single-client download -------------------------------------------------------
        if "download" not in skip:
            print(
                f"\nDownload of a {args.download_messages}-message mailbox by one client "
                f"(UIDL, LIST, RETR 1..n; messages padded by {args.download_pad_kb} KiB)"
            )
            dl: dict[str, list[float]] = {n: [] for n in names}
            for r in range(max(2, args.rounds) + 1):
                for name in order(r):
                    secs, nbytes, count = download(targets[name])
                    dl[name].append(secs)
                    print(
                        f"  run {r + 1} {name:8} {secs:6.2f} s, {count} messages, "
                        f"{nbytes / 1e6:.1f} MB, {nbytes / 1e6 / secs:.1f} MB/s"
                    )
            if len(names) == 2:
                med = {n: statistics.median(dl[n][1:]) for n in names}
                print(
                    f"  median without the first run: {names[0]} {med[names[0]]:.2f} s, "
                    f"{names[1]} {med[names[1]]:.2f} s, time ratio "
                    f"{fmt_ratio(med[names[1]], med[names[0]])}"
                )

        # 3. DELE+QUIT ---------------------------------------------------------------------
        if "dele" not in skip:
            print(
                f"\nDELE+QUIT: {args.dele_per_session} DELE per session on a "
                f"{args.dele_messages}-message mailbox, until empty or {args.seconds:g} s"
            )
            for name in names:
                n, deleted, secs, lat = dele_cycles(
                    targets[name], args.dele_per_session, args.seconds
                )
                check = check_deleted(targets[name], args.dele_messages - deleted)
                print(
                    f"  {name:8} {n} sessions, {deleted} deleted in {secs:.2f} s: "
                    f"{n / secs:.1f} sessions/s, {deleted / secs:.1f} DELE/s, "
                    f"session p50/p99 {ms(lat)} ms; left over {check}"
                )
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if mailroom is not None:
            mailroom.stop()
        dovecot.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
