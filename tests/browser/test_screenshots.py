"""Screenshots of the main screens — inbox, a message, compose, settings — in Korean and
English, at desktop (1366×850) and phone (390×844) width.

`make screenshots` sets MAILROOM_SCREENSHOTS=docs/screenshots and refreshes the committed
pictures the README shows; in `make test` they go to a temporary directory (the screens are
still rendered and checked, nothing in the tree changes)."""

from __future__ import annotations

import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.live import ROOT, LiveStack, User
from tests.browser.ui import open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

NEWSLETTER = """<div style="max-width:560px;font-family:sans-serif;color:#222">
<h2 style="color:#0b5cad">Mailroom 소식 · November</h2>
<p>안녕하세요, 지우 님. This month: <b>live updates</b> in the browser, search across all
folders, and drafts that save themselves while you write.</p>
<ul><li>새 메일이 새로고침 없이 바로 보입니다.</li><li>Attachments up to 25 MB.</li></ul>
<p style="color:#666;font-size:13px">You get this because you subscribed at mailroom.test.</p>
</div>"""

MAILBOX = [
    (
        "Park Minsu <minsu@partner.example>",
        "다음 주 회의 일정 확인 부탁드립니다",
        "화요일 오후 3시 괜찮으신가요?",
        False,
    ),
    ("Lena Fischer <lena@design.example>", "New logo drafts (v3)", "Three options attached.", True),
    (
        "국세청 안내 <notice@tax.example>",
        "연말정산 간소화 서비스 개통 안내",
        "올해 연말정산 자료를 확인하세요.",
        False,
    ),
    ("Tom Baker <tom@outside.example>", "Lunch on Friday?", "Shall we try the new place?", False),
    ("Mailroom News <news@mailroom.example>", "Mailroom 소식 · November", None, False),
    ("김하늘 <haneul@school.example>", "사진 보내드려요", "지난 주말 사진입니다.", True),
    (
        "GitHub <noreply@github.example>",
        "[mailroom] CI passed on main",
        "All checks have passed.",
        False,
    ),
    (
        "Ana Souza <ana@travel.example>",
        "Flight itinerary: ICN → LIS",
        "Your booking is confirmed.",
        False,
    ),
]


def seed(stack: LiveStack) -> User:
    user = stack.new_user("jiwoo", display_name="Kim Jiwoo 김지우")
    for sender, subject, text, attach in MAILBOX:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = f"Kim Jiwoo <{user.address}>"
        msg["Subject"] = subject
        if text is None:
            msg.set_content("Mailroom news, November.")
            msg.add_alternative(NEWSLETTER, subtype="html")
        else:
            msg.set_content(f"{text}\n\n— {sender.split('<')[0].strip()}")
        if attach:
            msg.add_attachment(
                b"%PDF-1.4\n" + bytes(2048),
                maintype="application",
                subtype="pdf",
                filename="files.pdf",
            )
        stack.smtp_send(msg, [user.address])
    api = stack.api(user)
    api.wait_for("inbox", MAILBOX[0][1])
    # A few read, one starred: the list shows every state.
    for m in api.messages(api.folder("inbox")["id"])[3:]:
        api.call("PATCH", f"/api/v1/messages/{m['id']}", {"seen": True})
    starred = api.find("inbox", "New logo drafts (v3)")
    assert starred
    api.call("PATCH", f"/api/v1/messages/{starred['id']}", {"flagged": True})
    return user


@pytest.fixture(scope="module")
def jiwoo(stack: LiveStack) -> User:
    return seed(stack)


def out_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("MAILROOM_SCREENSHOTS")
    path = (ROOT / configured) if configured else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_screenshots(pages: Any, jiwoo: User, lang: str, size: str, tmp_path: Path) -> None:
    target = out_dir(tmp_path)
    viewport = DESKTOP if size == "desktop" else PHONE
    ui = open_app(pages, jiwoo, lang=lang, viewport=viewport)
    ui.row("Lunch on Friday?").wait_for()
    shots: list[Path] = []

    def shot(screen: str) -> None:
        # Not "networkidle": the live event stream keeps a request open for good.
        ui.page.evaluate("() => document.fonts.ready.then(() => null)")
        ui.page.wait_for_timeout(400)
        path = target / f"{lang}-{size}-{screen}.png"
        ui.page.screenshot(path=str(path), animations="disabled", caret="hide")
        shots.append(path)

    shot("inbox")
    ui.open_message("Mailroom 소식 · November")
    ui.body().get_by_text("live updates").wait_for()
    shot("message")
    ui.page.goto("/compose")
    ui.add_recipient("minsu@partner.example")
    ui.subject().fill("Re: 다음 주 회의 일정" if lang == "ko" else "Re: next week's meeting")
    ui.write(
        "화요일 3시 좋습니다. 회의실은 제가 잡을게요." if lang == "ko" else "Tuesday at 3 works."
    )
    shot("compose")
    ui.page.goto("/settings")
    ui.heading(ui.t("settings.title")).first.wait_for()
    shot("settings")
    for path in shots:
        assert path.stat().st_size > 8_000, f"{path} looks blank"
