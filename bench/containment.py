#!/usr/bin/env python
"""What the containment policy (mailcore.delivery.containment) costs a submission: --count
do_submit calls from ONE account to one remote recipient each (queued, never relayed), with
the policy off and then on (CONTAIN_ENABLED), timed per call; p50/p95 in ms, the
difference and the SQL statements per submission. Floors and the daily limit are raised so
nothing is held or refused.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
        .venv/bin/python bench/containment.py --count 300

Runs the migrations on DATABASE_URL (SQLite under MAILROOM_VAR without it) and creates one
account per run on a domain of its own (containbench-<random>.test); nothing else is touched.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from mailcore.delivery.submit import do_submit
    from mailcore.directory.actions import do_create_account, do_create_domain

    call_command("migrate", verbosity=0)
    scratch = Path(tempfile.mkdtemp(prefix="containbench-"))
    settings.SPOOL_DIR = scratch / "spool"
    settings.MAIL_ROOT = scratch / "mail"
    settings.SUBMISSION_MAX_MESSAGES_PER_DAY = 0
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 10**9
    settings.CONTAIN_BURST_FLOOR_RECIPIENTS = 10**9
    results: dict[bool, list[float]] = {}
    for enabled in (False, True):
        settings.CONTAIN_ENABLED = enabled
        domain = f"containbench-{secrets.token_hex(4)}.test"
        do_create_domain(name=domain)
        account = do_create_account(address=f"bench@{domain}", password=secrets.token_urlsafe(16))
        times: list[float] = []
        queries: list[int] = []

        def counting(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(1)
            return execute(sql, params, many, context)

        for n in range(args.count):
            data = f"From: bench@{domain}\r\nTo: x{n}@remote.test\r\nSubject: n{n}\r\n\r\nhi\r\n"
            start = time.perf_counter()
            with connection.execute_wrapper(counting):
                do_submit(
                    acting_account=account,
                    envelope_sender=account.address,
                    recipients=[f"x{n}@remote.test"],
                    data=data.encode(),
                    source="smtp",
                )
            times.append((time.perf_counter() - start) * 1000)
        results[enabled] = times
        print(f"policy {'on ' if enabled else 'off'}: {len(queries) / args.count:.1f} queries")
    for enabled, times in results.items():
        q = statistics.quantiles(times, n=20)
        print(
            f"policy {'on ' if enabled else 'off'}: {len(times)} submissions, "
            f"p50 {statistics.median(times):.2f} ms, p95 {q[18]:.2f} ms"
        )
    diff = statistics.median(results[True]) - statistics.median(results[False])
    print(f"difference at p50: {diff:+.2f} ms per submission")


if __name__ == "__main__":
    main()
