"""The cleanup process: the durable step of accepting a message (its spool file written and
fsynced, its queue rows committed) in a process of its own beside each SMTP process, as
Postfix's smtpd hands every message to cleanup(8) and answers 250 once cleanup says it is
queued.

Why a process: an SMTP process is one interpreter, and its event loop and its group-commit
thread took turns on one GIL, so accepting was bound to one core (the loop ~0.6 ms of CPU per
message, the committer ~0.55) while the machine's other core stood idle
(docs/performance.md, seventh pass). Here the SMTP process only speaks SMTP; the cleanup
process runs the same group commit (mailcore.delivery.groupcommit: its prepare, commit and
one answer per batch) under a GIL of its own.

The wire: a socket pair, frames of a 4-byte length and a pickle. Both ends are this program
(the child is started by its SMTP process and inherits only its end of the pair), so the
pickles never come from anyone else.
- parent → child, first: the settings the child must share with its parent ({"SPOOL_DIR":
  …, "DATABASE": …}: tests point them elsewhere than the environment), then one frame per
  message: (job number, the message's fields for spool_routed).
- child → parent, first ("ready",), then one frame per message: (job number, "ok", the first
  queue id) or (job number, "storage" | "error", the reason).

Failures: a message the child cannot make durable gets its reason (the session answers 4xx,
nothing is kept); a child that ends (crash, kill) fails every message it held (4xx: the
clients retry, nothing was acknowledged) and the next message starts a new one. When the
parent ends, the child reads the end of the stream, finishes what it holds and exits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import socket
import struct
import subprocess
import sys
import time
from typing import Any, cast

log = logging.getLogger("mailroom")

_LENGTH = struct.Struct("!I")
# A message frame holds one message (SMTP_MAX_MESSAGE_BYTES) and its envelope.
_MAX_FRAME = 1 << 31
# How long a new child may take to start (Django's set-up) before its messages fail.
START_TIMEOUT = 60.0
# A child that ends sooner than this after its start is not started again for this long
# (a child that cannot start must not be restarted at the rate of incoming mail).
_RESTART_BACKOFF = 2.0


class CleanupError(Exception):
    """The cleanup process could not take the message (not started, ended, or its commit
    failed): a temporary failure, the client retries."""


def _frame(obj: Any) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


class _Frames:
    """Splits a byte stream into frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        out: list[Any] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if size >= _MAX_FRAME:
                raise ValueError("cleanup frame too large")
            end = start + _LENGTH.size + size
            if len(buffer) < end:
                break
            out.append(pickle.loads(memoryview(buffer)[start + _LENGTH.size : end]))  # noqa: S301 (our own child)
            start = end
        if start:
            del buffer[:start]
        return out


# --- the SMTP process's side ---------------------------------------------------------------------


class CleanupClient(asyncio.Protocol):
    """The SMTP process's connection to its cleanup process, on the SMTP process's loop.
    `commit(message)` hands one message over and returns its first queue id once it is
    durable, or raises StorageError / CleanupError."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self._transport: asyncio.Transport | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, asyncio.Future[tuple[str, str]]] = {}
        self._jobs = 0
        self._frames = _Frames()
        self._ready: asyncio.Future[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._closing = False

    async def commit(self, message: dict[str, Any]) -> str:
        if self._transport is None or self._ready is None or not self._ready.done():
            await self.start()
        transport = self._transport
        if transport is None or transport.is_closing():
            raise CleanupError("cleanup process not running")
        self._jobs += 1
        job = self._jobs
        future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self._pending[job] = future
        transport.write(_frame((job, message)))
        kind, value = await future
        if kind == "ok":
            return value
        if kind == "storage":
            from mailcore.errors import StorageError

            raise StorageError(value)
        raise CleanupError(value)

    async def start(self) -> None:
        """Start the child (once for concurrent callers) and wait for its "ready"."""
        if self._starting is None or self._starting.done():
            self._starting = asyncio.get_running_loop().create_task(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        if self._transport is not None and self._ready is not None and self._ready.done():
            return
        wait = self._started_at + _RESTART_BACKOFF - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._reap()
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            # Started on the loop, not a thread: a start cancelled meanwhile (the server
            # stopping) must still know its child, to end it. vfork + exec: milliseconds.
            self._process = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "mailcore.delivery.cleanup", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise CleanupError(f"cleanup process not started: {exc}") from exc
        finally:
            theirs.close()
        self._started_at = time.monotonic()
        self._ready = loop.create_future()
        self._frames = _Frames()
        try:
            await loop.create_unix_connection(lambda: self, sock=ours)
            assert self._transport is not None
            self._transport.write(_frame(self._settings))
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        except BaseException as exc:  # timed out, cancelled (server stopping), failed
            if self._transport is not None:
                self._transport.close()
            else:
                ours.close()
            self._reap()
            if isinstance(exc, TimeoutError):
                raise CleanupError("cleanup process did not start in time") from exc
            raise

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._frames.feed(data)
        except Exception:
            log.exception("cleanup: unreadable answer")
            if self._transport is not None:
                self._transport.close()
            return
        for frame in frames:
            if frame == ("ready",):
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                continue
            job, kind, value = frame
            future = self._pending.pop(job, None)
            if future is not None and not future.done():
                future.set_result((kind, value))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._closing:
            log.error("cleanup process ended (%d messages in flight get 451)", len(self._pending))
        error = CleanupError("cleanup process ended")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: start() raises it to whoever waits
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    def _reap(self) -> None:
        """Collect the child that ended (or end one whose connection is gone)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        """The running child's process id (tests)."""
        return self._process.pid if self._process is not None else None

    async def close(self, grace: float = 10.0) -> None:
        """End the child: it finishes the messages it holds, then exits."""
        self._closing = True
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._transport is not None:
            self._transport.close()
        process = self._process
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, grace)
            self._reap()


def client_settings() -> dict[str, Any]:
    """What the child must share with its parent whatever its environment says (a test's
    database and spool)."""
    from django.conf import settings
    from django.db import connection

    return {
        "SPOOL_DIR": str(settings.SPOOL_DIR),
        "DATABASE": dict(connection.settings_dict),
        "SMTP_GROUP_COMMIT_WINDOW_MS": settings.SMTP_GROUP_COMMIT_WINDOW_MS,
        "SMTP_IN_FLOW_BACKLOG": settings.SMTP_IN_FLOW_BACKLOG,
        "SMTP_IN_FLOW_DELAY_MS": settings.SMTP_IN_FLOW_DELAY_MS,
    }


# --- the cleanup process -----------------------------------------------------------------------


class InFlow:
    """Postfix's in_flow_delay, for a backlog of local delivery: when more inbound messages
    wait for their first delivery attempt than `backlog` while a delivery worker is alive,
    each batch waits before it is accepted, growing with the excess, up to `delay`
    seconds, so that accepting slows to the pace of delivery instead of queueing ahead of it
    (accepted mail would otherwise wait longer and longer to be seen: the backlog grows for
    as long as the load lasts). Nothing is refused: clients wait, as Postfix makes them wait.
    With no live worker nothing waits (the queue is there to take mail while delivery is
    down). One bounded, indexed count per `every` seconds."""

    def __init__(self, backlog: int, delay: float, *, every: float = 0.05) -> None:
        self.backlog = backlog
        self.delay = delay
        self.every = every
        self._level = 0
        self._checked = -1e9
        self._worker_seen = -1e9

    def pause(self) -> float:
        """Seconds the next batch waits (0: none)."""
        if self.backlog <= 0 or self.delay <= 0:
            return 0.0
        now = time.monotonic()
        if now - self._checked >= self.every:
            self._checked = now
            self._level = self._measure(now)
        if self._level <= self.backlog:
            return 0.0
        # Gentle near the threshold (a few milliseconds per batch already match the pace of
        # a busy worker; a linear gain made accepting stop and start, and the worker idle).
        excess = (self._level - self.backlog) / self.backlog
        return min(self.delay, self.delay * excess * excess)

    def _measure(self, now: float) -> int:
        from django.conf import settings
        from django.utils import timezone

        from mailcore.delivery.models import Direction, EntryState, QueueEntry
        from mailcore.delivery.workers import any_alive

        if now - self._worker_seen > settings.WORKER_HEARTBEAT_SECONDS:
            if not any_alive():
                return 0
            self._worker_seen = now
        waiting = QueueEntry.objects.filter(
            state=EntryState.QUEUED,
            direction=Direction.INBOUND,
            attempts=0,
            next_attempt_at__lte=timezone.now(),
        )
        return waiting[: self.backlog * 2].count()


# The most messages one batch takes (the rest wait for the next), as GroupCommitter.max_batch.
MAX_BATCH = 256


def serve(
    sock: socket.socket,
    *,
    window: float = 0.0,
    frames: _Frames | None = None,
    jobs: list[Any] | None = None,
    flow: InFlow | None = None,
) -> None:
    """The child's loop, one thread, no event loop: wait for messages, take every one that
    has arrived (so batches grow with the load and cost no waiting when idle), write each
    one's spool file, commit them all (do_commit_spooled: the files and directories fsynced
    side by side, then one transaction), answer them all in one write. A message whose spool
    write fails is answered alone; a failed commit answers every message of its batch.
    `flow`: the wait before a batch while local delivery lags (InFlow). Returns when the
    parent closes its end."""
    from django.db import close_old_connections

    from mailcore.delivery.entries import SpooledEntry, do_commit_spooled
    from mailcore.delivery.submit import spool_routed
    from mailcore.errors import StorageError

    frames = frames or _Frames()
    jobs = jobs or []
    open_ = True
    while open_ or jobs:
        if open_ and len(jobs) < MAX_BATCH:
            open_ = _receive(sock, frames, jobs, wait=not jobs)
            wait = window + (flow.pause() if flow is not None else 0.0)
            if wait > 0 and jobs:
                time.sleep(wait)  # let more sessions join this batch (or delivery catch up)
                open_ = _receive(sock, frames, jobs, wait=False) and open_
        batch, jobs = jobs[:MAX_BATCH], jobs[MAX_BATCH:]
        answers: list[Any] = []
        ready: list[tuple[int, list[SpooledEntry]]] = []
        for job, message in batch:
            try:
                ready.append((job, spool_routed(**message)))
            except StorageError as exc:
                answers.append((job, "storage", str(exc)))
            except Exception as exc:
                log.exception("cleanup: message %d", job)
                answers.append((job, "error", f"{type(exc).__name__}: {exc}"))
        if ready:
            try:
                close_old_connections()  # a broken or aged connection: this batch fails, 4xx
                do_commit_spooled([item for _, items in ready for item in items])
            except StorageError as exc:
                answers += [(job, "storage", str(exc)) for job, _ in ready]
            except Exception as exc:
                log.warning("group commit of %d messages failed: %s", len(ready), exc)
                answers += [(job, "error", f"{type(exc).__name__}: {exc}") for job, _ in ready]
            else:
                answers += [(job, "ok", items[0].entry.queue_id) for job, items in ready]
        if answers:
            try:
                sock.sendall(b"".join(_frame(answer) for answer in answers))
            except OSError:
                return  # the parent is gone: its sessions too


def _receive(
    sock: socket.socket, frames: _Frames, jobs: list[tuple[int, dict[str, Any]]], *, wait: bool
) -> bool:
    """Add the messages that have arrived to `jobs`, waiting for one if `wait`. False once
    the parent has closed its end."""
    sock.setblocking(wait)
    while True:
        try:
            data = sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            return False
        jobs.extend(frames.feed(data))
        if not wait or jobs:
            sock.setblocking(False)
            wait = False


def _configure(values: dict[str, Any]) -> None:
    from django.conf import settings
    from django.db import connections

    settings.SPOOL_DIR = values["SPOOL_DIR"]
    connections["default"].settings_dict.update(values["DATABASE"])


def main(fd: int) -> None:
    from mailcore.runtime import bootstrap

    bootstrap(check=False)  # its parent checked the settings
    sock = socket.socket(fileno=fd)
    frames = _Frames()
    first: list[Any] = []
    while not first:  # the settings come first
        data = sock.recv(1 << 16)
        if not data:
            return
        first = frames.feed(data)
    values = first.pop(0)
    _configure(values)
    # What start-up built (Django, the modules of the durable step) into the collector's
    # permanent generation, as the SMTP process and the delivery workers do.
    import mailcore.delivery.submit  # noqa: F401
    from mailcore.delivery.workers import settle_heap

    settle_heap()
    sock.sendall(_frame(("ready",)))
    try:
        flow = InFlow(values["SMTP_IN_FLOW_BACKLOG"], values["SMTP_IN_FLOW_DELAY_MS"] / 1000)
        window = values["SMTP_GROUP_COMMIT_WINDOW_MS"] / 1000
        serve(sock, window=window, frames=frames, jobs=first, flow=flow)
    finally:
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    main(int(sys.argv[1]))
