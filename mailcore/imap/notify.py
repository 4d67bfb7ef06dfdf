"""Change notices for IMAP sessions: one listener per server process, fanned out to the
sessions of each account. It reads the feed the web push reads (mailcore.store.watch): the
account channels of Redis pub/sub, or, on the embedded default without Redis, the folders'
counters polled once a second (one query for every watched account, not one per session).

A notice only wakes a session; the session then asks the database what changed, so a lost or
duplicated notice costs freshness, never correctness.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict

from django.conf import settings

from mailcore.store.changes import channel_for
from mailcore.store.models import Folder
from mailcore.store.watch import POLL_SECONDS, parse_notice, release_connection

log = logging.getLogger("mailroom.imap")


class Waiter:
    """One session's doorbell: `event` is set by the hub when its account changed, and
    `rings` counts the changes (a session that saw no new ring since it last read its folder
    need not ask the database again)."""

    __slots__ = ("account_id", "event", "rings")

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.event = asyncio.Event()
        self.rings = 0


class ChangeHub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiters: dict[int, set[Waiter]] = defaultdict(set)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polling = not settings.REDIS_URL

    def start(self) -> None:
        target = self._poll_loop if self.polling else self._redis_loop
        self._thread = threading.Thread(target=target, name="imap-changes", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def register(self, account_id: int) -> Waiter:
        waiter = Waiter(account_id)
        with self._lock:
            self._waiters[account_id].add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        with self._lock:
            group = self._waiters.get(waiter.account_id)
            if group is not None:
                group.discard(waiter)
                if not group:
                    del self._waiters[waiter.account_id]

    def _ring(self, account_id: int) -> None:
        for waiter in list(self._waiters.get(account_id, ())):
            waiter.rings += 1
            waiter.event.set()

    def notify(self, account_id: int) -> None:
        """Wake every session of the account (thread-safe)."""
        self.loop.call_soon_threadsafe(self._ring, account_id)

    # --- Redis: one pattern subscription for every account of this installation ---------

    def _redis_loop(self) -> None:
        import redis

        pattern = channel_for(0).rsplit(":", 1)[0] + ":*"
        while not self._stop.is_set():
            client = None
            try:
                client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_timeout=None, socket_connect_timeout=2
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(pattern)
                # Anything published while we were not listening: wake everyone once.
                for account_id in list(self._waiters):
                    self.notify(account_id)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    channel = message.get("channel") or b""
                    if isinstance(channel, bytes):
                        channel = channel.decode("ascii", "replace")
                    try:
                        account_id = int(str(channel).rsplit(":", 1)[1])
                    except (IndexError, ValueError):
                        continue
                    if parse_notice(message.get("data")) is not None:
                        self.notify(account_id)
            except Exception:
                log.warning("IMAP change feed: Redis failed; retrying", exc_info=True)
                self._stop.wait(2)
            finally:
                if client is not None:
                    try:
                        client.close()
                    except Exception:  # closing a broken connection: nothing left to do
                        log.debug("closing Redis failed", exc_info=True)

    # --- polling (embedded default) ------------------------------------------------------

    def _poll_loop(self) -> None:
        known: dict[int, tuple[object, ...]] = {}
        while not self._stop.wait(POLL_SECONDS):
            accounts = list(self._waiters)
            if not accounts:
                known.clear()
                continue
            try:
                now: dict[int, list[tuple[object, ...]]] = defaultdict(list)
                rows = Folder.objects.filter(account_id__in=accounts).values_list(
                    "account_id", "id", "highestmodseq", "uidnext", "message_count", "name"
                )
                for row in rows.order_by("account_id", "id"):
                    now[int(row[0])].append(row[1:])
                for account_id in accounts:
                    state = tuple(now.get(account_id, ()))
                    # A first sight notifies too: a change made between the session's own
                    # look and this baseline would be missed otherwise.
                    if known.get(account_id) != state:
                        self.notify(account_id)
                    known[account_id] = state
                release_connection()
            except Exception:
                log.warning("IMAP change polling failed", exc_info=True)
                time.sleep(POLL_SECONDS)
