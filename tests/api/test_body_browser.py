"""The body endpoint in a real browser (Debian's Chromium through Playwright): framed by a
same-origin page in the sandbox the app uses, inline images load through their signed URLs
although the opaque-origin frame sends no cookies, remote images stay off until allowed, and
nothing in the mail runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mailcore.directory.models import Account
from mailcore.store.models import Message
from tests.api.helpers import png_bytes, put

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--headless",
    "--disable-background-networking",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.*",
]
SANDBOX = "allow-popups allow-popups-to-escape-sandbox"  # what the app's <iframe> uses


class _Tracker(ThreadingHTTPServer):
    """A remote image host on the loopback that remembers what was fetched from it."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                tracker.hits.append(self.path)
                body = png_bytes(2, 2)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def live_server(transactional_db: None) -> Iterator[Any]:
    # pytest-django's own fixture listens on "localhost", which the browser's resolver rules
    # (nothing resolves) refuse; this one is on 127.0.0.1, a free port.
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1:0")
    yield server
    server.stop()


@pytest.fixture
def tracker() -> Iterator[_Tracker]:
    server = _Tracker()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop on this thread: no ORM call may happen while it
    # is open, so tests list this fixture after the ones that store their messages.
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} missing: run scripts/ensure-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _signed_in_page(browser: Any, base_url: str, account: Account) -> Any:
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(10_000)
    context.request.get("/api/v1/auth/session")
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(
        "/api/v1/auth/session",
        data={"address": account.address, "password": "correct horse 1"},
        headers={"X-CSRFToken": csrf},
    )
    assert response.status == 200, response.text()
    page = context.new_page()
    page.goto("/healthz")  # any page of the app's origin, to frame the body from
    return page


def _frame_body(page: Any, src: str) -> Any:
    page.evaluate(
        """([src, sandbox]) => new Promise((resolve) => {
            const frame = document.createElement('iframe');
            frame.setAttribute('sandbox', sandbox);
            frame.onload = () => resolve(true);
            frame.src = src;
            document.body.appendChild(frame);
        })""",
        [src, SANDBOX],
    )
    frame = next(f for f in page.frames if f.url.endswith(src))
    frame.wait_for_load_state("load")
    return frame


def _images(frame: Any) -> list[dict[str, Any]]:
    return list(
        frame.evaluate(
            """() => Array.from(document.images).map((img) => ({
                alt: img.alt, src: img.getAttribute('src'), width: img.naturalWidth}))"""
        )
    )


@pytest.fixture
def mixed_message(alice: Account, tracker: _Tracker) -> Message:
    remote = f"http://127.0.0.1:{tracker.server_address[1]}/pixel.png"
    return put(
        alice,
        html=f'<p>Hello</p><img src="cid:logo@x" alt="logo">'
        f'<img src="{remote}" alt="remote"><script>window.parent.pwned = 1</script>'
        f'<a href="https://example.org/">link</a>',
        inline_images=[(png_bytes(), "image/png", "logo@x")],
    )


@pytest.fixture
def remote_message(alice: Account, tracker: _Tracker) -> Message:
    remote = f"http://127.0.0.1:{tracker.server_address[1]}/banner.png"
    return put(alice, html=f'<img src="{remote}" alt="remote">')


def test_sandboxed_body_loads_signed_inline_images_without_cookies(
    alice: Account, live_server: Any, tracker: _Tracker, mixed_message: Message, browser: Any
) -> None:
    message = mixed_message
    page = _signed_in_page(browser, live_server.url, alice)
    image_requests: list[Any] = []
    body_requests: list[Any] = []
    page.on("request", lambda r: image_requests.append(r) if "/cid/" in r.url else None)
    page.on("request", lambda r: body_requests.append(r) if "/body" in r.url else None)

    frame = _frame_body(page, f"/api/v1/messages/{message.pk}/body")

    assert frame.evaluate("() => document.querySelector('p').textContent") == "Hello"
    images = {i["alt"]: i for i in _images(frame)}
    assert images["logo"]["width"] == 1  # decoded: the signed URL worked
    assert images["remote"]["src"] is None and images["remote"]["width"] == 0
    assert tracker.hits == []
    # The premise of signed URLs: the sandboxed frame's image request carries no cookie.
    # The frame's own navigation (started by the app's page) is signed in by its cookie; the
    # image request made from inside the sandbox has none.
    (body_request,) = body_requests
    assert "sessionid=" in body_request.all_headers()["cookie"]
    (cid_request,) = image_requests
    assert "cookie" not in cid_request.all_headers()
    assert "sig=" in cid_request.url
    # The frame's document has an opaque origin and ran nothing from the mail.
    assert frame.evaluate("() => window.origin") == "null"
    assert page.evaluate("() => window.pwned === undefined")
    link = frame.evaluate("() => document.querySelector('a').target")
    assert link == "_blank"


def test_remote_images_load_only_when_asked(
    alice: Account, live_server: Any, tracker: _Tracker, remote_message: Message, browser: Any
) -> None:
    message = remote_message
    page = _signed_in_page(browser, live_server.url, alice)

    frame = _frame_body(page, f"/api/v1/messages/{message.pk}/body")
    assert _images(frame)[0]["width"] == 0
    assert tracker.hits == []

    frame = _frame_body(page, f"/api/v1/messages/{message.pk}/body?images=1")
    frame.wait_for_function("() => document.images[0].complete")
    assert _images(frame)[0]["width"] == 2
    assert tracker.hits == ["/banner.png"]
