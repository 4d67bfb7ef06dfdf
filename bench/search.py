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
import json
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
    ap.add_argument("--seed-only", action="store_true", help="seed, print the size, stop")
    args = ap.parse_args()

    os.environ.setdefault("MAILROOM_VAR", tempfile.mkdtemp(prefix="mailroom-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.stack import machine
    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.search.fields import key_hash
    from mailcore.search.text import term_keys
    from mailcore.store.models import Folder
    from mailcore.store.queries import search_messages

    call_command("migrate", verbosity=0)
    if args.reuse:
        from mailcore.directory.models import Account

        account = Account.objects.get(address="a@p.test")
    else:
        do_create_domain("p.test")
        account = do_create_account("a@p.test", password="bench-password")
    inbox = Folder.objects.get(account=account, special_use="inbox")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    if not args.reuse:
        seed(account, inbox, args.messages, args.body_words, start)
    seeded = time.perf_counter() - t0
    print(f"machine: {machine()}  database: {connection.vendor}")
    print(f"seeded {args.messages} messages, ~{args.body_words}-word bodies, in {seeded:.0f} s")
    print(f"index size: {index_bytes(connection) / args.messages:.0f} bytes per message")
    if args.seed_only:
        return

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


# --- seeding ------------------------------------------------------------------------------
#
# A million messages through delivery takes hours; this writes the rows the search reads
# directly, in bulk: the listing row, the stored (folded) body text and the index entry with
# the keys the backend computes for exactly that text (SearchBackend.entry_for, the function
# delivery calls). PostgreSQL: COPY, with the GIN index built once after the load; SQLite:
# executemany in large transactions, the FTS5 table fed by its insert trigger as in delivery.
# No Maildir files: search never reads them.

SEED_CHUNK = 20_000


def synthetic(i: int, n: int, rng: random.Random, body_words: int, start: datetime) -> dict:
    """The fields of bench message i of n (deterministic for a given rng state)."""
    rare_every = max(n // 8, 1)  # 결재 (rare): about 8 messages
    body = " ".join(rng.choice(WORDS) for _ in range(body_words))
    if i % rare_every == rare_every // 2:
        body += " 결재 부탁드립니다"
    has_att = i % 10 == 0
    return {
        "body": body,
        "subject": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}",
        "from_name": f"Sender {i % 97}",
        "from_addr": f"s{i % 97}@sender.example",
        "to_addrs": [["A", "a@p.test"], [f"Peer {i % 13}", f"peer{i % 13}@corp.test"]],
        "has_attachments": has_att,
        "filenames": "report.pdf" if has_att else "",
        "internal_date": start + timedelta(minutes=i),
        "seen": i % 3 != 0,
    }


def seed(account: object, inbox: object, n: int, body_words: int, start: datetime) -> None:
    """Insert n messages into `inbox` of `account`, newest last (ids grow with arrival)."""
    from django.db import connection

    from mailcore.mime import fold
    from mailcore.search.backend import get_backend
    from mailcore.search.text import folded_fields
    from mailcore.store.models import Message, MessageSearch

    backend = get_backend()
    keys_field = MessageSearch._meta.get_field("keys")
    columns = [f.column for f in Message._meta.concrete_fields]
    defaults = {f.column: f.get_default() for f in Message._meta.concrete_fields if f.has_default()}
    with connection.cursor() as c:
        c.execute("SELECT coalesce(max(id), 0) FROM store_message")
        first_id = int(c.fetchone()[0]) + 1
    rng = random.Random(7)
    pg = connection.vendor == "postgresql"
    with connection.cursor() as c:
        if pg:
            c.execute("DROP INDEX IF EXISTS messagesearch_keys")
        else:
            c.execute("PRAGMA synchronous=OFF")  # a bench database: a crash means reseeding
    done, t0 = 0, time.perf_counter()
    for base in range(0, n, SEED_CHUNK):
        messages, texts, entries = [], [], []
        for i in range(base, min(base + SEED_CHUNK, n)):
            m = synthetic(i, n, rng, body_words, start)
            pk = first_id + i
            body = fold(m["body"])
            row = dict(defaults)
            row.update(
                id=pk,
                account_id=account.pk,
                folder_id=inbox.pk,
                uid=i + 1,
                maildir_key=f"bench-{i}",
                in_cur=False,
                info="",
                size=len(m["body"]) + 400,
                internal_date=m["internal_date"],
                seen=m["seen"],
                answered=False,
                flagged=False,
                deleted=False,
                draft=False,
                subject=m["subject"],
                from_name=m["from_name"],
                from_addr=m["from_addr"],
                to_addrs=json.dumps(m["to_addrs"]),
                keywords="[]",
                cc_addrs="[]",
                sent_date=None,
                has_attachments=m["has_attachments"],
            )
            messages.append(tuple(row[col] for col in columns))
            texts.append((pk, body))
            fields = folded_fields(
                m["subject"], m["from_name"], m["from_addr"], m["to_addrs"], body, m["filenames"]
            )
            entry = backend.entry_for(
                account.pk,
                fields,
                m["filenames"],
                m["internal_date"],
                has_attachments=m["has_attachments"],
            )
            keys = keys_field.get_db_prep_value(entry.keys, connection)
            entries.append((pk, account.pk, m["filenames"], keys))
        (_copy_pg if pg else _insert_sqlite)(columns, messages, texts, entries)
        done += len(messages)
        rate = done / (time.perf_counter() - t0)
        print(f"  seeded {done}/{n} ({rate:.0f} msg/s)", file=sys.stderr, flush=True)
    with connection.cursor() as c:
        if pg:
            t = time.perf_counter()
            c.execute("SET maintenance_work_mem = '1GB'")
            c.execute(
                "CREATE INDEX messagesearch_keys ON store_messagesearch"
                " USING gin (account_id, keys)"
            )
            print(f"  GIN index built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            c.execute(
                "SELECT setval(pg_get_serial_sequence('store_message', 'id'),"
                " (SELECT max(id) FROM store_message))"
            )
            c.execute("VACUUM ANALYZE store_messagesearch")
            c.execute("VACUUM ANALYZE store_message")
            c.execute("VACUUM ANALYZE store_messagetext")
        else:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            c.execute("ANALYZE")


def _copy_pg(columns: list[str], messages: list, texts: list, entries: list) -> None:
    from django.db import connection, transaction

    quoted = ", ".join(f'"{c}"' for c in columns)
    with transaction.atomic():
        raw = connection.connection
        with raw.cursor() as cur:
            for sql, rows in (
                (f"COPY store_message ({quoted}) FROM STDIN", messages),
                ("COPY store_messagetext (message_id, text) FROM STDIN", texts),
                (
                    "COPY store_messagesearch (message_id, account_id, filenames, keys) FROM STDIN",
                    entries,
                ),
            ):
                with cur.copy(sql) as copy:
                    for r in rows:
                        copy.write_row(r)


def _insert_sqlite(columns: list[str], messages: list, texts: list, entries: list) -> None:
    from django.db import connection, transaction

    marks = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    raw = connection.connection
    with transaction.atomic():
        raw.executemany(f"INSERT INTO store_message ({quoted}) VALUES ({marks})", messages)
        raw.executemany("INSERT INTO store_messagetext (message_id, text) VALUES (?, ?)", texts)
        # The FTS5 table is fed by the insert trigger, as in delivery.
        raw.executemany(
            "INSERT INTO store_messagesearch (message_id, account_id, filenames, keys)"
            " VALUES (?, ?, ?, ?)",
            entries,
        )


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
