#!/usr/bin/env python
"""Mail intake side by side: Debian's Postfix (→ LMTP → Dovecot) and Mailroom on this machine,
the same load against both in interleaved pairs, and for each figure both rates, the server
CPU per message (from /proc over each side's process trees, PostgreSQL backends of its
database included) and the ratio Mailroom / Postfix.

Figures (each side gets a fresh start for each run):
  accept only   the SMTP side alone: Postfix into its hold queue, Mailroom without a worker;
                load from Postfix's `smtp-source` (C, cheap: the servers get the CPU)
  end to end    accepted → in the mailbox: Postfix → LMTP → Dovecot (a file in Maildir new/),
                Mailroom → listed by the REST API; load from smtplib threads (bench/ingest.py),
                which time every 250, so accept→visible latencies can be read
  accepting while delivering: the accept rate of the end-to-end runs

    bash scripts/ensure-postfix.sh
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench_intake \\
    REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/compare.py --messages 3000 --size 4096 --concurrency 10 --pairs 3

Without DATABASE_URL/REDIS_URL it runs Mailroom's embedded default (SQLite + filesystem
broker). The PostgreSQL database named must be a scratch one (its name must contain
"bench"): it is dropped and created anew before every Mailroom run, and the Redis db flushed.
CPU not counted on either side: the load generator, the bench's own probes, Mailroom's web
process (it serves only the bench's probe), PostgreSQL's and Redis's shared background work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.imap import cmdline
from bench.ingest import message, send_all
from bench.mta import SMTP_SOURCE, DovecotLmtp, Postfix, available
from bench.stack import Api, Stack, machine, percentile, start_stack

TICK = os.sysconf("SC_CLK_TCK")


# --- CPU from /proc ----------------------------------------------------------------------------


def _cpu_ticks(pid: int, tid: int | None = None) -> tuple[int, int, int] | None:
    """(start time, utime + stime, stime) of `pid` in clock ticks, None if it is gone; with
    `tid`, of that one thread of it (the main thread: tid == pid)."""
    stat = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[19]), int(fields[11]) + int(fields[12]), int(fields[12])


def postgres_backends(dbname: str) -> list[int]:
    """Backends serving `dbname` (their process title: "postgres: user db host(port) …")."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            title = cmdline(int(entry.name))
            if title.startswith("postgres: ") and f" {dbname} " in f"{title} ":
                out.append(int(entry.name))
    return out


class CpuMeter:
    """Sums user+system CPU of a changing set of processes between start() and stop(),
    sampling every 0.2 s (a process that ends between samples loses at most its last 0.2 s;
    Postfix's and Dovecot's daemons and Mailroom's processes live through a run)."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self._first: dict[tuple[int, int], int] = {}
        self._last: dict[tuple[int, int], int] = {}
        self._kind: dict[tuple[int, int], str] = {}
        # system time (kernel: syscalls, fsync, the network stack) of the same processes
        self._sys_first: dict[tuple[int, int], int] = {}
        self._sys_last: dict[tuple[int, int], int] = {}
        # the main thread alone (TID == PID) of Mailroom's Python processes: the SMTP
        # process's event loop, apart from its database pool threads
        self._main_first: dict[tuple[int, int], tuple[int, int]] = {}
        self._main_last: dict[tuple[int, int], tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, first: bool) -> None:
        for pid in self._pids():
            got = _cpu_ticks(pid)
            if got is None:
                continue
            key = (pid, got[0])
            if key not in self._first:
                self._first[key] = got[1] if first else 0  # born during the run: all of it
                self._sys_first[key] = got[2] if first else 0
                self._kind[key] = kind_of(cmdline(pid))
            self._last[key] = got[1]
            self._sys_last[key] = got[2]
            if self._kind[key] in _THREADED:
                main = _cpu_ticks(pid, pid)
                if main is not None:
                    self._main_first.setdefault(key, main[1:] if first else (0, 0))
                    self._main_last[key] = main[1:]

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample(first=False)

    def start(self) -> None:
        self._sample(first=True)
        self._thread.start()

    def stop(self) -> float:
        """CPU seconds used by the measured processes since start()."""
        self._stop.set()
        self._thread.join()
        self._sample(first=False)
        return sum(self._last[k] - self._first[k] for k in self._last) / TICK

    def by_kind(self) -> dict[str, float]:
        """CPU seconds per kind of process (after stop())."""
        out: dict[str, float] = {}
        for k, last in self._last.items():
            out[self._kind[k]] = out.get(self._kind[k], 0.0) + (last - self._first[k]) / TICK
        return out

    def system_by_kind(self) -> dict[str, float]:
        """System (kernel) CPU seconds per kind of process (after stop()): the rest of
        by_kind() is user time (Python, C libraries)."""
        out: dict[str, float] = {}
        for k, last in self._sys_last.items():
            secs = (last - self._sys_first[k]) / TICK
            out[self._kind[k]] = out.get(self._kind[k], 0.0) + secs
        return out

    def main_thread_by_kind(self) -> dict[str, tuple[float, float]]:
        """(CPU, system CPU) seconds of the main threads per kind of Mailroom process (after
        stop()); the rest of by_kind() is the process's other threads."""
        out: dict[str, tuple[float, float]] = {}
        for k, (last, last_sys) in self._main_last.items():
            first, first_sys = self._main_first[k]
            cpu, sys_ = out.get(self._kind[k], (0.0, 0.0))
            out[self._kind[k]] = (cpu + (last - first) / TICK, sys_ + (last_sys - first_sys) / TICK)
        return out


# Python processes with threads beside the main one
_THREADED = frozenset({"smtp", "smtp-cleanup", "worker"})


def kind_of(title: str) -> str:
    """A short name for a process: Postfix's and Dovecot's daemons name themselves in their
    process titles; Mailroom's are told by their module."""
    if title.startswith("postgres: "):
        return "postgres"
    for needle, kind in (
        ("mailcore.smtp", "smtp"),
        ("mailcore.delivery.cleanup", "smtp-cleanup"),
        ("celery", "worker"),
        ("runall", "runall"),
        ("mailcore.imap", "imap/pop3"),
        ("mailcore.pop3", "imap/pop3"),
    ):
        if needle in title:
            return kind
    word = title.split()[0] if title else "?"
    return word if word.startswith("dovecot") else word.rsplit("/", 1)[-1]


# --- the load ----------------------------------------------------------------------------------


def smtp_source(port: int, payload: Path, *, messages: int, concurrency: int) -> float:
    """Postfix's load generator: `messages` messages, one session each, `concurrency` at once;
    returns the seconds it took (every 250 received)."""
    t0 = time.perf_counter()
    subprocess.run(
        [
            SMTP_SOURCE,
            "-m",
            str(messages),
            "-s",
            str(concurrency),
            "-F",
            str(payload),
            "-f",
            "load@sender.example",
            "-t",
            "bench@bench.test",
            "-M",
            "client.sender.example",
            f"127.0.0.1:{port}",
        ],
        check=True,
        timeout=900,
    )
    return time.perf_counter() - t0


def accept_load(port: int, payload: Path, args: argparse.Namespace) -> float:
    """The accept-only load: smtp-source, or with --accept-load smtplib the end-to-end runs'
    smtplib threads (to tell what the client changes in the server's cost per message)."""
    if args.accept_load == "smtplib":
        payloads = [message(i, args.size) for i in range(args.messages)]
        t0 = time.perf_counter()
        send_all(port, payloads, concurrency=args.concurrency)
        return time.perf_counter() - t0
    return smtp_source(port, payload, messages=args.messages, concurrency=args.concurrency)


def watch(count: Callable[[], int], total: int, stop: threading.Event) -> list[tuple[float, int]]:
    """(time, visible count) every 50 ms until `total` are visible or `stop` is set."""
    samples: list[tuple[float, int]] = []
    while not stop.is_set():
        n = count()
        samples.append((time.perf_counter(), n))
        if n >= total:
            break
        time.sleep(0.05)
    return samples


def first_seen(samples: list[tuple[float, int]], rank: int) -> float | None:
    return next((t for t, n in samples if n >= rank), None)


@dataclass
class Run:
    side: str
    figure: str
    messages: int
    accept_s: float
    cpu_s: float
    visible_s: float | None = None
    latencies: list[float] = field(default_factory=list)
    kinds: dict[str, float] = field(default_factory=dict)
    system: dict[str, float] = field(default_factory=dict)  # the kernel's share of kinds
    main: dict[str, tuple[float, float]] = field(default_factory=dict)  # main threads' share

    @property
    def accept_rate(self) -> float:
        return self.messages / self.accept_s

    @property
    def visible_rate(self) -> float | None:
        return self.messages / self.visible_s if self.visible_s else None

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s / self.messages * 1000


def accept_run(side: str, messages: int, took: float, cpu: float, meter: CpuMeter) -> Run:
    """An accept-only Run, with the CPU split by kind of process (after meter.stop())."""
    return Run(
        side,
        "accept",
        messages,
        took,
        cpu,
        kinds=meter.by_kind(),
        system=meter.system_by_kind(),
        main=meter.main_thread_by_kind(),
    )


def e2e_run(
    side: str,
    samples: list[tuple[float, int]],
    total: int,
    t0: float,
    t_accept: float,
    cpu: float,
    latencies: list[float],
    meter: CpuMeter,
) -> Run:
    """An end-to-end Run; visible when the last of `total` was seen (None if never)."""
    last = samples[-1][0] if samples and samples[-1][1] >= total else None
    visible = (last - t0) if last else None
    return Run(
        side,
        "e2e",
        total,
        t_accept,
        cpu,
        visible,
        latencies,
        meter.by_kind(),
        meter.system_by_kind(),
        meter.main_thread_by_kind(),
    )


# --- Postfix → LMTP → Dovecot --------------------------------------------------------------


def postfix_accept(scratch: Path, payload: Path, args: argparse.Namespace) -> Run:
    work = Path(tempfile.mkdtemp(prefix="pf-accept-", dir=scratch))
    postfix = Postfix(work, domain="bench.test", users=["bench"], lmtp_port=None)
    postfix.start()
    try:
        meter = CpuMeter(postfix.pids)
        meter.start()
        took = accept_load(postfix.port, payload, args)
        cpu = meter.stop()
        held = postfix.queued()
        if held < args.messages:
            raise RuntimeError(f"Postfix holds {held} of {args.messages} messages")
        return accept_run("postfix", args.messages, took, cpu, meter)
    finally:
        postfix.stop()
        postfix.cleanup()


def _dovecot_order(new: Path) -> dict[int, int]:
    """Message number → its rank in delivery order (Maildir names start sec.M<usec>)."""

    def when(name: str) -> tuple[int, int]:
        sec, _, rest = name.partition(".M")
        return int(sec), int(rest.split("P", 1)[0] or 0)

    ranks: dict[int, int] = {}
    for rank, name in enumerate(sorted(os.listdir(new), key=when), 1):
        with (new / name).open("rb") as f:
            for line in f:
                if line.startswith(b"Subject: ingest "):
                    ranks[int(line.split()[-1])] = rank
                    break
                if line in (b"\r\n", b"\n"):
                    break
    return ranks


def postfix_end_to_end(scratch: Path, payloads: list[bytes], args: argparse.Namespace) -> Run:
    work = Path(tempfile.mkdtemp(prefix="pf-e2e-", dir=scratch))
    os.chmod(work, 0o755)
    dovecot = DovecotLmtp(work / "dovecot")
    postfix = Postfix(
        work / "postfix", domain="bench.test", users=["bench"], lmtp_port=dovecot.port
    )
    try:
        dovecot.start()
        postfix.start()
        new = dovecot.maildir("bench") / "new"

        def count() -> int:
            try:
                return len(os.listdir(new))
            except FileNotFoundError:
                return 0

        meter = CpuMeter(lambda: postfix.pids() + dovecot.pids())
        stop = threading.Event()
        samples: list[tuple[float, int]] = []
        poller = threading.Thread(
            target=lambda: samples.extend(watch(count, len(payloads), stop)), daemon=True
        )
        meter.start()
        t0 = time.perf_counter()
        poller.start()
        accepted_at = send_all(postfix.port, payloads, concurrency=args.concurrency)
        t_accept = time.perf_counter() - t0
        poller.join(args.timeout)
        stop.set()
        cpu = meter.stop()
        ranks = _dovecot_order(new)
        latencies = [
            seen - accepted_at[i]
            for i, rank in ranks.items()
            if (seen := first_seen(samples, rank)) is not None and i in accepted_at
        ]
        return e2e_run("postfix", samples, len(payloads), t0, t_accept, cpu, latencies, meter)
    finally:
        postfix.stop()
        dovecot.stop()
        postfix.cleanup()


# --- Mailroom --------------------------------------------------------------------------------


def _fresh_services() -> str:
    """Drop and create the scratch database, flush the Redis db; the database name or ''."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        parsed = urlparse(url)
        name = parsed.path.lstrip("/")
        if "bench" not in name:
            sys.exit(f"refusing to drop {name!r}: DATABASE_URL must name a scratch *bench* db")
        base = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432)]
        base += ["-U", parsed.username or "postgres"]
        subprocess.run(["dropdb", *base, "--if-exists", "--force", name], check=True)
        subprocess.run(["createdb", *base, name], check=True)
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    return urlparse(url).path.lstrip("/") if url.startswith("postgres") else ""


def _mailroom_pids(root: int, dbname: str) -> Callable[[], list[int]]:
    from bench.imap import descendants

    def pids() -> list[int]:
        mine = [p for p in descendants(root) if "gunicorn" not in cmdline(p)]
        return mine + (postgres_backends(dbname) if dbname else [])

    return pids


def mailroom_stack(args: argparse.Namespace, *, accept_only: bool) -> tuple[Stack, Api, int, str]:
    dbname = _fresh_services()
    # Dovecot's side runs LMTP only: Mailroom's IMAP and POP3 servers are not started either.
    stack = start_stack(
        worker_concurrency=args.worker_concurrency,
        skip=("imap", "pop3", *(("worker", "beat") if accept_only else ())),
        extra_env={"SMTP_PROCESSES": str(args.smtp_processes)} if args.smtp_processes else None,
    )
    stack.manage("domain", "add", "bench.test")
    stack.manage("account", "add", "bench@bench.test", "--password-stdin", stdin=b"bench-pw-1\n")
    api = Api(stack.web_port)
    api.login("bench@bench.test", "bench-pw-1")
    settle(_mailroom_pids(stack.proc.pid, dbname))
    return stack, api, api.inbox_id(), dbname


def settle(pids: Callable[[], list[int]], timeout: float = 60.0) -> None:
    """Wait until the processes are done starting (Django and Celery imports take seconds of
    CPU that are no part of a message's cost): below 5 % of a core over half a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meter = CpuMeter(pids)
        meter.start()
        time.sleep(0.5)
        if meter.stop() < 0.025:
            return


def mailroom_accept(payload: Path, args: argparse.Namespace) -> Run:
    stack, _, _, dbname = mailroom_stack(args, accept_only=True)
    try:
        meter = CpuMeter(_mailroom_pids(stack.proc.pid, dbname))
        profilers = (
            _profile(
                stack.proc.pid, args.profile / "accept", args.profile_format, native=args.native
            )
            if args.profile
            else []
        )
        meter.start()
        took = accept_load(stack.smtp_port, payload, args)
        cpu = meter.stop()
        for proc in profilers:
            proc.wait(60)
        return accept_run("mailroom", args.messages, took, cpu, meter)
    finally:
        stack.stop()


def mailroom_end_to_end(payloads: list[bytes], args: argparse.Namespace) -> Run:
    stack, api, inbox, dbname = mailroom_stack(args, accept_only=False)
    try:
        poller_api = Api(stack.web_port)
        poller_api.token = api.token

        def count() -> int:
            _, body = poller_api.call("GET", "/api/v1/folders")
            return int(next(f["total"] for f in body["results"] if f["id"] == inbox))  # type: ignore[index]

        meter = CpuMeter(_mailroom_pids(stack.proc.pid, dbname))
        stop = threading.Event()
        samples: list[tuple[float, int]] = []
        poller = threading.Thread(
            target=lambda: samples.extend(watch(count, len(payloads), stop)), daemon=True
        )
        profilers = (
            _profile(stack.proc.pid, args.profile / "e2e", args.profile_format, native=args.native)
            if args.profile
            else []
        )
        meter.start()
        t0 = time.perf_counter()
        poller.start()
        accepted_at = send_all(
            stack.smtp_port,
            payloads,
            concurrency=args.concurrency,
        )
        t_accept = time.perf_counter() - t0
        poller.join(args.timeout)
        stop.set()
        cpu = meter.stop()
        for proc in profilers:
            proc.wait(60)
        latencies: list[float] = []
        cursor = ""
        while True:  # uid → message number, from the listing
            _, page = api.call("GET", f"/api/v1/folders/{inbox}/messages?limit=200{cursor}")
            for item in page["results"]:  # type: ignore[index]
                n = int(item["subject"].rsplit(" ", 1)[1])
                seen = first_seen(samples, int(item["uid"]))
                if seen is not None and n in accepted_at:
                    latencies.append(seen - accepted_at[n])
            if not page["next_cursor"]:  # type: ignore[index]
                break
            cursor = f"&cursor={page['next_cursor']}"  # type: ignore[index]
        return e2e_run("mailroom", samples, len(payloads), t0, t_accept, cpu, latencies, meter)
    finally:
        stack.stop()


def _profile(
    root: int, out: Path, fmt: str = "flamegraph", *, native: bool = False
) -> list[subprocess.Popen[bytes]]:
    """py-spy (sampling, from PyPI) on the SMTP processes and each delivery worker process for
    the first 15 s of the load: flame graphs `smtp-N.svg`, `worker-N.svg` under `out`."""
    from bench.imap import descendants

    out.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    targets: list[tuple[str, int]] = []
    for pid in descendants(root):
        line = cmdline(pid)
        if "-m mailcore.smtp" in line:
            targets.append((f"smtp-{len(targets)}", pid))
        elif "-m mailcore.delivery.cleanup" in line:
            targets.append((f"cleanup-{len(targets)}", pid))
        elif " worker " in line and "celery" in line:
            targets.append((f"worker-{len(targets)}", pid))
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                "15",
                "--rate",
                "250",
                "--threads",
                # py-spy cannot unwind C frames without pausing the process
                *(["--native"] if native else ["--nonblocking"]),
                "--format",
                fmt,
                "-o",
                str(out / f"{name}.{'svg' if fmt == 'flamegraph' else 'txt'}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in targets
    ]


# --- report ------------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str = "8.1f") -> str:
    return format(v, spec) if v is not None else "       –"


def _ratio(m: float | None, p: float | None) -> str:
    return f"{m / p:5.2f}" if m and p else "    –"


def report(runs: list[Run]) -> None:
    def pick(side: str, figure: str) -> list[Run]:
        return [r for r in runs if r.side == side and r.figure == figure]

    def med(values: list[float | None]) -> float | None:
        got = [v for v in values if v is not None]
        return statistics.median(got) if got else None

    rows = [
        ("accept only (msgs/s)", "accept", lambda r: r.accept_rate),
        ("end to end (msgs/s)", "e2e", lambda r: r.visible_rate),
        ("accepting while delivering (msgs/s)", "e2e", lambda r: r.accept_rate),
    ]
    print(f"machine: {machine()}")
    print(f"{'figure':38} {'Postfix':>9} {'Mailroom':>9} {'ratio':>6}   (each pair, then median)")
    for label, figure, get in rows:
        pf, mr = pick("postfix", figure), pick("mailroom", figure)
        pairs = [f"{_ratio(get(m), get(p)).strip()}" for p, m in zip(pf, mr, strict=False)]
        p_med, m_med = med([get(r) for r in pf]), med([get(r) for r in mr])
        print(
            f"{label:38} {_fmt(p_med, '9.1f')} {_fmt(m_med, '9.1f')} {_ratio(m_med, p_med)}"
            f"   pairs: {', '.join(pairs)}"
        )
    for figure, label in (("accept", "accept only"), ("e2e", "end to end")):
        pf, mr = pick("postfix", figure), pick("mailroom", figure)
        p_med, m_med = med([r.cpu_ms for r in pf]), med([r.cpu_ms for r in mr])
        print(
            f"{'CPU ms/msg, ' + label:38} {_fmt(p_med, '9.2f')} {_fmt(m_med, '9.2f')} "
            f"{_ratio(m_med, p_med)}   pairs: "
            + ", ".join(_ratio(m.cpu_ms, p.cpu_ms).strip() for p, m in zip(pf, mr, strict=False))
        )
    for side in ("postfix", "mailroom"):
        lat = [x for r in pick(side, "e2e") for x in r.latencies]
        if lat:
            print(
                f"accept→visible {side:9} p50 {percentile(lat, 50) * 1000:7.0f} ms   "
                f"p99 {percentile(lat, 99) * 1000:7.0f} ms"
            )


def _detail(run: Run, kind: str) -> str:
    """One kind's CPU per message in detail: its system share and its main thread's."""
    ms = 1000 / run.messages
    parts = []
    if run.system.get(kind, 0) * ms >= 0.05:
        parts.append(f"sys {run.system[kind] * ms:.2f}")
    if kind in run.main:
        cpu, sys_ = run.main[kind]
        parts.append(f"main thread {cpu * ms:.2f}, sys {sys_ * ms:.2f}")
    return f" ({'; '.join(parts)})" if parts else ""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=3, help="interleaved Postfix/Mailroom pairs")
    ap.add_argument("--figures", default="accept,e2e", help="accept, e2e or both (default)")
    ap.add_argument("--worker-concurrency", type=int, default=2)
    ap.add_argument("--smtp-processes", type=int, default=0, help="SMTP_PROCESSES for Mailroom")
    ap.add_argument("--only", choices=("both", "postfix", "mailroom"), default="both")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument(
        "--profile",
        type=Path,
        help="py-spy flame graphs of Mailroom's SMTP and worker processes (e2e runs) here",
    )
    ap.add_argument(
        "--profile-format",
        choices=("flamegraph", "raw"),
        default="flamegraph",
        help="raw: collapsed stacks (.txt), for bench/profile_top.py",
    )
    ap.add_argument(
        "--accept-load",
        choices=("smtp-source", "smtplib"),
        default="smtp-source",
        help="the accept-only figure's client (smtplib: the end-to-end runs' threads)",
    )
    ap.add_argument(
        "--native",
        action="store_true",
        help="py-spy --native: C frames (uvloop, psycopg, the kernel's entry points) too",
    )
    ap.add_argument(
        "--ports",
        help="loopback port range for every listener started (Postfix, Dovecot, Mailroom), "
        "e.g. 36000-36999; sets BENCH_PORTS (default: the kernel's ephemeral ports)",
    )
    args = ap.parse_args()
    if args.ports:
        os.environ["BENCH_PORTS"] = args.ports
    if args.only != "mailroom" and not available():
        sys.exit("Postfix/Dovecot LMTP missing: bash scripts/ensure-postfix.sh")
    figures = args.figures.split(",")
    scratch = Path(tempfile.mkdtemp(prefix="mailroom-compare-"))
    os.chmod(scratch, 0o755)
    payloads = [message(i, args.size) for i in range(args.messages)]
    payload = scratch / "message.eml"
    payload.write_bytes(message(0, args.size).replace(b"\r\n", b"\n"))  # it adds the CRs
    runs: list[Run] = []
    print(f"start: {machine()}", flush=True)
    print(
        f"{args.messages} msgs x {args.size} B, concurrency {args.concurrency}, "
        f"one session per message, {args.pairs} interleaved pairs",
        flush=True,
    )
    steps: list[tuple[str, Callable[[], Run]]] = []
    for _ in range(args.pairs):
        if "accept" in figures:
            if args.only != "mailroom":
                steps.append(("postfix accept", lambda: postfix_accept(scratch, payload, args)))
            if args.only != "postfix":
                steps.append(("mailroom accept", lambda: mailroom_accept(payload, args)))
        if "e2e" in figures:
            if args.only != "mailroom":
                steps.append(("postfix e2e", lambda: postfix_end_to_end(scratch, payloads, args)))
            if args.only != "postfix":
                steps.append(("mailroom e2e", lambda: mailroom_end_to_end(payloads, args)))
    for name, step in steps:
        run = step()
        runs.append(run)
        extra = ""
        if run.figure == "e2e":
            extra = (
                f", visible {_fmt(run.visible_rate).strip()} msgs/s, "
                f"p50 {percentile(run.latencies, 50) * 1000:.0f} ms"
            )
        split = ", ".join(
            f"{kind} {secs / run.messages * 1000:.2f}" + _detail(run, kind)
            for kind, secs in sorted(run.kinds.items(), key=lambda kv: -kv[1])
            if secs / run.messages >= 0.00005
        )
        print(
            f"  {name:16} accepted {run.accept_rate:7.1f} msgs/s{extra}, "
            f"CPU {run.cpu_ms:.2f} ms/msg (load {os.getloadavg()[0]:.1f})\n"
            f"  {'':16} CPU ms/msg by process: {split}",
            flush=True,
        )
    report(runs)


if __name__ == "__main__":
    main()
