"""Waiting for the changes of one account's mailboxes: the Redis channel of
mailcore.store.changes when REDIS_URL is set, else polling the folders' counters (the embedded
default has no pub/sub). Read-only; callers (web push, IMAP IDLE) decide what to send.

Both give the same notices: kind, folder id, message ids, their UIDs (for "expunge": the UIDs
that left the folder) and the account modseq. The polling watcher reads them from the change
history (rows with a newer modseq, tombstones), so IDLE on the embedded default knows exactly
which UIDs went. A notice is a doorbell: IMAP re-reads the folder's state (CHANGEDSINCE its
last modseq, history.vanished_since) rather than trusting a notice to be complete.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import connection

from mailcore.store.changes import Change, channel_for
from mailcore.store.models import Folder, Message, Tombstone

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
BURST_SECONDS = 0.2  # after a first notice, gather what follows this closely into one batch
MAX_IDS = 1000  # message ids carried by one change; clients reload the folder anyway
KINDS = frozenset({"add", "flags", "move", "expunge", "folder"})


@dataclass(frozen=True, slots=True)
class FolderState:
    id: int
    name: str
    message_count: int
    unseen_count: int
    highestmodseq: int
    uidnext: int


def folder_states(account_id: int) -> dict[int, FolderState]:
    """One query: every folder of the account with its counters."""
    rows = Folder.objects.filter(account_id=account_id).values_list(
        "id", "name", "message_count", "unseen_count", "highestmodseq", "uidnext"
    )
    return {row[0]: FolderState(*row) for row in rows}


def release_connection() -> None:
    """Give a PostgreSQL connection back between queries of a long wait: a stream would hold
    one for minutes. SQLite (a file handle, with PRAGMAs to re-run) keeps its connection."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        connection.close()


class Watcher(Protocol):
    polls: bool  # queries the database on every wait (else only when told of a change)

    def wait(self, timeout: float) -> list[Change]:
        """Changes since the last call, waiting up to `timeout` seconds for the first."""

    def close(self) -> None: ...


class PollingWatcher:
    """Compares folder counters every POLL_SECONDS. Message ids come from the history: UIDs
    at or above the old uidnext arrived, older rows with a newer modseq changed flags, and
    tombstones newer than the old highestmodseq name the UIDs that left."""

    polls = True

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.states = folder_states(account_id)
        self._next = time.monotonic() + POLL_SECONDS

    def wait(self, timeout: float) -> list[Change]:
        pause = self._next - time.monotonic()
        if pause > timeout:
            time.sleep(max(0.0, timeout))
            return []
        time.sleep(max(0.0, pause))
        self._next = time.monotonic() + POLL_SECONDS
        now = folder_states(self.account_id)
        changes = diff_states(self.states, now)
        self.states = now
        return changes

    def close(self) -> None:
        pass


def diff_states(old: dict[int, FolderState], new: dict[int, FolderState]) -> list[Change]:
    changes = [Change("folder", fid, extra={"op": "create"}) for fid in sorted(new.keys() - old)]
    changes += [Change("folder", fid, extra={"op": "delete"}) for fid in sorted(old.keys() - new)]
    for fid in sorted(old.keys() & new.keys()):
        was, now = old[fid], new[fid]
        if was.name != now.name:
            changes.append(Change("folder", fid, extra={"op": "rename"}))
        if was.highestmodseq == now.highestmodseq and was.uidnext == now.uidnext:
            continue
        found: list[Change] = []
        modseq = now.highestmodseq
        gone = list(
            Tombstone.objects.filter(folder_id=fid, modseq__gt=was.highestmodseq, uid__isnull=False)
            .order_by("uid")
            .values_list("message_pk", "uid")[:MAX_IDS]
        )
        if gone:
            found.append(
                Change(
                    "expunge",
                    fid,
                    tuple(int(pk or 0) for pk, _ in gone),
                    modseq=modseq,
                    uids=tuple(uid for _, uid in gone if uid is not None),
                )
            )
        arrived = max(0, now.uidnext - was.uidnext)
        if arrived:
            added = Message.objects.filter(folder_id=fid, uid__gte=was.uidnext).order_by("uid")
            rows = list(added.values_list("pk", "uid")[:MAX_IDS])
            if rows:
                found.append(
                    Change(
                        "add",
                        fid,
                        tuple(pk for pk, _ in rows),
                        modseq=modseq,
                        uids=tuple(uid for _, uid in rows),
                    )
                )
        flagged = Message.objects.filter(
            folder_id=fid, uid__lt=was.uidnext, modseq__gt=was.highestmodseq
        ).order_by("uid")
        rows = list(flagged.values_list("pk", "uid")[:MAX_IDS])
        if rows:
            found.append(
                Change(
                    "flags",
                    fid,
                    tuple(pk for pk, _ in rows),
                    modseq=modseq,
                    uids=tuple(uid for _, uid in rows),
                )
            )
        if not gone and was.message_count + arrived > now.message_count:
            found.append(Change("expunge", fid, modseq=modseq))  # history purged meanwhile
        # Something changed that left no trace in the rows (a flag change undone by an
        # expunge, say): still tell the client to look.
        if found or was.name == now.name:  # a rename moves highestmodseq by itself
            changes.extend(found or [Change("flags", fid, modseq=modseq)])
    return changes


class RedisWatcher:
    """Subscribed to the account's channel; notices published while nobody listened are lost
    (a client reloads what it shows when its stream starts)."""

    polls = False

    def __init__(self, account_id: int) -> None:
        import redis

        self._client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=None, socket_connect_timeout=2
        )
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(channel_for(account_id))
        except Exception:
            self.close()
            raise

    def wait(self, timeout: float) -> list[Change]:
        changes: list[Change] = []
        first = self._pubsub.get_message(timeout=max(0.0, timeout))
        if first is None:
            return changes
        until = time.monotonic() + BURST_SECONDS
        message: Any = first
        while message is not None:
            change = parse_notice(message.get("data"))
            if change is not None:
                changes.append(change)
            left = until - time.monotonic()
            message = self._pubsub.get_message(timeout=left) if left > 0 else None
        return changes

    def close(self) -> None:
        try:
            self._pubsub.close()
            self._client.close()
        except Exception:  # closing a broken connection: nothing left to do
            log.debug("closing the change subscription failed", exc_info=True)


def parse_notice(data: Any) -> Change | None:
    """A Change from what changes.publish sent; None for anything else on the channel."""
    try:
        raw = json.loads(data)
        kind, folder_id = raw["kind"], raw["folder_id"]
        extra = raw.get("extra") or {}
        if kind not in KINDS or not isinstance(folder_id, int) or not isinstance(extra, dict):
            return None
        ids = tuple(int(i) for i in list(raw.get("message_ids") or [])[:MAX_IDS])
        uids = tuple(int(u) for u in list(raw.get("uids") or [])[:MAX_IDS])
        modseq = int(raw.get("modseq") or 0)
        op = {"op": str(extra["op"])} if "op" in extra else {}
        return Change(kind, folder_id, ids, op, modseq=modseq, uids=uids)
    except (ValueError, TypeError, KeyError):
        log.warning("ignored a malformed change notice")
        return None


def watch(account_id: int) -> Watcher:
    """The change source for one account: Redis when configured and reachable, else polling
    (logged: a Redis outage makes pushes slower, not absent)."""
    if settings.REDIS_URL:
        try:
            return RedisWatcher(account_id)
        except Exception:
            log.warning("cannot subscribe to changes in Redis; polling instead", exc_info=True)
    return PollingWatcher(account_id)
