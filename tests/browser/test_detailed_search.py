"""상세검색 in a real browser (Korean UI) against the live stack: the panel's fields become
search-box operators, the results are exactly the matching mail, and matched words are
marked in the result rows."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest

from tests.browser.live import LiveStack, wait_until
from tests.browser.test_mail import deliver
from tests.browser.ui import open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def mail(
    to: str, subject: str, text: str, sender: str, attachment: str | None = None
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(text)
    if attachment:
        msg.add_attachment(
            b"%PDF-1.4 x", maintype="application", subtype="pdf", filename=attachment
        )
    return msg


def test_detailed_search_panel(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("dsearch")
    deliver(
        stack,
        user,
        mail(
            user.address,
            "3월 실적 보고",
            "회의를 마쳤습니다.",
            "김민수 <minsu@corp.example>",
            "분기실적_보고서.pdf",
        ),
    )
    deliver(
        stack,
        user,
        mail(
            user.address, "회의 일정", "다음 회의는 금요일입니다.", "박지영 <jiyoung@corp.example>"
        ),
    )
    deliver(
        stack, user, mail(user.address, "Lunch", "No meeting today.", "김민수 <minsu@corp.example>")
    )
    ui = open_app(pages, user, lang="ko")
    page = ui.page
    page.get_by_role("button", name="상세검색").click()
    panel = page.get_by_role("dialog", name="상세검색")
    panel.get_by_test_id("dsearch-from").fill("민수")
    panel.get_by_test_id("dsearch-body").fill("회의")
    panel.get_by_test_id("dsearch-has-attachment").check()
    panel.get_by_test_id("dsearch-submit").click()
    ui.row("3월 실적 보고").wait_for()
    wait_until(lambda: ui.grid().get_by_role("row").count() == 1, 10, "only the one match")
    assert ui.search_box().input_value() == "from:민수 body:회의 has:attachment"
    assert re.search(r"q=from%3A", page.url)
    marks = ui.grid().locator("mark.search-hit")
    wait_until(lambda: marks.count() >= 1, 10, "the matched word is marked")
    assert "회의" in marks.all_inner_texts()

    # The panel opens on the current search; a file-name search finds the attachment's name.
    page.get_by_role("button", name="상세검색").click()
    panel = page.get_by_role("dialog", name="상세검색")
    assert panel.get_by_test_id("dsearch-from").input_value() == "민수"
    panel.get_by_role("button", name="초기화").click()
    panel.get_by_test_id("dsearch-filename").fill("보고서")
    panel.get_by_test_id("dsearch-submit").click()
    wait_until(lambda: ui.search_box().input_value() == "filename:보고서", 10, "new query")
    ui.row("3월 실적 보고").wait_for()
    wait_until(lambda: ui.grid().get_by_role("row").count() == 1, 10, "only the one match")

    # An empty panel says so instead of searching.
    page.get_by_role("button", name="상세검색").click()
    panel = page.get_by_role("dialog", name="상세검색")
    panel.get_by_role("button", name="초기화").click()
    panel.get_by_test_id("dsearch-submit").click()
    assert panel.get_by_role("alert").inner_text() == "검색할 항목을 하나 이상 입력하세요."
