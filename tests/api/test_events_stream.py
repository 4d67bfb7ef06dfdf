"""GET /api/v1/events over real HTTP: Django's live server thread (both change sources: Redis
pub/sub and counter polling), SMTP in → event out, the caps, the lifetime, and the production
web process (gunicorn gthread, as runall starts it) noticing a closed client at once."""

from __future__ import annotations

import http.client
import json
import os
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.authtoken.models import Token

from mailcore.directory.models import Account
from mailcore.management.commands.runall import web_argv
from mailcore.store.actions import (
    do_append,
    do_create_folder,
    do_delete_folder,
    do_move,
    do_rename_folder,
    do_set_flags,
)
from tests.api.helpers import build_message, folder
from tests.conftest import database_url, run_queue
from webmail.api.events import SLOTS

pytestmark = pytest.mark.django_db(transaction=True)
REDIS_URL = "redis://127.0.0.1:6379/2"
ROOT = Path(__file__).resolve().parents[2]


def token_of(account: Account) -> str:
    return Token.objects.get_or_create(user=account)[0].key


class EventClient:
    """A raw HTTP/1.1 EventSource: one GET, then events parsed off the socket as they come."""

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.conn.request("GET", "/api/v1/events", headers=headers)
        # http.client lets go of the socket for a body that ends with the connection.
        self.sock = self.conn.sock
        assert self.sock is not None
        self.response = self.conn.getresponse()
        self.comments = 0
        self.retry: int | None = None

    def next_event(self, timeout: float = 5.0) -> tuple[str, Any] | None:
        """The next event, or None when the stream ended; TimeoutError after `timeout`
        seconds (heartbeat comments do not count as events)."""
        deadline = time.monotonic() + timeout
        event, data = "message", []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            raw = self.response.fp.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if line == "":
                if data:
                    return event, json.loads("\n".join(data))
                continue
            if line.startswith(":"):
                self.comments += 1
            elif line.startswith("retry: "):
                self.retry = int(line[7:])
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])

    def wait_for(self, match: Any, timeout: float = 2.0) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("expected event did not arrive in time")
            try:
                got = self.next_event(timeout=left)
            except TimeoutError:
                raise AssertionError("expected event did not arrive in time") from None
            assert got is not None, "stream ended"
            if match(*got):
                return got

    def close(self) -> None:
        self.response.close()
        self.conn.close()
        self.sock.close()


@pytest.fixture
def events(live_server: Any) -> Iterator[Any]:
    url = urlsplit(live_server.url)
    clients: list[EventClient] = []

    def connect(account: Account | None) -> EventClient:
        client = EventClient(url.hostname or "", url.port or 80, account and token_of(account))
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
    # The live server notices a closed client when a heartbeat (1 s here) fails to go out;
    # let its stream threads finish before the test database goes away.
    deadline = time.monotonic() + 8
    while SLOTS.open_streams() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture(params=["redis", "polling"])
def source(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.REDIS_URL = REDIS_URL if request.param == "redis" else ""
    settings.EVENTS_HEARTBEAT_SECONDS = 1
    return str(request.param)


def is_change(kind: str, folder_id: int, message_id: int | None = None) -> Any:
    def match(event: str, data: Any) -> bool:
        return (
            event == "change"
            and data["kind"] == kind
            and data["folder_id"] == folder_id
            and (message_id is None or message_id in data["message_ids"])
        )

    return match


def test_new_mail_reaches_an_open_stream_within_two_seconds(
    alice: Account, bob: Account, events: Any, source: str
) -> None:
    inbox = folder(alice)
    stream = events(alice)
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    assert "no-cache" in stream.response.getheader("Cache-Control")
    first = stream.next_event()
    assert first is not None and first[0] == "counts"
    assert stream.retry == 2000
    assert {f["id"] for f in first[1]["folders"]} == {
        f.pk
        for f in alice.folders.all()  # type: ignore[attr-defined]
    }

    bobs_stream = events(bob)
    bobs_stream.next_event()
    message = do_append(acting_account=alice, folder=inbox, data=build_message())
    event = stream.wait_for(is_change("add", inbox.pk, message.pk), timeout=2.0)
    assert event[1]["message_ids"] == [message.pk]
    _, counts = stream.wait_for(lambda e, d: e == "counts", timeout=2.0)
    mine = {f["id"]: f for f in counts["folders"]}
    assert (mine[inbox.pk]["message_count"], mine[inbox.pk]["unseen_count"]) == (1, 1)
    # Bob's stream hears nothing of Alice's mail (only heartbeats within a second or two).
    with pytest.raises(AssertionError):
        bobs_stream.wait_for(lambda e, d: e == "change", timeout=1.5)


def test_flags_moves_and_folders_are_streamed(alice: Account, events: Any, source: str) -> None:
    inbox, trash = folder(alice), folder(alice, "trash")
    message = do_append(acting_account=alice, folder=inbox, data=build_message())
    stream = events(alice)
    stream.next_event()  # counts
    do_set_flags(acting_account=alice, messages=[message], add=["seen"])
    stream.wait_for(is_change("flags", inbox.pk, message.pk))
    message.refresh_from_db()
    do_move(acting_account=alice, messages=[message], destination=trash)
    stream.wait_for(is_change("expunge", inbox.pk))
    stream.wait_for(is_change("add", trash.pk, message.pk))
    work = do_create_folder(acting_account=alice, name="Work")
    _, created = stream.wait_for(is_change("folder", work.pk))
    assert created["op"] == "create"
    do_rename_folder(acting_account=alice, folder=work, name="Projects")
    _, renamed = stream.wait_for(is_change("folder", work.pk))
    assert renamed["op"] == "rename"
    work_id = work.pk
    do_delete_folder(acting_account=alice, folder=work)
    _, deleted = stream.wait_for(is_change("folder", work_id))
    assert deleted["op"] == "delete"


def test_mail_over_smtp_is_pushed(
    alice: Account, events: Any, source: str, smtp_server: tuple[str, int]
) -> None:
    stream = events(alice)
    stream.next_event()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Bob <bob@elsewhere.test>", "alice@example.com", "Hi"
    msg.set_content("pushed")
    with smtplib.SMTP(*smtp_server, timeout=10) as client:
        client.send_message(msg)
    run_queue()  # the delivery worker's task body, in this process
    stream.wait_for(is_change("add", folder(alice).pk), timeout=2.0)


def test_heartbeats_and_the_stream_ends(alice: Account, events: Any, settings: Any) -> None:
    settings.REDIS_URL = ""
    settings.EVENTS_HEARTBEAT_SECONDS = 1
    settings.EVENTS_STREAM_SECONDS = 3
    stream = events(alice)
    started = time.monotonic()
    stream.next_event()
    while stream.next_event(timeout=5) is not None:
        pass
    assert 2.5 < time.monotonic() - started < 6
    assert stream.comments >= 1


def test_needs_authentication(events: Any, db: None) -> None:
    stream = events(None)
    assert stream.response.status in (401, 403)
    assert stream.response.getheader("Content-Type") == "application/json"
    assert "error" in json.loads(stream.response.read())


def test_streams_are_capped_per_user_and_slots_come_back(
    alice: Account, bob: Account, events: Any, settings: Any
) -> None:
    settings.REDIS_URL = ""
    settings.EVENTS_MAX_STREAMS_PER_USER = 1
    settings.EVENTS_HEARTBEAT_SECONDS = 1
    first = events(alice)
    first.next_event()
    refused = events(alice)
    assert refused.response.status == 429
    assert refused.response.getheader("Retry-After") == "30"
    assert json.loads(refused.response.read())["error"] == "too_many_streams"
    other = events(bob)
    assert other.response.status == 200  # Bob has his own allowance
    first.close()
    # The live server only learns of the closed socket when a heartbeat fails to go out.
    deadline = time.monotonic() + 6
    while True:
        again = events(alice)
        if again.response.status == 200:
            break
        again.close()
        assert time.monotonic() < deadline, "the closed stream's slot never came back"
        time.sleep(0.3)


# --- the production web process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gunicorn(settings: Any) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "EVENTS_MAX_STREAMS_PER_USER": "1",
        "EVENTS_HEARTBEAT_SECONDS": "15",
        "LOG_LEVEL": "WARNING",
    }
    argv = web_argv(sys.executable, f"127.0.0.1:{port}", workers=1, threads=4)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "gunicorn exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_gthread_web_process_streams_and_notices_closed_clients(
    alice: Account, gunicorn: tuple[str, int]
) -> None:
    token = token_of(alice)
    first = EventClient(*gunicorn, token)
    try:
        assert first.response.status == 200
        first.next_event()
        message = do_append(acting_account=alice, folder=folder(alice), data=build_message())
        first.wait_for(is_change("add", folder(alice).pk, message.pk), timeout=2.0)
        second = EventClient(*gunicorn, token)
        assert second.response.status == 429
        second.close()
    finally:
        first.close()
    # Heartbeats are 15 s apart here: only the socket check can free the slot this soon.
    deadline = time.monotonic() + 3
    while True:
        again = EventClient(*gunicorn, token)
        status = again.response.status
        again.close()
        if status == 200:
            break
        assert time.monotonic() < deadline, "the server did not notice the closed client"
        time.sleep(0.2)
