"""The Korean pass: a browser whose language is Korean gets the Korean UI from the first
screen on, reads legacy-charset Korean mail, writes with the Korean controls, and sees new
mail arrive live. Every name is looked up in the app's own ko table (tests/browser/ui.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveStack
from tests.browser.ui import UI, open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

KSC = Path(__file__).resolve().parents[1] / "mail" / "ksc5601_base64.eml"


def test_korean_ui_from_sign_in_to_a_legacy_charset_mail(
    stack: LiveStack, pages: Any, new_user: Any
) -> None:
    user = new_user("hangul")
    stack.smtp_send(KSC.read_bytes(), [user.address], sender="kim@example.kr")
    stack.api(user).wait_for("inbox", "똠방각하 펲시콜라")

    ui = UI(pages.open(None, lang="ko"), "ko")
    ui.heading(ui.t("login.title")).wait_for()
    assert ui.page.evaluate("() => document.documentElement.lang") == "ko"
    ui.page.get_by_label(ui.t("login.address")).fill(user.address)
    ui.page.get_by_label(ui.t("login.password")).fill(user.password)
    ui.button("login.submit").click()
    ui.grid().wait_for(state="attached")
    names = ui.folders().inner_text()
    for key in ("folder.inbox", "folder.sent", "folder.drafts", "folder.trash"):
        assert ui.t(key) in names, (key, names)
    ui.button("shell.compose").wait_for()

    ui.open_message("똠방각하 펲시콜라")
    ui.article().get_by_text(ui.t("view.from")).first.wait_for()
    ui.body().get_by_text("둘째 줄.").wait_for()
    ui.action("view.reply").wait_for()


def test_korean_compose_and_live_arrival(stack: LiveStack, pages: Any, new_user: Any) -> None:
    sender, reader = new_user("minsu"), new_user("jiyoung")
    subject = "회의 일정 안내"
    reader_ui = open_app(pages, reader, lang="ko")
    reader_ui.page.evaluate("() => { window.__noReload = 1 }")

    ui = open_app(pages, sender, lang="ko")
    ui.button("shell.compose").click()
    ui.add_recipient(reader.address)
    ui.subject().fill(subject)
    ui.write("다음 주 화요일 오후 3시에 만나요.")
    ui.button("compose.send").click()

    reader_ui.row(subject).wait_for(timeout=30_000)
    assert reader_ui.page.evaluate("() => window.__noReload") == 1
    reader_ui.open_message(subject)
    reader_ui.body().get_by_text("다음 주 화요일 오후 3시에 만나요.").wait_for()
