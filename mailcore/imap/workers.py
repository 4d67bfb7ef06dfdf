"""IMAP_PROCESSES: the IMAP server as a parent and N forked workers (Dovecot runs one process
per connection; we run one asyncio process per CPU). The parent binds the ports once,
closes its database connections, forks the workers and restarts any that dies; each worker
listens on the same ports with SO_REUSEPORT (the kernel spreads the connections) and keeps
its own event loop, database thread pool, change listener (so an IDLE on one worker hears a
change made through another, or by the web, the same way) and SELECT cache.

The per-IP, per-account and total connection caps hold across the workers through Redis
(SharedCaps: one hash per IP / account with one field per worker, summed and raised in one
script); the parent clears a dead worker's fields before it starts the next one, and all of
them at its start and exit. Without Redis (the embedded default) each worker applies the caps
to its own connections.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from mailcore.config import Listen

log = logging.getLogger("mailroom.imap")

RESTART_DELAY_MAX = 30.0  # seconds between restarts of a worker that keeps dying
STABLE_SECONDS = 30.0  # a worker that ran this long starts a new back-off count
STOP_GRACE_SECONDS = 10.0
REDIS_TIMEOUT = 0.25  # seconds a worker waits for Redis on a connection's admission
REDIS_BACKOFF = 5.0  # after a failure, the worker counts on its own this long
MAX_UNRELEASED = 100_000


class SharedCapsDownError(Exception):
    """Redis failed within REDIS_BACKOFF: not asked again yet."""


_ADMIT = """
local n = #KEYS - 1
for i = 1, n do
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[i])) do sum = sum + tonumber(v) end
  if sum >= tonumber(ARGV[i + 1]) then return 0 end
end
for i = 1, n do
  redis.call('HINCRBY', KEYS[i], ARGV[1], 1)
  redis.call('SADD', KEYS[n + 1], KEYS[i])
end
return 1
"""
_RELEASE = """
local n = #KEYS - 1
for i = 1, n do
  if redis.call('HINCRBY', KEYS[i], ARGV[1], -1) <= 0 then
    redis.call('HDEL', KEYS[i], ARGV[1])
    redis.call('SREM', KEYS[n + 1], KEYS[i])
  end
end
return 1
"""
_FORGET_WORKER = """
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('HDEL', key, ARGV[1]) end
redis.call('DEL', KEYS[1])
return 1
"""


class SharedCaps:
    """Connection counts of every worker of one IMAP server in Redis: `<prefix>:ip:<ip>`,
    `<prefix>:acct:<id>` and `<prefix>:total` are hashes {worker: count}; `<prefix>:keys:<w>`
    is the set of hashes worker w has a field in (what the parent clears when w dies).
    A cap is checked against the sum of all workers' fields and raised in the same script,
    so two workers cannot both take the last place. If Redis fails, the worker counts the
    connection on its own (logged) rather than refusing everyone."""

    def __init__(self, url: str, prefix: str, worker: int) -> None:
        import redis

        # Called on the event loop's thread: a slow or absent Redis may cost a worker at most
        # REDIS_TIMEOUT, then REDIS_BACKOFF of counting on its own (SharedCapsDown).
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.prefix = prefix
        self.worker = str(worker)
        self._admit = self.client.register_script(_ADMIT)
        self._release = self.client.register_script(_RELEASE)
        self._forget = self.client.register_script(_FORGET_WORKER)
        self._down_until = 0.0
        self._unreleased: list[list[str]] = []  # releases Redis missed, retried later

    def _keyset(self, worker: str) -> str:
        return f"{self.prefix}:keys:{worker}"

    def _call(self, fn: Callable[[], Any]) -> Any:
        if time.monotonic() < self._down_until:
            raise SharedCapsDownError("Redis failed a moment ago")
        try:
            while self._unreleased:
                self._release_now(self._unreleased[-1])
                self._unreleased.pop()
            return fn()
        except Exception:
            self._down_until = time.monotonic() + REDIS_BACKOFF
            raise

    def admit(self, caps: dict[str, int]) -> bool:
        """Count one connection under every key of `caps` ({"ip:1.2.3.4": 50, …}) if none
        is at its cap; True when counted."""
        keys = [f"{self.prefix}:{k}" for k in caps]
        args = [self.worker, *caps.values()]
        return bool(
            self._call(lambda: self._admit(keys=[*keys, self._keyset(self.worker)], args=args))
        )

    def _release_now(self, names: list[str]) -> None:
        keys = [f"{self.prefix}:{k}" for k in names]
        self._release(keys=[*keys, self._keyset(self.worker)], args=[self.worker])

    def release(self, names: list[str]) -> None:
        """Uncount one connection; while Redis fails, kept and retried with the next call
        (up to MAX_UNRELEASED; the parent clears all at its next start)."""
        try:
            self._call(lambda: self._release_now(names))
        except Exception:
            if len(self._unreleased) < MAX_UNRELEASED:
                self._unreleased.append(names)
            raise

    def forget_worker(self, worker: int) -> None:
        """Drop every count of `worker` (it died: its connections are gone)."""
        self._forget(keys=[self._keyset(str(worker))], args=[str(worker)])

    def clear(self) -> None:
        """Drop every count of this server (at the parent's start and exit)."""
        for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000):
            self.client.delete(key)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()


def caps_prefix(listens: list[Listen]) -> str:
    """One server's key prefix: this host and its listening addresses (two IMAP servers on
    one Redis, e.g. a test server beside a running one, keep apart)."""
    where = ",".join(str(x) for x in listens if x.enabled)
    return f"mailroom:imap:caps:{socket.gethostname()}:{where}"


def process_count(setting: int) -> int:
    """IMAP_PROCESSES: 0 means one per CPU."""
    if setting > 0:
        return setting
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def bind(listen: Listen, *, backlog: int | None = 1024) -> socket.socket:
    """A TCP socket on `listen` with SO_REUSEPORT, listening (non-blocking) unless `backlog`
    is None: then only bound, an anchor that holds the port (and tells a port 0's number)
    while the workers' own listening sockets come and go. The kernel spreads connections
    over the listening sockets of the port."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        if backlog is not None:
            sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _die_with_parent(parent: int) -> None:
    """A worker ends when the parent does, however it ended (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


class Prefork:
    """The parent: holds an anchor socket per listener (bound, not listening), forks `count`
    workers running `work(worker_id, sockets)` each with listening sockets of its own on the
    same ports (SO_REUSEPORT: the kernel spreads connections; what waits in a dead worker's
    queue is reset, and no new connection goes to it), restarts any that dies (1 s × 2ⁿ
    back-off up to 30 s, reset after 30 s of life), and on SIGTERM or SIGINT stops them all.
    `forget(worker_id)` runs before a dead worker is replaced."""

    def __init__(
        self,
        count: int,
        anchors: dict[str, socket.socket],
        work: Callable[[int, dict[str, socket.socket]], None],
        *,
        forget: Callable[[int], None] | None = None,
    ) -> None:
        self.count = count
        self.anchors = anchors
        self.work = work
        self.forget = forget
        self.pids: dict[int, int] = {}  # pid → worker id
        self.started: dict[int, float] = {}  # worker id → monotonic start
        self.failures: dict[int, int] = {}  # worker id → quick deaths in a row
        self.due: dict[int, float] = {}  # worker id → when to start it again
        self.stopping = False

    def _listening(self) -> dict[str, socket.socket]:
        out: dict[str, socket.socket] = {}
        try:
            for name, anchor in self.anchors.items():
                host, port = anchor.getsockname()[:2]
                out[name] = bind(Listen(host, port))
        except BaseException:
            for sock in out.values():
                sock.close()
            raise
        return out

    def _spawn(self, worker: int) -> None:
        from django.db import connections

        connections.close_all()  # no connection may be shared with a child
        sockets = self._listening()
        parent = os.getpid()
        # What the parent holds (Django, the settings, the modules) stays shared with the
        # workers: the children's collector does not walk these objects, so their pages are
        # not copied into every worker.
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent(parent)
                for anchor in self.anchors.values():
                    anchor.close()
                self.work(worker, sockets)
            except BaseException:
                log.exception("IMAP worker %d failed", worker)
                code = 1
            finally:
                os._exit(code)
        for sock in sockets.values():  # the worker's alone: gone with it
            sock.close()
        self.pids[pid] = worker
        self.started[worker] = time.monotonic()
        log.info("IMAP worker %d started (pid %d)", worker, pid)

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.pids.pop(pid, None)
            if worker is None:
                continue
            if self.stopping:
                continue
            lived = time.monotonic() - self.started.get(worker, 0.0)
            n = 0 if lived >= STABLE_SECONDS else self.failures.get(worker, 0) + 1
            self.failures[worker] = n
            delay = 0.0 if n == 0 else min(RESTART_DELAY_MAX, 2.0 ** (n - 1))
            how = (
                f"signal {signal.Signals(-os.waitstatus_to_exitcode(status)).name}"
                if os.WIFSIGNALED(status)
                else f"exit {os.waitstatus_to_exitcode(status)}"
            )
            log.warning(
                "IMAP worker %d (pid %d) ended (%s) after %.1f s; restarting in %.0f s",
                worker,
                pid,
                how,
                lived,
                delay,
            )
            print(f"imap: worker {worker} (pid {pid}) ended ({how}); restarting", flush=True)
            if self.forget is not None:
                try:
                    self.forget(worker)
                except Exception:
                    log.warning("IMAP: clearing worker %d's counts failed", worker, exc_info=True)
            self.due[worker] = time.monotonic() + delay

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for worker in range(self.count):
            self._spawn(worker)
        try:
            while not self.stopping:
                time.sleep(0.1)
                self._reap()
                now = time.monotonic()
                for worker, when in list(self.due.items()):
                    if when <= now and not self.stopping:
                        del self.due[worker]
                        self._spawn(worker)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.stopping = True
        for pid in list(self.pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self.pids and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()
        for sock in self.anchors.values():
            sock.close()
