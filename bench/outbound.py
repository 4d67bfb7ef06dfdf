#!/usr/bin/env python
"""Outbound benchmark: N messages queued for a remote domain whose MX (served by an in-process
DNS server) is an aiosmtpd sink on 127.0.0.2; the stack's worker looks up the MX and relays.
Prints delivered msgs/s and queue latency (enqueue → bytes at the sink, p50/p99).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/outbound.py --messages 1000 --size 4096
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from dnslib import RR
from dnslib.server import BaseResolver, DNSServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import machine, percentile, start_stack

SINK_IP = "127.0.0.2"


class Zone(BaseResolver):
    def __init__(self) -> None:
        self.rrs = [
            *RR.fromZone("sink.test. 60 MX 10 mx.sink.test."),
            *RR.fromZone(f"mx.sink.test. 60 A {SINK_IP}"),
        ]

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        for rr in self.rrs:
            if rr.rname == request.q.qname and rr.rtype == request.q.qtype:
                reply.add_answer(rr)
        return reply


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


class Sink:
    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.startswith(b"Subject: outbound "):
                with self.lock:
                    self.arrived[int(line.rsplit(b" ", 1)[1])] = time.time()
        return "250 2.0.0 ok"


def free_port(host: str, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


ENQUEUE = """
import json, time
from mailcore.delivery.actions import do_enqueue
from mailcore.delivery.doorbell import doorbell
line = b"The quick brown fox jumps over the lazy dog 0123456789.\\r\\n"
times = {}
for i in range(N):
    head = (f"From: bench@bench.test\\r\\nTo: r{i % 50}@sink.test\\r\\nSubject: outbound {i}\\r\\n"
            f"Message-ID: <out-{i}@bench.test>\\r\\n\\r\\n").encode()
    body = (line * (SIZE // len(line) + 1))[: max(0, SIZE - len(head))]
    times[i] = time.time()
    do_enqueue(sender="bench@bench.test", recipients=[f"r{i % 50}@sink.test"], data=head + body,
               direction="out")
doorbell.flush(60)
print(json.dumps(times))
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--worker-concurrency", type=int, default=2)
    ap.add_argument("--worker-pool", default="prefork", choices=["prefork", "threads", "solo"])
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    dns_port = free_port("127.0.0.1", socket.SOCK_DGRAM)
    dns = DNSServer(Zone(), port=dns_port, address="127.0.0.1", logger=_Quiet())
    dns.start_thread()
    smtp_port = free_port(SINK_IP)
    sink = Sink()
    controller = Controller(sink, hostname=SINK_IP, port=smtp_port)
    controller.start()
    stack = start_stack(
        worker_concurrency=args.worker_concurrency,
        worker_pool=args.worker_pool,
        extra_env={
            "RELAY_NAMESERVERS": f"127.0.0.1:{dns_port}",
            "RELAY_SMTP_PORT": str(smtp_port),
            "RELAY_ALLOW_PRIVATE_TARGETS": "true",
        },
    )
    try:
        code = f"N = {args.messages}\nSIZE = {args.size}\n" + ENQUEUE
        t0 = time.time()
        queued = {
            int(k): v
            for k, v in json.loads(
                stack.manage("shell", "-c", code).strip().splitlines()[-1]
            ).items()
        }
        t_enqueue = time.time() - t0
        deadline = time.monotonic() + args.timeout
        while len(sink.arrived) < args.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        done = dict(sink.arrived)
        elapsed = max(done.values()) - t0 if done else float("nan")
        latencies = [done[i] - queued[i] for i in done if i in queued]
        print(f"machine: {machine()}")
        print(
            f"outbound: {args.messages} msgs x {args.size} B to one remote MX on {SINK_IP}, "
            f"worker {args.worker_pool} x{args.worker_concurrency}"
        )
        print(
            f"  enqueued:  {args.messages / t_enqueue:8.1f} msgs/s ({t_enqueue:.2f} s, one process)"
        )
        print(
            f"  delivered: {len(done) / elapsed:8.1f} msgs/s end to end "
            f"({len(done)}/{args.messages} in {elapsed:.2f} s)"
        )
        print(
            f"  enqueue→sink: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms"
        )
    finally:
        stack.stop()
        controller.stop()
        dns.stop()


if __name__ == "__main__":
    main()
