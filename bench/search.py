#!/usr/bin/env python
"""Search benchmark (issue 18): one account with N messages of mixed Korean and English text,
indexed as delivery indexes them (rows, body texts and search entries bulk-inserted with the
keys mailcore.search computes; search never reads Maildir files). Then the p50/p95 of
mailcore.store.queries.search_messages for the first page (50) of each query of the issue:
a rare Korean two-syllable word, a word with a particle, a common word, an English prefix,
two terms, a rare phrase of very common bigrams (the worst case), and each with a filter
(from:, has:attachment, a date range). On PostgreSQL, EXPLAIN ANALYZE of the index queries;
index size per message on both. Use a fresh, empty database each run:

    psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS mailroom_bench_search" \
        -c "CREATE DATABASE mailroom_bench_search"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench_search \
        .venv/bin/python bench/search.py --messages 100000
    env -u DATABASE_URL .venv/bin/python bench/search.py --messages 100000   # SQLite
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = [
    "meeting",
    "invoice",
    "budget",
    "report",
    "schedule",
    "project",
    "review",
    "contract",
    "delivery",
    "update",
    "견적서를",
    "회의록은",
    "일정이",
    "보고서를",
    "계약서",
    "납품",
    "검토",
    "요청드립니다",
    "확인",
    "부탁드립니다",
    "감사합니다",
    "서류",
    "회의를",
    "회의실",
    "mailbox",
]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--body-words", type=int, default=60, help="words per body")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="query a database an earlier run seeded (same --messages) instead of seeding",
    )
    args = ap.parse_args()

    os.environ.setdefault("MAILROOM_VAR", tempfile.mkdtemp(prefix="mailroom-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from bench.stack import machine
    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.search.backend import get_backend
    from mailcore.search.fields import key_hash
    from mailcore.search.text import term_keys
    from mailcore.store.models import Folder, Message, MessageSearch, MessageText
    from mailcore.store.queries import search_messages

    call_command("migrate", verbosity=0)
    if args.reuse:
        from mailcore.directory.models import Account

        account = Account.objects.get(address="a@p.test")
    else:
        do_create_domain("p.test")
        account = do_create_account("a@p.test", password="bench-password")
    inbox = Folder.objects.get(account=account, special_use="inbox")
    backend = get_backend()
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rare_every = max(args.messages // 8, 1)  # 결재 (rare): about 8 messages
    t0 = time.perf_counter()
    for base in range(0, 0 if args.reuse else args.messages, 1000):
        rows, texts = [], []
        for i in range(base, min(base + 1000, args.messages)):
            body = " ".join(rng.choice(WORDS) for _ in range(args.body_words))
            if i % rare_every == rare_every // 2:
                body += " 결재 부탁드립니다"
            rows.append(
                Message(
                    account=account,
                    folder=inbox,
                    uid=i + 1,
                    maildir_key=f"bench-{i}",
                    size=len(body),
                    internal_date=start + timedelta(minutes=i),
                    subject=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}",
                    from_name=f"Sender {i % 97}",
                    from_addr=f"s{i % 97}@sender.example",
                    to_addrs=[["A", "a@p.test"], [f"Peer {i % 13}", f"peer{i % 13}@corp.test"]],
                    has_attachments=i % 10 == 0,
                    seen=i % 3 != 0,
                )
            )
            texts.append(body)
        with transaction.atomic():
            Message.objects.bulk_create(rows)
            MessageText.objects.bulk_create(
                [MessageText(message=m, text=t) for m, t in zip(rows, texts, strict=True)]
            )
            MessageSearch.objects.bulk_create(
                [
                    backend.index_entry(m, t, "report.pdf" if m.has_attachments else "")
                    for m, t in zip(rows, texts, strict=True)
                ]
            )
    seeded = time.perf_counter() - t0
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE store_messagesearch")
            c.execute("VACUUM ANALYZE store_message")
    print(f"machine: {machine()}  database: {connection.vendor}")
    print(f"seeded {args.messages} messages, ~{args.body_words}-word bodies, in {seeded:.0f} s")
    print(f"index size: {index_bytes(connection) / args.messages:.0f} bytes per message")

    def timings(q: str) -> tuple[float, float, int]:
        times, n = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            n = len(search_messages(account, q, limit=51))
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))], n

    mid = (start + timedelta(minutes=args.messages // 2)).date()
    later = mid + timedelta(days=7)
    queries = {
        "rare Korean 2-syllable word": "결재",
        "word with a particle": "회의를",
        "common word": "invoice",
        "English prefix": "invo",
        "two terms": "budget 견적서",
        "rare phrase of common bigrams (worst)": "적서류",
    }
    filters = {
        "": "",
        "from:": "from:s13@sender",
        "has:attachment": "has:attachment",
        "date range": f"after:{mid} before:{later}",
    }
    print(f"{'query':48} {'filter':16} {'p50 ms':>8} {'p95 ms':>8} {'hits':>5}")
    for label, q in queries.items():
        for flabel, f in filters.items():
            p50, p95, n = timings(f"{q} {f}".strip())
            print(f"{label + ' ' + repr(q):48} {flabel:16} {p50:8.1f} {p95:8.1f} {n:5}")
    if connection.vendor == "postgresql":
        for q in ("결재", "invoice", "적서류"):
            hashes = sorted({key_hash(k) for k in term_keys(q, cjk_trigrams=True)})
            with connection.cursor() as c:
                c.execute(
                    "EXPLAIN (ANALYZE, COSTS OFF) WITH c AS MATERIALIZED (SELECT message_id"
                    " FROM store_messagesearch WHERE account_id = %s AND keys @> %s::integer[]"
                    " AND message_id < %s) SELECT message_id FROM c ORDER BY message_id DESC",
                    [account.pk, hashes, 1 << 62],
                )
                print(f"EXPLAIN ANALYZE (index part) for {q!r}:")
                for (line,) in c.fetchall():
                    print("   ", line)


def index_bytes(connection: object) -> int:
    """Bytes of the search index: on PostgreSQL the side table with its TOAST and indexes,
    on SQLite the FTS5 shadow tables and the side table (dbstat)."""
    from django.db import connection as conn

    with conn.cursor() as c:
        if conn.vendor == "postgresql":
            c.execute("SELECT pg_total_relation_size('store_messagesearch')")
            return int(c.fetchone()[0])
        try:
            c.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'store_search_fts%'"
                " OR name LIKE 'store_messagesearch%' OR name = 'messagesearch_recent'"
            )
            return int(c.fetchone()[0] or 0)
        except Exception:
            return 0


if __name__ == "__main__":
    main()
