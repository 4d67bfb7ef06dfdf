"""Change notices (new message, flags, move, expunge) published after commit on the account's
Redis channel; IMAP IDLE and the web push both listen there. A lost notice costs freshness,
never data, so publishing failures are logged and swallowed. A notice carries the account
modseq of its change and the UIDs it concerns (for "expunge": the UIDs that left the folder),
so IDLE can answer EXPUNGE/VANISHED/FETCH from it; the history (mailcore.store.history) is the
record, a notice only the doorbell."""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
_local = threading.local()


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # "add" | "flags" | "move" | "expunge" | "folder"
    folder_id: int
    message_ids: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    modseq: int = 0  # the account modseq of the change (0: unknown, e.g. a polled guess)
    uids: tuple[int, ...] = ()  # parallel to message_ids when given (same order)


def channel_for(account_id: int) -> str:
    # Pub/sub channels are server-wide, whatever database a client selected: the database
    # number of REDIS_URL keeps installations (and test runs) that share a Redis server apart.
    return f"mailroom:{_database_number(settings.REDIS_URL)}:account:{account_id}"


@functools.cache
def _database_number(url: str) -> int:
    from redis.connection import parse_url

    return int(parse_url(url).get("db", 0)) if url else 0


def _client() -> Any:
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "url", None) != settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        _local.client, _local.url = client, settings.REDIS_URL
    return client


def publish(account_id: int, change: Change) -> None:
    if not settings.REDIS_URL:
        return
    try:
        _client().publish(channel_for(account_id), json.dumps(asdict(change)))
    except Exception:  # a notice is best-effort by design
        log.warning("could not publish change for account %s", account_id, exc_info=True)


def publish_on_commit(account_id: int, change: Change) -> None:
    transaction.on_commit(lambda: publish(account_id, change))
