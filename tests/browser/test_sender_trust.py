"""The reading pane's sender marks in Chromium, for mail the live stack's worker examined
against its loopback DNS zone: a verified mark for DMARC pass, one clear warning for a DMARC
fail from a look-alike of our domain with another address in the display name."""

from __future__ import annotations

from typing import Any

import idna
import pytest

from tests.browser.live import DOMAIN, LiveStack
from tests.browser.ui import open_app, tr

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# "browser.test" with a Cyrillic о (U+043E) for the Latin o: an IDN homograph of our domain.
LOOKALIKE = idna.encode(DOMAIN.replace("o", "\u043e", 1)).decode()


def mail(frm: str, to: str, subject: str) -> bytes:
    return (
        f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@x>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n\r\n"
        "Please read.\r\n"
    ).encode()


def test_verified_mark_and_warnings(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("trust")
    stack.zone.add("bank.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    stack.zone.add("_dmarc.bank.example", "TXT", "v=DMARC1; p=reject")
    stack.zone.add(LOOKALIKE, "TXT", "v=spf1 -all")
    stack.zone.add(f"_dmarc.{LOOKALIKE}", "TXT", "v=DMARC1; p=none")
    stack.smtp_send(
        mail("Bank <notice@bank.example>", user.address, "Your statement"),
        [user.address],
        sender="bounce@bank.example",
    )
    forged = f'"ceo@{DOMAIN}" <ceo@{LOOKALIKE}>'
    stack.smtp_send(
        mail(forged, user.address, "Urgent transfer"), [user.address], sender=f"x@{LOOKALIKE}"
    )
    api = stack.api(user)
    api.wait_for("inbox", "Your statement")
    api.wait_for("inbox", "Urgent transfer")

    for lang in ("en", "ko"):
        ui = open_app(pages, user, lang=lang)
        page = ui.page
        ui.open_message("Your statement")
        page.get_by_test_id("trust-verified").wait_for()
        assert tr(lang, "trust.verified") in page.get_by_test_id("trust-verified").inner_text()
        assert page.get_by_role("alert").count() == 0

        ui.open_message("Urgent transfer")
        alert = page.get_by_test_id("trust-warning")
        alert.wait_for()
        assert page.get_by_test_id("trust-verified").count() == 0
        for key in ("dmarc_fail", "lookalike_domain", "display_name_address"):
            assert page.get_by_test_id(f"trust-{key}").is_visible(), key
        text = alert.inner_text()
        assert tr(lang, "trust.warningTitle") in text and DOMAIN in text
