#!/usr/bin/env python
"""In-process delivery benchmark: N queued 4 KiB messages for one local account, delivered by
`do_process_entries` on batches of 8 (no Celery, no SMTP): the worker's own cost per local
delivery. Prints delivered msgs/s; `--profile` adds the cProfile top 25. `--auth`: every message
DKIM-signed twice (RSA-2048, ed25519) by sender.example, whose SPF/DKIM/DMARC records a loopback
DNS server publishes (as bench/ingest.py --auth), from client 127.0.0.1: the sender checks run
as in production (first message: cold cache). `--checks`: the checks on without those records
(compare.py's e2e figure). Besides this process's CPU, it prints its PostgreSQL backend's
(from /proc) and the statements per batch. `--batch 64` is what the delivery loop claims
under a backlog. Use a fresh, empty
database each run (it migrates it and creates p.test):

    psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS mailroom_bench" \
        -c "CREATE DATABASE mailroom_bench"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 LOG_LEVEL=WARNING \
        .venv/bin/python bench/deliver.py --messages 1000
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--auth", action="store_true", help="sender checks on (see above)")
    ap.add_argument(
        "--checks",
        action="store_true",
        help="sender checks on with the system's resolver and no records for the sender "
        "(as bench/compare.py's Mailroom side: its look-ups fail fast and are cached)",
    )
    args = ap.parse_args()
    dns_servers: list[object] = []
    if args.auth:
        from bench.ingest import auth_dns, message, signed

        port, dns_servers, keys = auth_dns()
        os.environ.update(INBOUND_AUTH="1", RELAY_NAMESERVERS=f"127.0.0.1:{port}")
    else:
        os.environ["INBOUND_AUTH"] = "1" if args.checks else "0"

    os.environ["MAILROOM_VAR"] = tempfile.mkdtemp(prefix="mailroom-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.stack import machine
    from mailcore.delivery import workers
    from mailcore.delivery.actions import do_enqueue, do_process_entries
    from mailcore.directory.actions import do_create_account, do_create_domain

    call_command("migrate", verbosity=0)
    do_create_domain("p.test")
    do_create_account("a@p.test", password="bench-password")
    msg = b"From: x@y\r\nTo: a@p.test\r\nSubject: s\r\n\r\n" + (b"x" * 70 + b"\r\n") * 55
    sender = "x@y"
    if args.auth:
        msg = signed(message(0, 4096).replace(b"bench@bench.test", b"a@p.test"), keys)
        sender = "load@sender.example"
    ids = [
        do_enqueue(
            sender=sender,
            recipients=["a@p.test"],
            data=msg,
            client_ip="127.0.0.1",
            client_helo="bench.example",
        ).pk
        for _ in range(args.messages)
    ]
    print(f"machine: {machine()}")
    backend = _backend_pid()
    statements = [0]

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return execute(sql, params, many, context)

    # On PostgreSQL, count at psycopg's cursors: the hot paths' prepared statements
    # (store.indexrows, delivery.rowsets) bypass Django's execute_wrapper. BEGIN and COMMIT
    # are not counted either way.
    counting = _count_psycopg(statements) if connection.vendor == "postgresql" else None

    profile = cProfile.Profile()
    if args.profile:
        profile.enable()
    # As a worker process does (mailcore.delivery.tasks/loop), where this tree has it.
    settle = getattr(workers, "settle_heap", None)
    if settle is not None:
        settle()
    collections: list[float] = [0.0, 0.0]  # count, seconds of the cyclic GC

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections[1] -= time.process_time()
        else:
            collections[0] += 1
            collections[1] += time.process_time()

    gc.callbacks.append(timed)
    start, cpu_start, times_start = time.perf_counter(), time.process_time(), os.times()
    backend_start = _cpu_seconds(backend)
    with connection.execute_wrapper(count) if counting is None else counting:
        for i in range(0, len(ids), args.batch):
            if do_process_entries(ids[i : i + args.batch]) and settle is not None:
                settle(once=True)
    elapsed = time.perf_counter() - start
    # This process's CPU per message: steadier than msgs/s on a shared, loaded machine. On
    # PostgreSQL its backend's CPU (from /proc) is printed beside it; on SQLite it is all here.
    cpu_ms = (time.process_time() - cpu_start) * 1000 / args.messages
    times = os.times()
    user_ms = (times.user - times_start.user) * 1000 / args.messages
    system_ms = (times.system - times_start.system) * 1000 / args.messages
    backend_ms = (_cpu_seconds(backend) - backend_start) * 1000 / args.messages
    profile.disable()
    batches = -(-args.messages // args.batch)
    print(
        f"deliver: {args.messages} messages of {len(msg)} bytes, batches of {args.batch}: "
        f"{args.messages / elapsed:.0f} msgs/s, {cpu_ms:.2f} ms CPU per message in this process "
        f"(user {user_ms:.2f}, system {system_ms:.2f})"
        + (f", {backend_ms:.2f} in its PostgreSQL backend" if backend else "")
        + f"; {statements[0] / batches:.1f} statements per batch; cyclic GC {collections[0]:.0f} "
        f"runs, {collections[1] * 1000 / args.messages:.2f} ms per message"
    )
    if args.auth:
        from mailcore.store.models import Message

        passed = Message.objects.filter(auth_dmarc="pass").count()
        print(f"  sender checks on: DMARC pass for {passed} of {args.messages}")
        for server in dns_servers:
            server.stop()  # type: ignore[attr-defined]
    if args.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
        if os.environ.get("PROFILE_OUT"):
            profile.dump_stats(os.environ["PROFILE_OUT"])


@contextlib.contextmanager
def _count_psycopg(statements: list[int]) -> Iterator[None]:
    """Count every statement a psycopg cursor executes (Django's go through one too)."""
    import psycopg

    original = psycopg.Cursor.execute

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        statements[0] += 1
        return original(self, *args, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        yield
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]


def _backend_pid() -> int:
    """The PostgreSQL backend serving this process's connection (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (same machine) from /proc; 0 for no process."""
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
