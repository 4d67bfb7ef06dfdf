"""GET /api/v1/events: a server-sent event stream of the account's mailbox changes, fed by
mailcore.store.watch (Redis pub/sub, or counter polling without Redis).

Each open stream holds one thread of a threaded (gthread) web worker, so streams are capped
per process and per account, end after EVENTS_STREAM_SECONDS (the browser reconnects after
`retry`), and stop as soon as the client's socket closes. No business logic here.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.store.changes import Change
from mailcore.store.watch import Watcher, folder_states, release_connection, watch
from webmail.accounts.current import current_account
from webmail.api.errors import error_response
from webmail.api.serializers import ErrorSerializer

log = logging.getLogger(__name__)
RETRY_MS = 2000
TICK_SECONDS = 1.0  # how often a quiet stream checks its client and its deadline


class StreamSlots:
    """Open streams of this process, by account; a slot is taken before a stream starts and
    given back exactly once when it ends, however it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: Counter[int] = Counter()

    def take(self, account_id: int) -> bool:
        with self._lock:
            if self._by_account.total() >= settings.EVENTS_MAX_STREAMS:
                return False
            if self._by_account[account_id] >= settings.EVENTS_MAX_STREAMS_PER_USER:
                return False
            self._by_account[account_id] += 1
            return True

    def give_back(self, account_id: int) -> None:
        with self._lock:
            self._by_account[account_id] -= 1
            if self._by_account[account_id] <= 0:
                del self._by_account[account_id]

    def open_streams(self, account_id: int | None = None) -> int:
        with self._lock:
            if account_id is None:
                return self._by_account.total()
            return self._by_account[account_id]


SLOTS = StreamSlots()


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def change_event(change: Change) -> bytes:
    data: dict[str, Any] = {
        "kind": change.kind,
        "folder_id": change.folder_id,
        "message_ids": list(change.message_ids),
    }
    if "op" in change.extra:
        data["op"] = change.extra["op"]
    return sse("change", data)


def counts_event(account_id: int) -> bytes:
    folders = [
        {"id": f.id, "message_count": f.message_count, "unseen_count": f.unseen_count}
        for f in folder_states(account_id).values()
    ]
    return sse("counts", {"folders": folders})


def client_gone_check(meta: dict[str, Any]) -> Callable[[], bool]:
    """A cheap test for "the client closed the connection", for servers that hand the plain
    socket to the application (gunicorn); elsewhere (TLS in gunicorn, other servers) the next
    write fails instead, at the latest with the next heartbeat."""
    sock = meta.get("gunicorn.socket")
    if (
        not isinstance(sock, socket.socket)
        or isinstance(sock, ssl.SSLSocket)
        or not hasattr(select, "poll")
        or not meta.get("SERVER_PROTOCOL", "").startswith("HTTP/1")
    ):
        return lambda: False
    poller = select.poll()  # not select(): it fails for descriptors past FD_SETSIZE
    poller.register(sock, select.POLLIN | select.POLLPRI)

    def gone() -> bool:
        try:
            if not poller.poll(0):
                return False
            # A GET has no body: readable means EOF (or a reset), or a pipelined request.
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    return gone


def event_stream(
    account_id: int, watcher: Watcher, gone: Callable[[], bool]
) -> Generator[bytes, None, None]:
    """retry, the current counts, then a `change` per change and `counts` after each batch,
    a heartbeat comment when nothing was written for EVENTS_HEARTBEAT_SECONDS."""
    deadline = time.monotonic() + settings.EVENTS_STREAM_SECONDS
    heartbeat = settings.EVENTS_HEARTBEAT_SECONDS
    yield f"retry: {RETRY_MS}\n\n".encode() + counts_event(account_id)
    if not watcher.polls:
        release_connection()
    last_write = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline or gone():
            return
        changes = watcher.wait(min(TICK_SECONDS, deadline - now))
        if changes:
            chunk = b"".join(change_event(c) for c in changes) + counts_event(account_id)
            if not watcher.polls:
                release_connection()
            yield chunk
            last_write = time.monotonic()
        elif time.monotonic() - last_write >= heartbeat:
            yield b": heartbeat\n\n"
            last_write = time.monotonic()


class StreamBody:
    """The response body: iterates the stream, and on close (end, client gone, server
    shutdown, or never iterated at all) releases the watcher and the slot once."""

    def __init__(self, account_id: int, watcher: Watcher, gone: Callable[[], bool]) -> None:
        self._account_id = account_id
        self._watcher = watcher
        self._stream = event_stream(account_id, watcher, gone)
        self._closed = False

    def __iter__(self) -> StreamBody:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._stream)
        except StopIteration:
            self.close()
            raise
        except Exception:
            # A broken Redis or database connection ends this stream; the client reconnects.
            log.warning("event stream of account %s failed", self._account_id, exc_info=True)
            self.close()
            raise StopIteration from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._stream.close()
            self._watcher.close()
        finally:
            SLOTS.give_back(self._account_id)


class _JsonErrorsNegotiation(BaseContentNegotiation):
    """EventSource asks for text/event-stream: the stream sets its own type, and the errors
    before it (401, 429) are JSON whatever Accept says."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return JSONRenderer(), JSONRenderer.media_type


class EventsView(APIView):
    content_negotiation_class = _JsonErrorsNegotiation

    @extend_schema(
        operation_id="events_stream",
        responses={
            (200, "text/event-stream"): OpenApiTypes.STR,
            429: OpenApiResponse(
                ErrorSerializer, description="too_many_streams: close another tab's stream"
            ),
        },
        description="Server-sent events (EventSource). `event: change` data "
        '{"kind": "add"|"flags"|"move"|"expunge"|"folder", "folder_id": N, "message_ids": '
        '[…], "op"?: "create"|"rename"|"delete"|"reindex"}; `event: counts` data {"folders": '
        '[{"id", "message_count", "unseen_count"}]} when the stream starts and after each batch '
        f"of changes; a comment heartbeat when idle; `retry: {RETRY_MS}`. The stream ends "
        "after a few minutes and the browser reconnects. New mail arrives within 2 s.",
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        account_id = current_account(request).pk
        if not SLOTS.take(account_id):
            response = error_response(
                "too_many_streams",
                "Too many open event streams; close another tab or try again later.",
                status.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = "30"
            return response
        try:
            body = StreamBody(account_id, watch(account_id), client_gone_check(request.META))
        except BaseException:
            SLOTS.give_back(account_id)
            raise
        stream = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
        stream["Cache-Control"] = "no-cache, no-store"
        stream["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return stream
