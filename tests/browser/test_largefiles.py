"""대용량 첨부 in a real browser (issue 14 §4): a large file uploaded with interruptions — one
chunk's connection dropped (retried from the server's offset), then the tab reloaded mid-upload
(resumed after picking the same file again) — sent as a link, listed for the local recipient
beside the attachments, downloaded whole and with a range request, byte-exact."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveStack, wait_until
from tests.browser.ui import open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

MIB = 1024 * 1024


def test_large_file_upload_with_interruptions_and_ranged_download(
    stack: LiveStack, pages: Any, new_user: Any, tmp_path: Path
) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    data = os.urandom(40 * MIB + 12345)  # five 8 MiB chunks and a bit
    path = tmp_path / "촬영본.mov"
    path.write_bytes(data)
    ui = open_app(pages, alice)
    api = stack.api(alice)

    patches: list[int] = []

    def interrupt(route: Any) -> None:
        if route.request.method != "PATCH":
            route.continue_()
            return
        patches.append(1)
        # The 2nd chunk's connection drops once (the client asks where the server stands and
        # sends it again); from the 4th request on nothing gets through (then the tab reloads).
        if len(patches) == 2 or len(patches) >= 4:
            route.abort("connectionreset")
        else:
            route.continue_()

    ui.page.route("**/api/v1/largefiles/uploads/*", interrupt)
    ui.button("shell.compose").click()
    ui.page.get_by_test_id("largefile-input").set_input_files(str(path))
    ui.page.get_by_test_id("largefile-item").wait_for()

    def committed() -> int:
        status, files = api.call("GET", "/api/v1/largefiles/limits")
        assert status == 200
        return int(files["used_bytes"])

    # (Playwright's sync API runs route handlers only while it is called: hence the waits.)
    wait_until(
        lambda: ui.page.wait_for_timeout(200) or len(patches) >= 4,
        timeout=90,
        what="the upload to stall",
    )
    upload_id = ui.page.evaluate(
        "() => JSON.parse(localStorage.getItem('mailroom.largeUploads'))[0].id"
    )
    status, session = api.call("GET", f"/api/v1/largefiles/uploads/{upload_id}")
    assert status == 200 and session["offset"] == 16 * MIB, session  # chunks 1 and 2 (retried)
    assert committed() == len(data)  # the declared size is reserved in the quota

    # The tab reloads: the browser forgot the file, the page knows the upload and asks for it.
    ui.page.unroute("**/api/v1/largefiles/uploads/*")
    ui.page.reload()  # compose (its own URL) opens again, with the interrupted upload
    pending = ui.page.get_by_test_id("largefile-pending")
    pending.wait_for()
    assert "pick the same file again" in pending.inner_text()
    ui.page.get_by_test_id("largefile-resume-input").set_input_files(str(path))
    ui.page.get_by_test_id("largefile-ready").wait_for(timeout=120_000)
    status, session = api.call("GET", f"/api/v1/largefiles/uploads/{upload_id}")
    assert session["state"] == "ready" and session["offset"] == len(data)

    ui.add_recipient(bob.address)
    ui.subject().fill("Big video")
    ui.write("The video is linked below.")
    ui.button("compose.send").click()
    wait_until(lambda: api.find("sent", "Big video") is not None, what="the Sent copy")
    # The mail itself is small: the bytes stayed on the server.
    sent = api.find("sent", "Big video")
    assert sent is not None and sent["size"] < 100_000

    bob_ui = open_app(pages, bob)
    bob_ui.row("Big video").wait_for(timeout=30_000)
    bob_ui.open_message("Big video")
    listed = bob_ui.page.get_by_test_id("linked-largefile")
    listed.get_by_text("촬영본.mov").wait_for()
    href = bob_ui.page.get_by_test_id("linked-largefile-download").get_attribute("href")
    assert href and href.startswith("/f/") and href.endswith("/download")

    # A resumed download: a range from the middle, byte-exact, as 206.
    part = bob_ui.page.request.get(
        stack.base_url + href, headers={"Range": f"bytes={10 * MIB}-{20 * MIB + 4}"}
    )
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes {10 * MIB}-{20 * MIB + 4}/{len(data)}"
    assert part.body() == data[10 * MIB : 20 * MIB + 5]
    past = bob_ui.page.request.get(stack.base_url + href, headers={"Range": f"bytes={len(data)}-"})
    assert past.status == 416

    # The whole file through the reading pane's download link.
    with bob_ui.page.expect_download() as info:
        bob_ui.page.get_by_test_id("linked-largefile-download").click()
    saved = Path(info.value.path())
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()

    # The sender sees the download counted, and expires the file early: the link is gone (410).
    ui.open_folder("folder.sent")
    ui.open_message("Big video")
    row = ui.page.get_by_test_id("sent-largefile")
    row.get_by_text(ui.t("largefile.downloads", count=1)).wait_for()
    row.get_by_test_id("sent-largefile-expire").click()
    row.get_by_text(ui.t("largefile.state.revoked")).wait_for()
    page = bob_ui.page.request.get(stack.base_url + href.removesuffix("/download"))
    assert page.status == 410
