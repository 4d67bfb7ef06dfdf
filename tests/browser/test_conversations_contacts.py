"""Conversations and the address book in Chromium against the live stack: the grouping
switch (one row per conversation with its count, the conversation across Inbox and Sent with
older messages collapsed, and back), and 주소록: add a contact into a new group, import a
CP949 CSV, then address the group and a contact through compose autocomplete and send."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.live import LiveStack, wait_until
from tests.browser.test_everyday import axe
from tests.browser.ui import open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def _mail(to: str, subject: str, msgid: str, refs: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "박민수 <minsu@outside.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    if refs:
        msg["References"] = refs
        msg["In-Reply-To"] = refs.split()[-1]
    msg.set_content(f"{subject} 본문")
    return msg


def test_grouping_by_conversation_on_and_off(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("threads")
    api = stack.api(user)
    stack.smtp_send(_mail(user.address, "견적서 요청", "<q1@outside.example>"), [user.address])
    first = api.wait_for("inbox", "견적서 요청", timeout=120)
    # My answer, sent from the webmail API, lands in Sent in the same conversation.
    status, _ = api.call(
        "POST",
        "/api/v1/messages/send",
        {"mode": "reply", "in_reply_to_message": first["id"], "text": "보내드립니다"},
    )
    assert status == 201
    stack.smtp_send(
        _mail(
            user.address,
            "회신: 견적서 요청",
            "<q2@outside.example>",
            "<q1@outside.example> <x@elsewhere>",
        ),
        [user.address],
    )
    stack.smtp_send(_mail(user.address, "다른 이야기", "<o@outside.example>"), [user.address])
    latest = api.wait_for("inbox", "회신: 견적서 요청", timeout=120)
    api.wait_for("inbox", "다른 이야기", timeout=120)

    ui = open_app(pages, user, lang="ko")
    rows = ui.grid().get_by_role("row")
    expect(rows).to_have_count(3)
    toggle = ui.page.get_by_role("checkbox", name=ui.t("conv.toggle"))
    toggle.check()
    expect(rows).to_have_count(2)
    head = ui.page.get_by_test_id(f"message-{latest['id']}")
    expect(head.get_by_test_id(f"conv-count-{latest['id']}")).to_have_text("3")
    # Stored per user: still grouped after a reload.
    ui.page.reload()
    expect(ui.grid().get_by_role("row")).to_have_count(2)
    expect(ui.page.get_by_role("checkbox", name=ui.t("conv.toggle"))).to_be_checked()

    head.locator(".subject").click()
    conversation = ui.page.get_by_test_id("conversation")
    expect(conversation).to_contain_text(ui.t("conv.title", count=3))
    # Opening the conversation read all of it (Naver, Gmail), not only the row clicked.
    wait_until(
        lambda: api.call("GET", f"/api/v1/messages/{first['id']}")[1]["flags"]["seen"] is True,
        30,
        "the older unread mail marked read",
    )
    # The first mail is collapsed to one line; the Sent answer is there, from 보낸메일함.
    older = conversation.get_by_test_id(f"conv-item-{first['id']}")
    expect(older).to_contain_text("박민수")
    expect(conversation.locator(".folder-chip", has_text=ui.t("folder.sent"))).to_have_count(1)
    older.click()
    expect(conversation.get_by_test_id(f"conv-open-{first['id']}")).to_be_visible()
    expect(conversation.get_by_test_id(f"conv-item-{first['id']}")).to_have_count(0)

    ui.page.get_by_role("checkbox", name=ui.t("conv.toggle")).uncheck()
    expect(ui.grid().get_by_role("row")).to_have_count(3)
    wait_until(
        lambda: api.call("GET", "/api/v1/settings")[1]["group_by_conversation"] is False,
        30,
        "the setting stored off",
    )


NAVER_CSV = (
    "이름,이메일,휴대폰,회사,메모,그룹\r\n"
    "이영희,younghee@outside.example,010-2222-3333,카카오,,가족\r\n"
)


def test_address_book_flow_with_autocomplete(
    stack: LiveStack, pages: Any, new_user: Any, tmp_path: Path
) -> None:
    user = new_user("book")
    ui = open_app(pages, user, lang="ko")
    ui.page.get_by_test_id("contacts-link").click()
    ui.heading(ui.t("contacts.title")).wait_for()

    ui.page.get_by_test_id("new-group").click()
    ui.page.get_by_role("textbox", name=ui.t("contacts.groupName")).fill("가족")
    ui.page.get_by_test_id("group-save").click()
    group = ui.page.get_by_role("navigation", name=ui.t("contacts.groups")).get_by_role(
        "button", name=re.compile("^가족")
    )
    expect(group).to_be_visible()

    ui.page.get_by_test_id("contact-add").click()
    form = ui.page.get_by_test_id("contact-form")
    form.get_by_label(ui.t("contacts.name")).fill("김민수")
    form.get_by_label(ui.t("contacts.addresses")).fill(
        "minsu@outside.example\nminsu2@outside.example"
    )
    form.get_by_label(ui.t("contacts.company")).fill("네이버")
    form.get_by_role("checkbox", name="가족").check()
    form.get_by_test_id("contact-save").click()
    table = ui.page.get_by_test_id("contact-table")
    expect(table).to_contain_text("minsu2@outside.example")

    csv = tmp_path / "naver.csv"
    csv.write_bytes(NAVER_CSV.encode("cp949"))
    ui.page.get_by_test_id("contact-import").set_input_files(str(csv))
    expect(ui.page.get_by_test_id("contact-notice")).to_contain_text(
        ui.t("contacts.imported", created=1, updated=0, skipped=0)
    )
    expect(table).to_contain_text("이영희")
    axe(ui.page, "address book")
    group.click()
    expect(table.get_by_role("row")).to_have_count(3)  # header + 2 members

    # Compose: the group is one recipient; a contact comes up by company.
    ui.page.goto("/compose")
    to = ui.recipients()
    to.fill("가족")
    option = ui.page.get_by_role("option").filter(has_text=ui.t("contacts.groupMembers", count=2))
    option.click()
    expect(ui.page.get_by_test_id("recipient-token")).to_contain_text("가족")
    to.fill("네이버")
    ui.page.get_by_role("option").filter(has_text="minsu@outside.example").first.click()
    ui.subject().fill("주말 모임")
    ui.write("토요일에 봐요")
    ui.button("compose.send").click()
    api = stack.api(user)
    sent = api.wait_for("sent", "주말 모임")
    addresses = sorted(a["address"] for a in sent["to"])
    assert addresses == ["minsu@outside.example", "younghee@outside.example"]
