"""A hostile HTML mail opened in the browser executes nothing and reaches no remote host until
the reader asks for images.

hostile_canary.eml (an extended copy of tests/mail/hostile_html.eml) tries every way in: script
tags, on* handlers, SVG <animate>/<set>/<use>, javascript:/data: links, meta refresh, <base>,
stylesheets and @import, iframes/objects/embeds/forms/media, mutation XSS, a full-screen CSS
overlay and a remote tracking image. Every script payload sets a canary global (in its own
window, the parent and the top) and beacons to the "remote" host (127.0.0.2), so a script that
ran anywhere is seen twice over."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveStack, RemoteHost
from tests.browser.ui import open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

EML = Path(__file__).with_name("hostile_canary.eml")
# What the remote host may see once images are shown: images only, never a beacon (a script,
# a form, a stylesheet, an object or a frame).
IMAGE_PATHS = {"/track.png?u=1", "/bg.png", "/css-bg.png"}


def canaries(page: Any) -> list[str]:
    """The canary in every frame that can run script at all (the app's own window); a frame
    whose scripts are disabled by its sandbox cannot be evaluated, which is the point."""
    found = []
    for frame in page.frames:
        try:
            value = frame.evaluate("() => window.__canary ?? null")
        except Exception as exc:  # scripts disabled in that frame by its sandbox: nothing ran
            if frame == page.main_frame:
                raise AssertionError(f"cannot evaluate in the app's own window: {exc}") from exc
            continue
        if value is not None:
            found.append(f"{frame.url}: {value}")
    return found


def test_hostile_html_executes_nothing_and_loads_nothing_remote(  # type: ignore[no-untyped-def]
    stack: LiveStack, remote_host: RemoteHost, pages, new_user
) -> None:
    user = new_user("hostile")
    subject = "Hostile canary mail"
    raw = (
        EML.read_bytes()
        .replace(b"REMOTE", remote_host.origin.encode())
        .replace(b"RECIPIENT", user.address.encode())
        .replace(b"SUBJECT", subject.encode())
    )
    stack.smtp_send(raw, [user.address], sender="mallory@hostile.example")
    stack.api(user).wait_for("inbox", subject)
    seen_before = len(remote_host.requests)

    ui = open_app(pages, user)
    page = ui.page
    ui.open_message(subject)
    body = ui.body()
    body.get_by_text("visible hostile text").wait_for()

    # Poke at it as a curious reader would: hover and click what looks clickable.
    for text in ("js link", "entity link", "tab link", "svg set link", "svg xlink", "log in"):
        target = body.get_by_text(text, exact=True)
        if target.count():
            target.first.hover()
            target.first.click(timeout=2000, no_wait_after=True)
    body.get_by_text("good link", exact=True).hover()  # its onmouseover/onclick are gone
    page.wait_for_timeout(1500)  # time for anything scheduled (meta refresh, media, onload)

    assert canaries(page) == [], canaries(page)
    assert len(page.context.pages) == 1, "the mail opened a window"
    assert remote_host.requests[seen_before:] == [], remote_host.requests[seen_before:]
    # The overlay stayed inside the frame and did not become full-screen: the app's own
    # controls are still what a click at their place hits.
    overlay = body.get_by_text("fake sign-in overlay")
    assert overlay.evaluate("e => getComputedStyle(e).position") in ("static", "relative")
    box = overlay.bounding_box()
    frame_box = page.locator(f'iframe[title="{ui.t("view.bodyTitle")}"]').bounding_box()
    assert box and frame_box
    assert box["x"] >= frame_box["x"] - 1 and box["y"] >= frame_box["y"] - 1, (box, frame_box)
    hit = page.evaluate(
        """() => { const b = [...document.querySelectorAll('button')].find(
                        e => e.offsetParent !== null && !e.closest('article'));
                   const r = b.getBoundingClientRect();
                   const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                   return e === b || b.contains(e); }"""
    )
    assert hit, "something covers the app's controls"

    # "Show images": now (and only now) the tracking image is fetched; still nothing runs.
    ui.button("view.showImages").click()
    deadline = time.monotonic() + 10
    while "/track.png?u=1" not in remote_host.requests[seen_before:]:
        assert time.monotonic() < deadline, remote_host.requests[seen_before:]
        page.wait_for_timeout(200)
    body.get_by_text("visible hostile text").wait_for()
    page.wait_for_timeout(1000)
    fetched = set(remote_host.requests[seen_before:])
    assert fetched <= IMAGE_PATHS, fetched - IMAGE_PATHS
    assert not any(re.match(r"/beacon", p) for p in fetched)
    assert canaries(page) == [], canaries(page)
    assert len(page.context.pages) == 1
