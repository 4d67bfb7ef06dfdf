"""메일 필터 in the browser: a user builds a rule in the Korean settings screen (subject
contains a word -> move to a new folder, star it), mail sent to the stack's MX lands there
through the real worker; a broken hand-edited script is refused with its line; the vacation
reply turned on shows the banner."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from tests.browser.live import ROOT, LiveStack, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RULES_TS = ROOT / "frontend" / "src" / "i18n" / "rulesMessages.ts"
_ENTRY = re.compile(r'^\s*"([\w.-]+)"\s*:\s*("(?:[^"\\\n]|\\.)*")\s*,?\s*$', re.M)


def ko(key: str) -> str:
    source = RULES_TS.read_text(encoding="utf-8")
    begin = source.index("export const rulesKo")
    return {k: json.loads(v) for k, v in _ENTRY.findall(source[begin:])}[key]


def test_build_a_rule_and_mail_is_filed_by_it(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("rules")
    page = pages.open(user, "/settings/rules", lang="ko")
    box = page.locator("#settings-rules")
    box.get_by_text(ko("rules.empty")).wait_for()
    page.get_by_test_id("rule-add").click()
    page.get_by_test_id("rule-name").fill("영수증 정리")
    page.get_by_test_id("rule-field").select_option("subject")
    page.get_by_test_id("rule-value").fill("영수증")
    page.get_by_test_id("rule-action-value").fill("영수증")
    box.get_by_role("button", name=ko("rules.addAction")).click()
    page.get_by_test_id("rule-action").nth(1).select_option("star")
    page.get_by_test_id("rules-save").click()
    box.get_by_text(ko("rules.saved")).wait_for()
    script = page.get_by_test_id("rules-script").input_value()
    assert 'fileinto :create "영수증";' in script and "\\\\Flagged" in script

    head = f"From: shop@outside.example\r\nTo: {user.address}\r\nSubject: 주문 영수증\r\n"
    stack.smtp_send((head + "\r\n감사합니다\r\n").encode(), [user.address])
    api = stack.api(user)

    def filed() -> dict[str, Any] | None:
        folder = next((f for f in api.folders() if f["name"] == "영수증"), None)
        return next(iter(api.messages(folder["id"])), None) if folder else None

    message = wait_until(filed, timeout=60, what="the message in 영수증")
    assert message["subject"] == "주문 영수증"
    # A rule's flags are set just after the copy's index commit (DeliveryFilter.after_commit),
    # so the list can show the copy a moment before its star.
    starred = wait_until(
        lambda: next((m for m in [filed()] if m and m["flags"]["flagged"]), None),
        timeout=30,
        what="the rule's star on the message in 영수증",
    )
    assert starred["id"] == message["id"]

    # A hand-written script with a mistake is refused, naming the line.
    page.locator("details.rule-script summary").click()
    page.get_by_test_id("rules-script").fill('require "fileinto";\nfileinto "x"\n')
    page.get_by_test_id("rules-script-save").click()
    assert "line 3" in box.get_by_role("alert").inner_text()


def test_vacation_banner_while_it_is_on(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("away")
    page = pages.open(user, "/settings/vacation", lang="ko")
    page.get_by_test_id("vacation-enabled").check()
    page.locator("#vacation-start").fill(date.today().isoformat())
    page.get_by_test_id("vacation-subject").fill("부재중입니다")
    page.get_by_test_id("vacation-body").fill("다음 주에 답장드리겠습니다.")
    page.get_by_test_id("vacation-save").click()
    page.locator("#settings-vacation [role=status]").wait_for()
    page.get_by_test_id("settings-close").click()
    banner = page.get_by_test_id("vacation-banner")
    banner.wait_for()
    assert ko("vacation.banner") in banner.inner_text()
