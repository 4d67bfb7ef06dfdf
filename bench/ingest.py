#!/usr/bin/env python
"""Ingest benchmark: N messages of S bytes over SMTP at concurrency C into a freshly started
stack; prints accepted msgs/s (every message fsynced and queued before its 250) and the time
until each message is readable through the REST API (p50/p99 accept→visible).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/ingest.py --messages 3000 --size 4096 --concurrency 10
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import Api, machine, percentile, start_stack


def message(i: int, size: int) -> bytes:
    head = (
        f"From: Load <load@sender.example>\r\nTo: bench@bench.test\r\nSubject: ingest {i}\r\n"
        f"Message-ID: <ingest-{i}@sender.example>\r\n\r\n"
    ).encode()
    line = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(head) - 2)] + b"\r\n"
    return head + body


def send_all(
    port: int, payloads: list[bytes], *, concurrency: int, reuse: bool = False
) -> dict[int, float]:
    """Send every payload to bench@bench.test on 127.0.0.1:`port` from `concurrency` smtplib
    threads, one SMTP session per message unless `reuse`; returns when each was accepted
    (time.perf_counter() after its 250), by index."""
    accepted_at: dict[int, float] = {}
    lock = threading.Lock()

    def send(indices: list[int]) -> None:
        client: smtplib.SMTP | None = None
        for i in indices:
            if client is None or not reuse:
                client = smtplib.SMTP("127.0.0.1", port, timeout=60)
            client.sendmail("load@sender.example", ["bench@bench.test"], payloads[i])
            with lock:
                accepted_at[i] = time.perf_counter()
            if not reuse:
                client.quit()
                client = None
        if client is not None:
            client.quit()

    chunks = [list(range(c, len(payloads), concurrency)) for c in range(concurrency)]
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, chunks))
    return accepted_at


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--reuse", action="store_true", help="send many messages per SMTP session")
    ap.add_argument("--worker-concurrency", type=int, default=2)
    ap.add_argument("--worker-pool", default="prefork", choices=["prefork", "threads", "solo"])
    ap.add_argument(
        "--accept-only",
        action="store_true",
        help="run without the delivery worker: measures the SMTP side alone",
    )
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    args = ap.parse_args()

    stack = start_stack(
        worker_concurrency=args.worker_concurrency,
        worker_pool=args.worker_pool,
        skip=("worker", "beat") if args.accept_only else (),
    )
    try:
        stack.manage("domain", "add", "bench.test")
        stack.manage(
            "account", "add", "bench@bench.test", "--password-stdin", stdin=b"bench-password\n"
        )
        api = Api(stack.web_port)
        api.login("bench@bench.test", "bench-password")
        inbox = api.inbox_id()
        payloads = [message(i, args.size) for i in range(args.messages)]
        accepted_at: dict[int, float] = {}
        visible_at: dict[int, float] = {}
        stop = threading.Event()

        samples: list[tuple[float, int]] = []

        def poll() -> None:
            # Cheap probe (the folder counts), so the poller does not eat the CPU it measures;
            # which message became visible when is worked out from UIDs afterwards.
            poller = Api(stack.web_port)
            poller.token = api.token
            while not stop.is_set():
                _, body = poller.call("GET", "/api/v1/folders")
                total = next(f["total"] for f in body["results"] if f["id"] == inbox)  # type: ignore[index]
                samples.append((time.perf_counter(), total))
                if total >= args.messages:
                    return
                time.sleep(0.05)

        poller = threading.Thread(target=poll, daemon=True)
        if not args.accept_only:
            poller.start()
        t0 = time.perf_counter()
        accepted_at.update(
            send_all(stack.smtp_port, payloads, concurrency=args.concurrency, reuse=args.reuse)
        )
        t_accept = time.perf_counter() - t0
        if args.accept_only:
            print(f"machine: {machine()}")
            print(
                f"ingest (accept only, no worker): {args.messages} msgs x {args.size} B, "
                f"concurrency {args.concurrency}"
            )
            print(f"  accepted: {args.messages / t_accept:8.1f} msgs/s ({t_accept:.2f} s)")
            return
        poller.join(args.timeout)
        stop.set()
        cursor = ""
        while True:  # uid → message number, from the listing
            _, page = api.call("GET", f"/api/v1/folders/{inbox}/messages?limit=200{cursor}")
            for item in page["results"]:  # type: ignore[index]
                n = int(item["subject"].rsplit(" ", 1)[1])
                uid = item["uid"]
                seen = next((t for t, total in samples if total >= uid), None)
                if seen is not None:
                    visible_at[n] = seen
            if not page["next_cursor"]:  # type: ignore[index]
                break
            cursor = f"&cursor={page['next_cursor']}"  # type: ignore[index]
        t_visible = max(visible_at.values()) - t0 if visible_at else float("nan")
        latencies = [visible_at[i] - accepted_at[i] for i in visible_at if i in accepted_at]
        print(f"machine: {machine()}")
        print(
            f"ingest: {args.messages} msgs x {args.size} B, concurrency {args.concurrency}, "
            f"{'reused sessions' if args.reuse else 'one session per message'}, "
            f"worker {args.worker_pool} x{args.worker_concurrency}"
        )
        print(f"  accepted: {args.messages / t_accept:8.1f} msgs/s ({t_accept:.2f} s)")
        print(
            f"  visible:  {len(visible_at) / t_visible:8.1f} msgs/s end to end "
            f"({len(visible_at)}/{args.messages} in {t_visible:.2f} s)"
        )
        print(
            f"  accept→visible: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
