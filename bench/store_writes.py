#!/usr/bin/env python
"""Store write throughput on ONE account, without any protocol server: --threads threads
(one database connection each) change flags (do_set_flags toggling \\Flagged on their own
messages), append 4 KiB messages (do_append) and expunge one message at a time
(do_expunge), --seconds each. What it shows is how far the account's modseq lock
(mailcore.store.history) lets concurrent writers of one account go; docs/performance.md
("Store writes without the WAL flush under the account's lock") has figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
        .venv/bin/python bench/store_writes.py --threads 10 --seconds 4

Runs the migrations on DATABASE_URL (SQLite under MAILROOM_VAR without it) and creates one
account on a domain of its own (storebench-<random>.test); nothing else is touched. Every
loop is bounded by --seconds and --max-ops.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BODY = (
    b"From: a@storebench.test\r\nTo: bench@storebench.test\r\nSubject: bench\r\n\r\n"
    + b"y" * 4000
    + b"\r\n"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--max-ops", type=int, default=200, help="per thread and phase")
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.store.actions import do_append, do_expunge, do_set_flags
    from mailcore.store.models import Message
    from mailcore.store.queries import get_folder_by_special_use

    call_command("migrate", verbosity=0)
    domain = f"storebench-{secrets.token_hex(4)}.test"
    do_create_domain(name=domain)
    account = do_create_account(address=f"bench@{domain}", password=secrets.token_urlsafe(16))
    inbox = get_folder_by_special_use(account, "inbox")

    def rows(pk: int) -> list[Message]:
        m = Message.objects.select_related("folder").get(pk=pk)
        m.account = account
        return [m]

    def put() -> Message:
        return do_append(acting_account=account, folder=inbox, data=BODY)

    def run(name: str, setup: Callable[[], Any], op: Callable[[Any, int], bool]) -> None:
        counts, errors = [0] * args.threads, []
        ready = threading.Barrier(args.threads + 1)

        def work(i: int) -> None:
            try:
                state = setup()
                ready.wait(600)
                end = time.monotonic() + args.seconds
                while counts[i] < args.max_ops and time.monotonic() < end:
                    if not op(state, counts[i]):
                        break
                    counts[i] += 1
            except Exception as exc:  # reported below
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
        for t in threads:
            t.start()
        ready.wait(600)
        t0 = time.monotonic()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        print(
            f"{name:12s} {sum(counts) / took:8.1f} ops/s  ({sum(counts)} in {took:.1f} s, "
            f"load {os.getloadavg()[0]:.1f})"
            + (f"  ERRORS {len(errors)}: {errors[0]}" if errors else ""),
            flush=True,
        )

    def toggle(pks: list[int], n: int) -> bool:
        on = (n // len(pks)) % 2 == 0
        do_set_flags(
            acting_account=account,
            messages=rows(pks[n % len(pks)]),
            add=["flagged"] if on else [],
            remove=[] if on else ["flagged"],
        )
        return True

    def expunge(pks: list[int], _n: int) -> bool:
        if not pks:
            return False
        do_expunge(acting_account=account, messages=rows(pks.pop()))
        return True

    print(
        f"store_writes: {args.threads} threads on one account, {args.seconds} s per phase; "
        f"{connection.vendor}; load {os.getloadavg()}",
        flush=True,
    )
    run("flag change", lambda: [put().pk for _ in range(5)], toggle)
    run("APPEND 4 KiB", lambda: None, lambda _s, _n: bool(put()))
    run("EXPUNGE one", lambda: [put().pk for _ in range(args.max_ops)], expunge)


if __name__ == "__main__":
    main()
