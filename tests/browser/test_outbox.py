"""The outbox in a real browser (issue 14 §1-3): schedule a message and see it go out at its
time, undo a send within the window (back in compose with its attachment), recall an unread
local message and see it vanish from the recipient's open list, and read status appearing
when the recipient opens the message."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.live import LiveStack, wait_until
from tests.browser.ui import UI, exact, open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def write(ui: Any, to: str, subject: str, text: str) -> None:
    ui.button("shell.compose").click()
    ui.add_recipient(to)
    ui.subject().fill(subject)
    ui.write(text)


def test_schedule_a_message_and_see_it_go_out(stack: LiveStack, pages: Any, new_user: Any) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    bob_ui = open_app(pages, bob)
    ui = open_app(pages, alice)
    write(ui, bob.address, "Scheduled hello", "See you soon")
    ui.page.get_by_test_id("compose-schedule").check()
    # A minute ahead in the browser's zone: datetime-local has minute precision.
    when = ui.page.evaluate(
        "() => { const d = new Date(Date.now() + 60000); const p = (n) => String(n).padStart(2,"
        " '0'); return `${d.getFullYear()}-${p(d.getMonth()+1)}-${p(d.getDate())}T${p(d.getHours()"
        ")}:${p(d.getMinutes())}`; }"
    )
    ui.page.get_by_test_id("compose-schedule-at").fill(when)
    ui.button("compose.send").click()
    ui.page.get_by_test_id("outbox-scheduled").wait_for()
    ui.page.get_by_test_id("outbox-link").click()
    item = (
        ui.page.get_by_test_id("outbox-view")
        .get_by_role("listitem")
        .filter(has_text="Scheduled hello")
    )
    item.wait_for()
    assert stack.api(bob).find("inbox", "Scheduled hello") is None
    # It goes at its time (within seconds: the web process's timer rings for it), live.
    bob_ui.row("Scheduled hello").wait_for(timeout=90_000)
    ui.page.reload()
    ui.page.get_by_text(ui.t("outbox.empty")).wait_for()


def test_undo_send_within_the_window(stack: LiveStack, pages: Any, new_user: Any) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    api = stack.api(alice)
    assert api.call("PATCH", "/api/v1/outbox/settings", {"undo_seconds": 30})[0] == 200
    ui = open_app(pages, alice)
    write(ui, bob.address, "Oops, wrong draft", "Not yet!")
    ui.attach({"name": "plan.txt", "mimeType": "text/plain", "buffer": b"the plan\n"})
    ui.page.get_by_text("plan.txt").first.wait_for()
    ui.button("compose.send").click()
    ui.button("outbox.undo").click()
    # Back in compose exactly as it was: recipient, subject, body, attachment.
    ui.subject().wait_for()
    assert ui.subject().input_value() == "Oops, wrong draft"
    ui.page.get_by_text("plan.txt").first.wait_for()
    ui.page.get_by_text(bob.address).first.wait_for()
    assert "Not yet!" in ui.editor().inner_text()
    assert api.find("sent", "Oops, wrong draft") is None
    assert api.find("drafts", "Oops, wrong draft") is not None
    time.sleep(3)
    assert stack.api(bob).find("inbox", "Oops, wrong draft") is None


def test_recall_an_unread_message_vanishes_for_the_recipient(
    stack: LiveStack, pages: Any, new_user: Any
) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    status, body = stack.api(alice).call(
        "POST", "/api/v1/messages/send", {"to": [bob.address], "subject": "Recall me", "text": "x"}
    )
    assert status == 201, body
    bob_ui = open_app(pages, bob)
    bob_ui.row("Recall me").wait_for(timeout=30_000)

    ui = open_app(pages, alice)
    ui.open_folder("folder.sent")
    ui.open_message("Recall me")
    panel = ui.page.get_by_test_id("read-status")
    panel.get_by_role("cell", name=exact(ui.t("outbox.state.delivered"))).wait_for()
    ui.page.get_by_test_id("recall-button").click()
    panel.get_by_role("cell", name=exact(ui.t("outbox.state.recalled"))).wait_for()
    # Bob's open list loses it without a reload (the store's change notice).
    bob_ui.row("Recall me").wait_for(state="detached", timeout=30_000)
    assert stack.api(bob).find("inbox", "Recall me") is None


def test_read_status_appears_when_the_recipient_opens_it(
    stack: LiveStack, pages: Any, new_user: Any
) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    status, body = stack.api(alice).call(
        "POST",
        "/api/v1/messages/send",
        {"to": [bob.address], "subject": "Did you read?", "text": "x"},
    )
    assert status == 201, body
    ui = open_app(pages, alice)
    ui.open_folder("folder.sent")
    chip = ui.page.get_by_test_id(f"read-chip-{body['message']['id']}")
    chip.get_by_text(ui.t("outbox.status.unread")).wait_for()

    bob_ui = open_app(pages, bob)
    bob_ui.row("Did you read?").wait_for(timeout=30_000)
    bob_ui.open_message("Did you read?")
    wait_until(
        lambda: (
            stack.api(alice).call("GET", f"/api/v1/messages/{body['message']['id']}/read-status")[
                1
            ]["read"]
            == 1
        ),
        what="the read time",
    )
    ui.open_message("Did you read?")
    ui.page.get_by_test_id("read-summary").get_by_text(
        ui.t("outbox.status.summary", read=1, total=1)
    ).wait_for()
    ui.page.get_by_test_id(f"read-status-{bob.address}").get_by_role(
        "cell", name=re.compile(r"^Read \w")
    ).wait_for()
    ui.page.reload()
    chip.get_by_text(ui.t("outbox.status.read"), exact=True).wait_for()


def test_the_time_zone_of_settings_is_the_pickers(
    stack: LiveStack, pages: Any, new_user: Any
) -> None:
    """A user abroad picks 09:00 of their own zone (Settings → time zone), not of the browser's:
    Pacific/Kiritimati (UTC+14) is nobody's browser here, so the instant proves the setting."""
    alice, bob = new_user("alice"), new_user("bob")
    ui = UI(pages.open(alice, "/settings", lang="en"), "en")
    ui.page.get_by_test_id("settings-time-zone").select_option("Pacific/Kiritimati")
    ui.page.get_by_role("status").filter(has_text=ui.t("settings.saved")).wait_for()
    assert stack.api(alice).call("GET", "/api/v1/settings")[1]["time_zone"] == "Pacific/Kiritimati"
    ui.page.goto("/")
    ui.grid().wait_for(state="attached")
    write(ui, bob.address, "Kiritimati morning", "Good morning")
    ui.page.get_by_test_id("compose-schedule").check()
    day = datetime.now(UTC).date() + timedelta(days=30)
    ui.page.get_by_test_id("compose-schedule-at").fill(f"{day.isoformat()}T09:00")
    ui.button("compose.send").click()
    ui.page.get_by_test_id("outbox-scheduled").wait_for()
    status, outbox = stack.api(alice).call("GET", "/api/v1/outbox")
    assert status == 200
    (item,) = [i for i in outbox if i["subject"] == "Kiritimati morning"]
    sent_at = datetime.fromisoformat(item["send_at"].replace("Z", "+00:00"))
    assert sent_at == datetime(day.year, day.month, day.day, 9, tzinfo=UTC) - timedelta(hours=14)
    # The outbox view says the time in the same zone.
    ui.page.get_by_test_id("outbox-link").click()
    listed = (
        ui.page.get_by_test_id("outbox-view")
        .get_by_role("listitem")
        .filter(has_text="Kiritimati morning")
    )
    listed.wait_for()
    assert re.search(r"\b9:00\b", listed.inner_text()), listed.inner_text()
