#!/usr/bin/env python
"""Mailroom's end-to-end run of bench/compare.py (the same stack, load and meter), with the CPU
per delivered message split finer than compare.py's kinds: the Celery worker's main process
apart from its pool children, beat apart from the worker, the mail log follower, the
supervisor, and each PostgreSQL backend counted under the process that holds its connection
(found by the client's loopback port). For the side processes of issue 17: what each costs
per message besides the SMTP process and the delivery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_x_bench REDIS_URL=redis://…/6 \\
    BENCH_PORTS=43000-43999 .venv/bin/python bench/side_cpu.py --messages 1500 --runs 2 \\
        [--profile-maillog DIR]

With --tree A,B (two source trees, e.g. a `git worktree add --detach` of the starting commit)
the runs alternate between them (A, B, A, B …), each tree's stack started from its own code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import compare
from bench.imap import cmdline
from bench.ingest import message

TICK = os.sysconf("SC_CLK_TCK")


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _port_owner() -> dict[int, int]:
    """Local TCP port → pid, for this user's loopback client sockets."""
    inodes: dict[str, int] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            inodes[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    owner: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                port = inodes.get(target[8:-1])
                if port:
                    owner[port] = int(entry.name)
    return owner


def role(pid: int) -> str:
    """What a Mailroom process (or a PostgreSQL backend, by its client) is."""
    title = cmdline(pid)
    if title.startswith("postgres: "):
        try:
            port = int(title.split("(", 1)[1].split(")", 1)[0])
        except (IndexError, ValueError):
            return "pg:?"
        client = _port_owner().get(port)
        return "pg:" + (role(client) if client else "?")
    if "mailcore.smtp" in title:
        return "smtp"
    if "mailcore.delivery.cleanup" in title:
        return "smtp-cleanup"
    if "mailcore.maillog" in title:
        return "maillog"
    if "runall" in title:
        return "runall"
    if "celery" in title and " beat" in title:
        return "beat"
    if "celery" in title and " worker" in title:
        parent = cmdline(_ppid(pid))
        return "worker-child" if "celery" in parent and " worker" in parent else "worker-main"
    if "gunicorn" in title:
        return "web"
    return title.split()[0].rsplit("/", 1)[-1] if title else "?"


class RoleMeter(compare.CpuMeter):
    def _sample(self, *, first: bool) -> None:
        for pid in self._pids():
            got = compare._cpu_ticks(pid)
            if got is None:
                continue
            key = (pid, got[0])
            if key not in self._first:
                self._first[key] = got[1] if first else 0
                self._kind[key] = role(pid)
            self._last[key] = got[1]


def _profile_maillog() -> None:
    """compare.py's --profile hook, pointed at the mail log follower: py-spy on it for the
    first 20 s of the load (collapsed stacks, for bench/profile_top.py)."""

    def profile(root: int, where: Path, fmt: str = "raw") -> list[subprocess.Popen[bytes]]:
        from bench.imap import descendants

        where.mkdir(parents=True, exist_ok=True)
        spy = Path(sys.executable).parent / "py-spy"
        argv = f"{spy} record --duration 20 --rate 250 --nonblocking --format {fmt} --pid"
        return [
            subprocess.Popen(
                [*argv.split(), str(pid), "-o", str(where / f"maillog-{pid}.txt")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid in descendants(root)
            if "mailcore.maillog" in cmdline(pid)
        ]

    compare._profile = profile  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--worker-concurrency", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--profile-maillog", type=Path)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    args.smtp_processes = 0
    args.profile = args.profile_maillog
    args.profile_format = "raw"
    if args.profile_maillog:
        _profile_maillog()
    compare.CpuMeter = RoleMeter  # type: ignore[misc]
    payloads = [message(i, args.size) for i in range(args.messages)]
    for n in range(args.runs):
        run = compare.mailroom_end_to_end(payloads, args)
        per = {k: v / run.messages * 1000 for k, v in run.kinds.items()}
        split = ", ".join(f"{k} {v:.3f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
        print(
            f"{time.strftime('%H:%M:%S', time.gmtime())} {args.label} run {n + 1}: "
            f"visible {compare._fmt(run.visible_rate).strip()} msgs/s, CPU {run.cpu_ms:.2f} "
            f"ms/msg (load {os.getloadavg()[0]:.1f})\n  {split}",
            flush=True,
        )


if __name__ == "__main__":
    main()
