#!/usr/bin/env python
"""Search benchmark: one account with N indexed messages (rows and body texts bulk-inserted;
search never reads Maildir files), then the median time of mailcore.store.queries.search_messages
for a first page (50) of a common word, a rare word (every row must be looked at), two words,
a Korean word inside longer words, a recipient, and list_contacts. In-process: the query cost
without HTTP. Use a fresh, empty database each run:

    psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS mailroom_bench" \
        -c "CREATE DATABASE mailroom_bench"
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \
        .venv/bin/python bench/search.py --messages 20000
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
]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--body-words", type=int, default=300, help="words per body (~2 KB)")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    os.environ.setdefault("MAILROOM_VAR", tempfile.mkdtemp(prefix="mailroom-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from bench.stack import machine
    from mailcore.directory.actions import do_create_account, do_create_domain
    from mailcore.store.models import Folder, Message, MessageText
    from mailcore.store.queries import list_contacts, search_messages

    call_command("migrate", verbosity=0)
    do_create_domain("p.test")
    account = do_create_account("a@p.test", password="bench-password")
    inbox = Folder.objects.get(account=account, special_use="inbox")
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    for base in range(0, args.messages, 1000):
        rows, texts = [], []
        for i in range(base, min(base + 1000, args.messages)):
            body = " ".join(rng.choice(WORDS) for _ in range(args.body_words))
            if i == args.messages // 2:
                body += " zyzzyva"  # the rare word: one message has it
            rows.append(
                Message(
                    account=account,
                    folder=inbox,
                    uid=i + 1,
                    maildir_key=f"bench-{i}",
                    size=len(body),
                    internal_date=start + timedelta(minutes=i),
                    subject=f"{rng.choice(WORDS)} {i}",
                    from_name=f"Sender {i % 97}",
                    from_addr=f"s{i % 97}@sender.example",
                    to_addrs=[["A", "a@p.test"], [f"Peer {i % 13}", f"peer{i % 13}@corp.test"]],
                )
            )
            texts.append(body)
        with transaction.atomic():
            Message.objects.bulk_create(rows)
            MessageText.objects.bulk_create(
                [MessageText(message=m, text=t) for m, t in zip(rows, texts, strict=True)]
            )
    seeded = time.perf_counter() - t0
    print(f"machine: {machine()}")
    print(f"seeded {args.messages} messages with ~{args.body_words}-word bodies in {seeded:.0f} s")

    def median_ms(run: object) -> float:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            run()  # type: ignore[operator]
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)

    cases = {
        "common word, first page": "invoice",
        "rare word (whole mailbox)": "zyzzyva",
        "two words": "budget 견적서",
        "Korean inside words (견적서 in 견적서를)": "견적서",
        "recipient name": "peer 7",
        "no match": "nothing-like-this",
    }
    for label, q in cases.items():
        ms = median_ms(lambda q=q: search_messages(account, q, limit=51))
        print(f"search {label!r} q={q!r}: {ms:.1f} ms")
    print(f"contacts q='peer': {median_ms(lambda: list_contacts(account, 'peer')):.1f} ms")


if __name__ == "__main__":
    main()
