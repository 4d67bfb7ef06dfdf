"""The POP3 maildrop lock (RFC 1939 §8, `[IN-USE]`): one POP3 session per account at a time
across every POP3 process sharing the database, held so that a dead process cannot keep it.
IMAP and the webmail are never locked out. No protocol code, no store access.

PostgreSQL: a session-level advisory lock per account, taken on one connection of the process
kept for nothing else; PostgreSQL drops a connection's locks when its process dies or the
connection breaks. SQLite (the embedded default, one host): flock(2) on a file per account
under POP3_LOCK_DIR, which the kernel drops when the process dies. Inside a process a set of
the held accounts answers first (an advisory lock is re-entrant on its own connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from mailcore.errors import MailcoreError

log = logging.getLogger("mailroom.pop3")

HEARTBEAT_SECONDS = 30.0  # how often a process holding locks checks its lock connection


def lock_key(account_id: int) -> int:
    """The advisory lock key (bigint) of an account's maildrop, apart from other users' keys."""
    digest = hashlib.sha256(f"mailroom-pop3-maildrop\0{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Backend(Protocol):
    def take(self, account_id: int) -> bool: ...
    def drop(self, account_id: int) -> None: ...
    def check(self) -> None: ...
    def close(self) -> None: ...


class PostgresLocks:
    """Advisory locks on a connection of their own. Used only from the lock thread."""

    def __init__(self) -> None:
        from django.db import connections

        self._conn = connections.create_connection("default")
        self._taken: set[int] = set()

    def _query(self, sql: str, account_id: int | None = None) -> object:
        with self._conn.cursor() as cursor:
            if account_id is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, [lock_key(account_id)])
            row = cursor.fetchone()
        return row[0] if row else None

    def _retrying(self, sql: str, account_id: int | None = None) -> object:
        """The query; after a broken connection once more on a new one, which first takes
        again the locks the old connection held (its locks went with it)."""
        from django.db import InterfaceError, OperationalError

        try:
            return self._query(sql, account_id)
        except (OperationalError, InterfaceError) as exc:
            log.warning("POP3 lock connection lost (%s): reconnecting", exc)
        self._conn.close()
        from django.db import connections

        self._conn = connections.create_connection("default")
        for held in sorted(self._taken):
            if not self._query("SELECT pg_try_advisory_lock(%s)", held):
                # Another process took it while this connection was down: its session and
                # ours now overlap until ours ends. Said, not hidden.
                log.error("POP3 maildrop lock of account %s lost to another process", held)
        return self._query(sql, account_id)

    def take(self, account_id: int) -> bool:
        got = bool(self._retrying("SELECT pg_try_advisory_lock(%s)", account_id))
        if got:
            self._taken.add(account_id)
        return got

    def drop(self, account_id: int) -> None:
        if account_id not in self._taken:
            return
        self._taken.discard(account_id)
        self._retrying("SELECT pg_advisory_unlock(%s)", account_id)

    def check(self) -> None:
        if self._taken:
            self._retrying("SELECT 1")

    def close(self) -> None:
        self._conn.close()
        self._taken.clear()


class FileLocks:
    """flock(2) on `<dir>/<account id>.lock`: exclusive per open file, so two servers of one
    process exclude each other as two processes do. Used only from the lock thread."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._fds: dict[int, int] = {}

    def take(self, account_id: int) -> bool:
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / f"{account_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fds[account_id] = fd
        return True

    def drop(self, account_id: int) -> None:
        fd = self._fds.pop(account_id, None)
        if fd is not None:
            os.close(fd)  # the file stays: unlinking it would race with a waiting open()

    def check(self) -> None:
        pass

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class MaildropLocks:
    """The per-account POP3 lock of one server. `acquire` and `release` are called from the
    server's event loop; the backend runs in one thread of its own, in call order (a release
    reaches the backend before a later acquire of the same account)."""

    def __init__(self, lock_dir: Path) -> None:
        self._lock_dir = lock_dir
        self._held: set[int] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pop3-locks")
        self._backend: _Backend | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopped = False

    def _get_backend(self) -> _Backend:
        if self._backend is None:
            from django.db import connection

            if connection.vendor == "postgresql":
                self._backend = PostgresLocks()
            else:
                self._backend = FileLocks(self._lock_dir)
        return self._backend

    def _take(self, account_id: int) -> bool:
        return self._get_backend().take(account_id)

    def _drop(self, account_id: int) -> None:
        try:
            self._get_backend().drop(account_id)
        except Exception:
            # The connection is gone and its locks with it; nothing is left to release.
            log.warning("POP3 maildrop lock of account %s: release failed", account_id)

    def check(self) -> None:
        """In the lock thread: a broken lock connection is replaced and its locks re-taken."""
        try:
            self._get_backend().check()
        except Exception:
            log.exception("POP3 lock connection check failed")

    async def acquire(self, account_id: int) -> bool:
        """True when this session may open the maildrop; False: another POP3 session (of
        this or another process) has it. MailcoreError when the lock cannot be asked for."""
        if account_id in self._held:
            return False
        self._held.add(account_id)
        loop = asyncio.get_running_loop()
        got = False
        try:
            got = await loop.run_in_executor(self._executor, self._take, account_id)
        except Exception as exc:  # the database or the lock directory is unavailable
            log.warning("POP3 maildrop lock of account %s not taken: %s", account_id, exc)
            raise MailcoreError("the maildrop lock is unavailable") from exc
        finally:
            if not got:
                # Not taken, failed or cancelled: a lock taken meanwhile is given back.
                self._held.discard(account_id)
                self._executor.submit(self._drop, account_id)
        if not self._stopped and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = loop.create_task(self._beat())
        return got

    def release(self, account_id: int) -> None:
        if account_id in self._held:
            self._held.discard(account_id)
            with contextlib.suppress(RuntimeError):  # closed: the backend let go of all
                self._executor.submit(self._drop, account_id)

    async def _beat(self) -> None:
        """While locks are held, check the lock connection now and then: a broken one is
        replaced and the locks taken again, before another process could think them free
        for long."""
        loop = asyncio.get_running_loop()
        while self._held:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await loop.run_in_executor(self._executor, self.check)

    def stop_heartbeat(self) -> None:
        """On the server's loop, as it stops."""
        self._stopped = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def check_now(self) -> None:
        """What the heartbeat does, at once."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self.check)

    def close(self) -> None:
        """Give back every lock (from any thread, once the loop is done with them)."""
        self._held.clear()
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_backend)
        self._executor.shutdown(wait=True)

    def _close_backend(self) -> None:
        if self._backend is not None:
            self._backend.close()
