#!/usr/bin/env python
"""Ingest benchmark: N messages of S bytes over SMTP at concurrency C into a freshly started
stack; prints accepted msgs/s (every message fsynced and queued before its 250) and the time
until each message is readable through the REST API (p50/p99 accept→visible).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
    REDIS_URL=redis://127.0.0.1:6379/13 \
        .venv/bin/python bench/ingest.py --messages 3000 --size 4096 --concurrency 10

--auth switches the sender checks on (mailcore.inbound; rspamd stays off): every message is
DKIM-signed by sender.example with RSA-2048 and ed25519, and a loopback DNS server publishes
its SPF, DKIM and DMARC records, so each delivery does SPF + 2 DKIM + DMARC as in production.
Without it the checks are off (INBOUND_AUTH=0): run both side by side for their cost.
--checks-only times the checks alone, in this process (no stack, no database): the worker
CPU each message costs, with the resolver's cache warm as for a sender seen before.
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import Api, machine, percentile, start_stack

SIGNER = "sender.example"


def auth_dns() -> tuple[int, list[Any], list[tuple[bytes, bytes, bytes]]]:
    """A loopback DNS server publishing sender.example's SPF (127.0.0.1), DMARC (p=reject)
    and two DKIM keys; returns its port, the servers (to stop) and the signing keys."""
    import base64

    import nacl.encoding
    import nacl.signing
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from dnslib.server import DNSServer

    from tests.outbound.conftest import Zone, free_port_everywhere

    zone = Zone()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    rsa_pub = base64.b64encode(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    ed = nacl.signing.SigningKey.generate()
    ed_priv = ed.encode(encoder=nacl.encoding.Base64Encoder)
    ed_pub = ed.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode()
    zone.add(f"rsa._domainkey.{SIGNER}", "TXT", f"v=DKIM1; k=rsa; p={rsa_pub}")
    zone.add(f"ed._domainkey.{SIGNER}", "TXT", f"v=DKIM1; k=ed25519; p={ed_pub}")
    zone.add(SIGNER, "TXT", "v=spf1 ip4:127.0.0.1 -all")
    zone.add(f"_dmarc.{SIGNER}", "TXT", "v=DMARC1; p=reject")
    port = free_port_everywhere(("127.0.0.1",))
    servers = [
        DNSServer(zone, port=port, address="127.0.0.1", tcp=tcp, logger=_Quiet())
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    keys = [(b"rsa", rsa_pem, b"rsa-sha256"), (b"ed", ed_priv, b"ed25519-sha256")]
    return port, servers, keys


class _Quiet:
    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


def checks_only(payloads: list[bytes], port: int) -> None:
    """Time mailcore.inbound's checks (SPF, both DKIM signatures, ARC, DMARC) per message."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.conf import settings

    from mailcore.delivery.models import QueueEntry
    from mailcore.inbound import _examine

    settings.RELAY_NAMESERVERS = f"127.0.0.1:{port}"
    settings.INBOUND_AUTH = True
    settings.RSPAMD_URL = ""
    entry = QueueEntry(queue_id="bench", sender="load@sender.example", client_ip="127.0.0.1")
    entry.client_helo = "bench.example"
    first = _examine(entry, payloads[0])  # warms the cache; must pass, or the figure lies
    assert (first.spf, first.dkim, first.dmarc) == ("pass", "pass", "pass"), first
    t0, c0 = time.perf_counter(), time.process_time()
    for data in payloads:
        _examine(entry, data)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(payloads)
    print(f"machine: {machine()}")
    print(f"sender checks alone: {n} signed msgs x {len(payloads[0])} B")
    print(f"  wall {took / n * 1000:.2f} ms per message ({n / took:.0f}/s)")
    # CPU time is what a worker spends; on a loaded machine wall time also counts waiting.
    print(f"  CPU  {cpu / n * 1000:.2f} ms per message ({n / cpu:.0f}/s per core)")


def signed(data: bytes, keys: list[tuple[bytes, bytes, bytes]]) -> bytes:
    import dkim

    out = b""
    for selector, key, algorithm in keys:
        out += dkim.sign(
            data,
            selector,
            SIGNER.encode(),
            key,
            signature_algorithm=algorithm,
            include_headers=[b"from", b"to", b"subject", b"message-id"],
        )
    return out + data


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
    ap.add_argument("--auth", action="store_true", help="SPF/DKIM/DMARC checks on (see above)")
    ap.add_argument("--checks-only", action="store_true", help="time the checks alone")
    args = ap.parse_args()
    if args.checks_only:
        port, servers, signing = auth_dns()
        try:
            checks_only(
                [signed(message(i, args.size), signing) for i in range(args.messages)], port
            )
        finally:
            for server in servers:
                server.stop()
        return

    env = {"INBOUND_AUTH": "0"}
    dns_servers: list[Any] = []
    keys: list[tuple[bytes, bytes, bytes]] = []
    if args.auth:
        port, dns_servers, keys = auth_dns()
        env = {"INBOUND_AUTH": "1", "RELAY_NAMESERVERS": f"127.0.0.1:{port}"}
    stack = start_stack(
        worker_concurrency=args.worker_concurrency,
        worker_pool=args.worker_pool,
        skip=("worker", "beat") if args.accept_only else (),
        extra_env=env,
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
        if args.auth:
            payloads = [signed(p, keys) for p in payloads]
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
            f"worker {args.worker_pool} x{args.worker_concurrency}, "
            f"sender checks {'on (SPF, DKIM RSA+ed25519, DMARC)' if args.auth else 'off'}"
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
        for server in dns_servers:
            server.stop()


if __name__ == "__main__":
    main()
