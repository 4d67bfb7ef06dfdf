"""The scale-out run (issue 15 item 8): two SMTP processes on one port (SO_REUSEPORT), two
Celery workers, two web processes (gunicorn, one port each) and one beat, as separate OS
processes against one PostgreSQL and one Redis. While several SMTP clients send a load, one
process of each kind is killed with SIGKILL and none is restarted:

- smtp1, while it holds open sessions: they break before their 250; the clients send those
  messages again, and the kernel gives every new connection to smtp2;
- worker1, hung at its third Maildir write (MAILROOM_FAULT=deliver.after_file@3:hang: files
  written, nothing committed, its leases held): beat's sweep sees its process gone and frees
  its leases long before they expire (DELIVERY_LEASE_SECONDS stays 300), worker2 delivers
  them, and the files already written are taken over, not written twice;
- web1: web2 answers every request throughout.

Then every message that got its 250 is in the mailbox exactly once (database rows, Maildir files
and the REST API through web2 agree), no queue entry or attempt is left open, and the dead
worker's row is gone. A message whose try broke after its data went out may be there twice —
RFC 1047's window, which every SMTP server has — and only such a message; the test counts them.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bench.stack import free_port
from mailcore.delivery.models import DeliveryAttempt, DeliveryWorker, EntryState, QueueEntry
from mailcore.directory.actions import do_create_account, do_create_domain
from mailcore.store.models import Message
from mailcore.store.queries import get_folder_by_special_use
from tests.cluster import (
    Cluster,
    http_status,
    maildir_message_ids,
    message,
    run_load,
    tcp_sockets,
    wait_until,
)
from tests.conftest import database_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not django_settings.REDIS_URL,
        reason="the scale-out run needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): "
        "SQLite and the filesystem broker are one-machine, one-writer stores",
    ),
    pytest.mark.timeout(600),
]
MESSAGES = 600
CLIENTS = 8
PER_SESSION = 5
TAG = "scaleout"


def registered(pid: int) -> bool:
    return DeliveryWorker.objects.filter(pid=pid, host_key__gt="").exists()


def open_attempts(pid: int) -> list[DeliveryAttempt]:
    return list(
        DeliveryAttempt.objects.filter(
            worker__in=DeliveryWorker.objects.filter(pid=pid).values("name"),
            finished_at__isnull=True,
        )
    )


def api_subjects(port: int, token: str, inbox: int) -> Counter[str]:
    from bench.stack import Api

    api = Api(port)
    api.token = token
    found: Counter[str] = Counter()
    cursor = ""
    try:
        while True:
            status, page = api.call("GET", f"/api/v1/folders/{inbox}/messages?limit=200{cursor}")
            assert status == 200, page
            found.update(item["subject"] for item in page["results"])  # type: ignore[index]
            if not page["next_cursor"]:  # type: ignore[index]
                return found
            cursor = f"&cursor={page['next_cursor']}"  # type: ignore[index]
    finally:
        api.conn.close()


def test_two_of_each_lose_one_of_each_mid_load_nothing_lost_nothing_doubled(
    settings, tmp_path: Path
) -> None:
    do_create_domain("scaleout.test")
    account = do_create_account("load@scaleout.test", password="correct horse 1")
    token = Token.objects.create(user=account).key
    inbox = get_folder_by_special_use(account, "inbox").pk
    smtp_port, web1_port, web2_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "SPOOL_DIR": str(settings.SPOOL_DIR),
        "MAIL_HOSTNAME": "mx.scaleout.test",
        "RELAY_NAMESERVERS": "127.0.0.1:1",
        "QUEUE_SWEEP_SECONDS": "2",
        "DELIVERY_LEASE_SECONDS": "300",  # only the liveness check can free a lease in time
        "SESSION_TOUCH_BACKGROUND": "0",
    }
    cluster = Cluster(
        tmp_path / "var",
        env,
        smtp_port=smtp_port,
        web_ports=[web1_port, web2_port],
        worker_env={1: {"MAILROOM_FAULT": "deliver.after_file@3:hang"}},
    )
    smtp1, worker1, web1 = (cluster.procs[n] for n in ("smtp1", "worker1", "web1"))
    polls: list[tuple[float, int, int]] = []  # (time, web1 status, web2 status)
    stop_polling = threading.Event()
    try:
        cluster.start(worker_ready=registered)
        worker1_pid = worker1.pid

        def poll() -> None:  # a client of the API on each web process, all through the run
            path = "/api/v1/folders"
            while not stop_polling.is_set():
                polls.append(
                    (
                        time.monotonic(),
                        http_status(web1_port, path, token),
                        http_status(web2_port, path, token),
                    )
                )
                time.sleep(0.1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        payloads = [message(TAG, i, "load@scaleout.test") for i in range(MESSAGES)]
        load = run_load(
            smtp_port,
            payloads,
            sender="load@sender.example",
            rcpt="load@scaleout.test",
            concurrency=CLIENTS,
            per_session=PER_SESSION,
        )

        # smtp1 dies while it holds sessions of the load (the kernel spread them over both).
        wait_until(
            lambda: load.accepted() >= MESSAGES // 5 and tcp_sockets(smtp1.pid, smtp_port, "01"),
            "smtp1 serving the load",
        )
        assert not load.done.is_set(), "the load ended before the crash: raise MESSAGES"
        smtp1.kill()
        web1.kill()
        web1_killed_at = time.monotonic()

        # worker1 hangs in the middle of its third batch: Maildir files written, leases held.
        # (an attempt open for seconds: deliveries here take milliseconds)
        def hung() -> bool:
            since = timezone.now() - timedelta(seconds=3)
            return any(a.started_at < since for a in open_attempts(worker1_pid))

        wait_until(hung, "worker1 hung mid-delivery", 180)
        held = open_attempts(worker1_pid)
        held_entries = {a.entry_id for a in held}
        worker1.kill()

        load.done.wait(300)
        assert load.done.is_set(), "the clients did not finish"
        assert load.refused == [], load.refused[:5]
        assert not [f for f in load.failures if f.startswith("gave up")], load.failures[-5:]
        assert len(load.accepted_at) == MESSAGES  # every message got its 250 in the end
        # Sessions held by smtp1 broke and were sent again through smtp2.
        assert load.failures and max(load.tries.values()) >= 2

        # Every entry is delivered: worker1's leases (300 s) were freed by beat's sweep.
        mine = QueueEntry.objects.filter(recipients__address="load@scaleout.test")
        wait_until(
            lambda: not mine.exclude(state=EntryState.DONE).exists(), "the queue to drain", 180
        )
        assert not DeliveryAttempt.objects.filter(finished_at__isnull=True).exists()
        died = DeliveryAttempt.objects.filter(entry_id__in=held_entries, result="worker died")
        assert died.count() == len(held_entries)
        assert set(
            QueueEntry.objects.filter(pk__in=held_entries).values_list("state", flat=True)
        ) == {EntryState.DONE}
        assert not DeliveryWorker.objects.filter(pid=worker1_pid).exists()
        assert cluster.procs["worker2"].alive() and cluster.procs["smtp2"].alive()

        # Exactly once each: rows, files, and what the API shows through web2.
        rows = Counter(Message.objects.filter(account=account).values_list("message_id", flat=True))
        files = maildir_message_ids(Path(settings.MAIL_ROOT) / account.storage_path / "Maildir")
        listed = api_subjects(web2_port, token, inbox)
        doubled = []
        for i in range(MESSAGES):
            mid = f"{TAG}-{i}@sender.example"
            assert rows[f"<{mid}>"] + rows[mid] == files[mid] == listed[f"{TAG} {i}"], i
            if files[mid] != 1:
                assert files[mid] == 2 and i in load.after_data, (i, files[mid])
                doubled.append(i)
        assert sum(files.values()) == sum(rows.values()) == MESSAGES + len(doubled)
        print(
            f"\nscale-out run: {MESSAGES} accepted, {len(load.failures)} broken tries resent, "
            f"{len(load.after_data)} broke after DATA, {len(doubled)} doubled (RFC 1047), "
            f"{len(held_entries)} entries freed from the dead worker"
        )

        # The API answered through web2 all along; web1 stopped answering when it was killed.
        stop_polling.set()
        poller.join(15)
        assert polls and all(web2 == 200 for _, _, web2 in polls), [
            p for p in polls if p[2] != 200
        ][:5]
        before = [w1 for t, w1, _ in polls if t < web1_killed_at]
        after = [(t, w1) for t, w1, _ in polls if t > web1_killed_at + 1]
        assert before and before[0] == 200
        assert len(after) >= 10 and all(w1 == 0 for _, w1 in after)
    finally:
        stop_polling.set()
        cluster.stop()
