#!/usr/bin/env python
"""Scale-out benchmark (issue 15 item 8): the same load through one process of each kind, then
two of each (SMTP processes on one port with SO_REUSEPORT, Celery workers, gunicorn web
processes on a port each; one beat), then two of each losing one of each to SIGKILL in the
middle of the load (none restarted). Every process is a separate OS process against one
PostgreSQL and one Redis (tests/cluster.py, shared with tests/e2e/test_scaleout.py).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/scaleout.py --messages 3000 --concurrency 16

Prints, per run: accepted msg/s (every message fsynced and committed before its 250),
delivered msg/s (until the last one is readable through the REST API), accept→visible p50/p99,
and for the crash run what was lost (must be 0), doubled (only a try broken after DATA may be:
RFC 1047), resent, and the leases freed from the dead worker.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
# One Maildir volume and spool for every run, as the shared volume of several hosts: accounts
# are made here (their Maildir with them) and every process of every run sees the same paths.
_VAR = Path(tempfile.mkdtemp(prefix="mailroom-scaleout-"))
os.environ["MAILROOM_VAR"] = str(_VAR)
os.environ["MAIL_ROOT"] = str(_VAR / "mail")
os.environ["SPOOL_DIR"] = str(_VAR / "spool")

from bench.stack import Api, free_port, machine, percentile  # noqa: E402


def setup_django(clean_queue: bool) -> None:
    import django

    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        sys.exit("bench/scaleout.py needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from mailcore.delivery.models import EntryState, QueueEntry

    left = QueueEntry.objects.exclude(state=EntryState.DONE)
    if left.exists():
        if not clean_queue:
            sys.exit(
                f"{left.count()} queue entries of earlier runs are not done in this database: "
                "the workers would deliver them too. Use a database of its own and "
                "--clean-queue to remove them."
            )
        print(f"removed {left.delete()[0]} rows of unfinished entries of earlier runs")


def run(args: argparse.Namespace, kind: int, crash: bool) -> dict[str, object]:
    from django.conf import settings
    from rest_framework.authtoken.models import Token

    from mailcore.delivery.models import DeliveryAttempt, DeliveryWorker, EntryState, QueueEntry
    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.store.models import Message
    from mailcore.store.queries import get_folder_by_special_use
    from tests.cluster import Cluster, maildir_message_ids, message, run_load, tcp_sockets
    from webmail.celery import app

    app.control.purge()  # doorbells left by an earlier run ring for nothing here
    domain = f"run-{secrets.token_hex(4)}.test"
    rcpt = f"load@{domain}"
    do_create_domain(domain)
    account = do_create_account(rcpt, password="scaleout bench password")
    token = Token.objects.create(user=account).key
    inbox = get_folder_by_special_use(account, "inbox").pk
    var = Path(tempfile.mkdtemp(prefix="run-", dir=_VAR))
    mail_root = settings.MAIL_ROOT
    env = {
        **os.environ,
        "MAIL_HOSTNAME": "mx.scaleout.test",
        "RELAY_NAMESERVERS": "127.0.0.1:1",
        "QUEUE_SWEEP_SECONDS": "5",
    }
    web_ports = [free_port() for _ in range(kind)]
    cluster = Cluster(
        var,
        env,
        smtp_port=free_port(),
        web_ports=web_ports,
        smtp=kind,
        workers=kind,
        web_threads=8,
    )

    def registered(pid: int) -> bool:
        return DeliveryWorker.objects.filter(pid=pid).exists()

    survivor = web_ports[-1]
    samples: list[tuple[float, int]] = []
    web_errors = 0
    stop = threading.Event()

    def poll() -> None:  # the folder count through the last web process: cheap, keeps up
        nonlocal web_errors
        poller = Api(survivor)
        poller.token = token
        try:
            while not stop.is_set():
                try:
                    status, body = poller.call("GET", "/api/v1/folders")
                except OSError:
                    status, body = 0, None
                if status != 200:
                    web_errors += 1
                    time.sleep(0.05)
                    continue
                total = next(f["total"] for f in body["results"] if f["id"] == inbox)  # type: ignore[index]
                samples.append((time.perf_counter(), total))
                if total >= args.messages:
                    return
                time.sleep(0.05)
        finally:
            poller.conn.close()

    killed: dict[str, float] = {}
    try:
        cluster.start(worker_ready=registered)
        payloads = [message("bench", i, rcpt, args.size) for i in range(args.messages)]
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        load = run_load(
            cluster.smtp_port,
            payloads,
            sender="load@sender.example",
            rcpt=rcpt,
            concurrency=args.concurrency,
            per_session=args.per_session,
            give_up_after=args.timeout,
        )
        worker1_pid = cluster.procs["worker1"].pid
        if crash:
            smtp1 = cluster.procs["smtp1"]
            deadline = time.monotonic() + args.timeout
            while not (
                load.accepted() >= args.messages // 3
                and tcp_sockets(smtp1.pid, cluster.smtp_port, "01")
            ):
                if load.done.is_set() or time.monotonic() > deadline:
                    raise RuntimeError("the load ended before the crash point")
                time.sleep(0.02)
            t0 = time.perf_counter()
            for name in ("smtp1", "worker1", "web1"):
                cluster.procs[name].kill()
                killed[name] = time.perf_counter() - t0
        load.done.wait(args.timeout)
        poller.join(args.timeout)
        stop.set()
        t_end = time.perf_counter()
        # Which message became visible when: UIDs from the listing against the count samples.
        api = Api(survivor)
        api.token = token
        visible_at: dict[int, float] = {}
        listed: Counter[int] = Counter()
        cursor = ""
        while True:
            _, page = api.call("GET", f"/api/v1/folders/{inbox}/messages?limit=200{cursor}")
            for item in page["results"]:  # type: ignore[index]
                n = int(item["subject"].rsplit(" ", 1)[1])
                listed[n] += 1
                seen = next((t for t, total in samples if total >= item["uid"]), None)
                if seen is not None:
                    visible_at[n] = min(seen, visible_at.get(n, seen))
            if not page["next_cursor"]:  # type: ignore[index]
                break
            cursor = f"&cursor={page['next_cursor']}"  # type: ignore[index]
        api.conn.close()
        t0 = load.started
        accepted = len(load.accepted_at)
        t_accept = load.finished - t0
        t_visible = (max(visible_at.values()) - t0) if visible_at else float("nan")
        latencies = [
            visible_at[i] - load.accepted_at[i] for i in visible_at if i in load.accepted_at
        ]
        files = maildir_message_ids(mail_root / account.storage_path / "Maildir")
        mine = QueueEntry.objects.filter(recipients__address=rcpt)
        missing = [i for i in load.accepted_at if listed[i] == 0]
        doubled = [i for i in load.accepted_at if listed[i] > 1]
        result: dict[str, object] = {
            "run": ("crash" if crash else f"{kind}x"),
            "accepted": accepted,
            "accepted_per_s": accepted / t_accept,
            "delivered_per_s": len(visible_at) / t_visible,
            "visible": len(visible_at),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "missing": len(missing),
            "doubled": len(doubled),
            "doubled_outside_rfc1047": len([i for i in doubled if i not in load.after_data]),
            "resent": len(load.failures),
            "broke_after_data": len(load.after_data),
            "refused": len(load.refused),
            "maildir_files": sum(files.values()),
            "rows": Message.objects.filter(account=account).count(),
            "stuck": mine.exclude(state=EntryState.DONE).count(),
            "freed_leases": DeliveryAttempt.objects.filter(
                entry__in=mine, result="worker died"
            ).count(),
            "web_errors": web_errors,
            "worker1_gone": not DeliveryWorker.objects.filter(pid=worker1_pid).exists(),
            "drain_s": t_end - load.finished,
            "killed": killed,
            "failure_samples": load.failures[:3] + load.refused[:3],
        }
        return result
    finally:
        stop.set()
        cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=16, help="SMTP client threads")
    ap.add_argument("--per-session", type=int, default=5, help="messages per SMTP session")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument(
        "--clean-queue", action="store_true", help="remove unfinished entries of earlier runs"
    )
    ap.add_argument("--runs", default="1,2,crash", help="which runs, comma-separated")
    ap.add_argument("--keep", action="store_true", help="keep the Maildirs and process logs")
    args = ap.parse_args()
    # A SIGTERM (timeout, ^C of a parent) still stops every process a run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    setup_django(args.clean_queue)
    print(f"machine: {machine()}")
    print(
        f"load: {args.messages} msgs x {args.size} B, {args.concurrency} SMTP clients, "
        f"{args.per_session} msgs per session; worker pool solo (one delivering process each); "
        f"web gunicorn gthread x8"
    )
    try:
        for name in args.runs.split(","):
            report(args, name)
    finally:
        if args.keep:
            print(f"kept: {_VAR}")
        else:
            shutil.rmtree(_VAR, ignore_errors=True)


def report(args: argparse.Namespace, name: str) -> None:
    crash = name == "crash"
    r = run(args, 2 if crash else int(name), crash)
    print(
        f"  {r['run']:>5}: accepted {r['accepted_per_s']:7.1f} msg/s, delivered "
        f"{r['delivered_per_s']:7.1f} msg/s ({r['visible']}/{r['accepted']} visible), "
        f"accept→visible p50 {r['p50_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms"
    )
    print(
        f"         missing {r['missing']}, doubled {r['doubled']} "
        f"(outside RFC 1047's window: {r['doubled_outside_rfc1047']}), rows {r['rows']}, "
        f"Maildir files {r['maildir_files']}, stuck entries {r['stuck']}, "
        f"refused {r['refused']}, tries resent {r['resent']} "
        f"({r['broke_after_data']} after DATA)"
    )
    if r["failure_samples"]:
        print(f"         first failures: {r['failure_samples']}")
    if crash:
        print(
            f"         killed smtp1, worker1, web1 (SIGKILL, not restarted); leases freed "
            f"from the dead worker {r['freed_leases']}, its row gone {r['worker1_gone']}; "
            f"web2 errors {r['web_errors']}; drained {r['drain_s']:.1f} s after the load"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
