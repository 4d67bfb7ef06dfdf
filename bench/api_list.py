#!/usr/bin/env python
"""List-page benchmark: one account with N messages (seeded through the Maildir module and a
bulk insert, bypassing SMTP), then p50/p99 over real HTTP of the first page of the folder, of a
page 50,000 messages deep, and of the folder list with its counts; the same two pages grouped
by conversation (group=conversation); the cases interleaved, one request of each per round.
The seeded mail is threads of 4 (a root and three replies naming it in References, ten
threads interleaved in every 40 messages); their
conversation keys are computed by rebuild_conversations, the migration's backfill, timed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
        .venv/bin/python bench/api_list.py --messages 100000 --requests 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import Api, machine, percentile, start_stack


def seed(var: Path, address: str, count: int) -> int:
    """Write `count` real Maildir files and their rows; returns the inbox's uidvalidity."""
    os.environ["MAILROOM_VAR"] = str(var)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.conf import settings

    from mailcore.directory.models import Account
    from mailcore.store.maildir import new_key
    from mailcore.store.models import Folder, Message
    from mailcore.store.queries import maildir_for

    account = Account.objects.get(address=address)
    inbox = Folder.objects.get(account=account, special_use="inbox")
    md = maildir_for(account)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows: list[Message] = []
    mapping: dict[str, int] = {}
    t0 = time.perf_counter()
    for i in range(count):
        thread = (i // 40) * 10 + i % 10
        root = (i // 40) * 40 + i % 10  # the first message of its thread
        subject = f"seeded {thread}" if i == root else f"Re: seeded {thread}"
        refs = "" if i == root else f"<seed-{root}@sender.example>"
        data = (
            f"From: Sender {i % 97} <s{i % 97}@sender.example>\r\nTo: {address}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <seed-{i}@sender.example>\r\n"
            + (f"References: {refs}\r\nIn-Reply-To: {refs}\r\n" if refs else "")
            + f"\r\nBody of message {i}, a little text to make a snippet.\r\n"
        ).encode()
        key = new_key(settings.MAIL_HOSTNAME, len(data))
        when = start + timedelta(minutes=i)
        md.deliver("", key, data, mtime=when.timestamp())
        uid = i + 1
        mapping[key] = uid
        rows.append(
            Message(
                account=account,
                folder=inbox,
                uid=uid,
                maildir_key=key,
                size=len(data),
                internal_date=when,
                modseq=uid,
                seen=i % 3 == 0,
                subject=subject,
                message_id=f"seed-{i}@sender.example",
                in_reply_to=refs.strip("<>"),
                references=refs.strip("<>"),
                from_name=f"Sender {i % 97}",
                from_addr=f"s{i % 97}@sender.example",
                to_addrs=[["", address]],
                sent_date=when,
                snippet=f"Body of message {i}, a little text to make a snippet.",
            )
        )
        if len(rows) >= 5000:
            Message.objects.bulk_create(rows)
            rows.clear()
    if rows:
        Message.objects.bulk_create(rows)
    md.rewrite_uidlist("", inbox.uidvalidity, mapping)
    Folder.objects.filter(pk=inbox.pk).update(
        uidnext=count + 1,
        highestmodseq=count + 1,
        message_count=count,
        unseen_count=sum(1 for i in range(count) if i % 3 != 0),
    )
    print(f"  seeded {count} messages in {time.perf_counter() - t0:.1f} s")
    from mailcore.store.conversation import rebuild_conversations

    t1 = time.perf_counter()
    changed = rebuild_conversations(Message, Account, account_ids=[account.pk])
    print(
        f"  conversation keys of {changed} messages (the migration's backfill) in "
        f"{time.perf_counter() - t1:.1f} s"
    )
    from django.db import connection

    with connection.cursor() as cursor:  # what autovacuum would do after such a bulk load
        cursor.execute("ANALYZE")
    return inbox.uidvalidity


def timed(api: Api, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = api.call("GET", path)
        out.append(time.perf_counter() - t)
        assert status == 200, (status, path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--page-size", type=int, default=50)
    args = ap.parse_args()

    stack = start_stack()
    try:
        stack.manage("domain", "add", "bench.test")
        stack.manage(
            "account", "add", "big@bench.test", "--password-stdin", stdin=b"bench-password\n"
        )
        print(f"machine: {machine()}")
        uidvalidity = seed(stack.var, "big@bench.test", args.messages)
        from webmail.api.pagination import encode_cursor

        api = Api(stack.web_port)
        api.login("big@bench.test", "bench-password")
        inbox = api.inbox_id()
        base = f"/api/v1/folders/{inbox}/messages?limit={args.page_size}"
        deep = encode_cursor(uidvalidity, max(1, args.messages - 50_000))
        timed(api, base, 20)  # warm caches and connections
        cases = {
            "first page": base,
            "page 50,000 deep": f"{base}&cursor={deep}",
            "folder list + counts": "/api/v1/folders",
            "grouped first page": f"{base}&group=conversation",
            "grouped 50,000 deep": f"{base}&group=conversation&cursor={deep}",
        }
        print(
            f"api_list: {args.messages} messages, page size {args.page_size}, "
            f"{args.requests} requests each, keep-alive HTTP to gunicorn"
        )
        # Interleaved (one request of each case per round), so the plain and grouped figures
        # share the same moments of a shared machine's load and their ratio means something.
        lats: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.requests):
            for name, path in cases.items():
                lats[name].extend(timed(api, path, 1))
        for name, lat in lats.items():
            print(
                f"  {name:<22} p50 {percentile(lat, 50) * 1000:6.1f} ms   "
                f"p99 {percentile(lat, 99) * 1000:6.1f} ms"
            )
        plain, grouped = lats["first page"], lats["grouped first page"]
        print(
            "  grouped/plain first page p50 ratio "
            f"{percentile(grouped, 50) / percentile(plain, 50):.2f}"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
