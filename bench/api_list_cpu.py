#!/usr/bin/env python
"""The web process's CPU per list request (issue 17 item 4), from /proc over the gunicorn
workers, and their PostgreSQL backends' apart: a folder of N messages seeded as
bench/api_list.py seeds it, then R requests of each kind one after the other over keep-alive
HTTP (a page of 50, the same grouped by conversation, and the folder list as a control).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_x_bench REDIS_URL=redis://…/6 \\
    BENCH_PORTS=43000-43999 .venv/bin/python bench/api_list_cpu.py --messages 5000 \\
        --requests 400 [--profile FILE-PREFIX]

--profile runs py-spy on each gunicorn worker during the plain pages (collapsed stacks, for
bench/profile_top.py). The database named must be a scratch one (its name contains "bench").
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
from bench.api_list import seed, timed
from bench.imap import cmdline, descendants
from bench.stack import Api, start_stack


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--profile", help="py-spy output prefix (FILE-PREFIX-<pid>.txt)")
    args = ap.parse_args()
    dbname = compare._fresh_services()
    stack = start_stack(skip=("imap", "pop3", "worker", "beat", "maillog"))
    try:
        stack.manage("domain", "add", "bench.test")
        stack.manage(
            "account", "add", "big@bench.test", "--password-stdin", stdin=b"bench-password\n"
        )
        seed(stack.var, "big@bench.test", args.messages)
        api = Api(stack.web_port)
        api.login("big@bench.test", "bench-password")
        base = f"/api/v1/folders/{api.inbox_id()}/messages?limit=50"
        timed(api, base, 50)  # warm both workers' imports, caches and connections
        tree = descendants(stack.proc.pid)
        web = [p for p in tree if "gunicorn" in cmdline(p)]  # its master and workers
        pg = compare.postgres_backends(dbname) if dbname else []
        cases = {
            "first page": base,
            "grouped": f"{base}&group=conversation",
            "folder list": "/api/v1/folders",
        }
        for name, path in cases.items():
            spies = []
            if args.profile and name == "first page":
                spy = Path(sys.executable).parent / "py-spy"
                argv = f"{spy} record --rate 500 --nonblocking --format raw --duration 12 --pid"
                spies = [
                    subprocess.Popen(
                        [*argv.split(), str(pid), "-o", f"{args.profile}-{pid}.txt"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for pid in web
                ]
                time.sleep(1)
            web_meter, pg_meter = compare.CpuMeter(lambda: web), compare.CpuMeter(lambda: pg)
            web_meter.start()
            pg_meter.start()
            lat = sorted(timed(api, path, args.requests))
            web_cpu, pg_cpu = web_meter.stop(), pg_meter.stop()
            for proc in spies:
                proc.wait(60)
            print(
                f"{name:12} web CPU {web_cpu / args.requests * 1000:.2f} ms/request, "
                f"PostgreSQL {pg_cpu / args.requests * 1000:.2f}, "
                f"p50 {lat[len(lat) // 2] * 1000:.1f} ms (load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
