"""Containment in Debian's Chromium against the live stack: a held account's user sees the
banner (and mail sent meanwhile says "held"), a superadmin finds the account under "Held
senders" in the admin console and releases it after a confirmation; the list is empty then,
the banner gone and the held mail back in the queue."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.live import DOMAIN, LiveStack, User

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def exact(text: str) -> re.Pattern[str]:
    return re.compile(r"^\s*" + re.escape(text).replace("/", r"\/") + r"\s*$")


def test_admin_releases_a_held_sender_from_the_console(
    pages: Any, stack: LiveStack, new_user: Any
) -> None:
    chief = User(f"contain-chief@{DOMAIN}")
    stack.manage(
        "account",
        "add",
        chief.address,
        "--password-stdin",
        "--admin",
        stdin=f"{chief.password}\n".encode(),
    )
    sender = new_user("held")
    admin = stack.api(chief)
    code, found = admin.call("GET", f"/api/v1/admin/accounts?q={sender.address}")
    assert code == 200, found
    account_id = next(a["id"] for a in found["items"] if a["address"] == sender.address)
    code, held = admin.call(
        "POST", f"/api/v1/admin/accounts/{account_id}/hold", {"detail": "browser test"}
    )
    assert code == 200 and held["held"] is True, held
    code, sent = stack.api(sender).call(
        "POST",
        "/api/v1/messages/send",
        {"to": ["friend@remote.example"], "subject": "While held", "text": "waits"},
    )
    assert code == 201 and sent["held"] is True, sent

    user_page = pages.open(sender, "/")
    banner = user_page.get_by_test_id("sending-hold-banner")
    banner.wait_for()
    assert "Sending from your account is on hold" in banner.inner_text()
    assert "An administrator held it." in banner.inner_text()

    page = pages.open(chief, "/admin/held")
    page.get_by_role("heading", name=exact("Held senders"), level=1).wait_for()
    table = page.get_by_role("table", name="Held senders")
    row = table.get_by_role("row").filter(has_text=sender.address)
    row.wait_for()
    assert "Held by an admin" in row.inner_text()
    assert "1 messages, 1 recipients" in row.inner_text()
    row.get_by_role("button", name=f"Release: {sender.address}").click()
    dialog = page.get_by_role("alertdialog")
    dialog.get_by_text("Its 1 held messages go out now.").wait_for()
    dialog.get_by_role("button", name=exact("Release")).click()
    page.get_by_role("status").filter(
        has_text=f"Released {sender.address}: 1 messages queued."
    ).wait_for()
    page.get_by_text("No account is held.").wait_for()

    code, status = stack.api(sender).call("GET", "/api/v1/sending-status")
    assert code == 200 and status["held"] is False, status
    code, queued = admin.call("GET", "/api/v1/admin/queue?recipient=friend@remote.example")
    assert code == 200 and "paused" not in {i["state"] for i in queued["items"]}, queued
    user_page.reload()
    user_page.get_by_role("navigation").first.wait_for()
    assert user_page.get_by_test_id("sending-hold-banner").count() == 0
