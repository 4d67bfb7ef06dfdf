"""2단계 인증 in Debian's Chromium: enrol an authenticator app from Settings (the code computed
with pyotp from the key the page shows) and sign in with it; enrol a passkey on the DevTools
protocol's virtual authenticator (CTAP2, internal, resident keys, user verified) and sign in
with it. The passkey test runs on http://localhost: WebAuthn refuses an IP address as RP ID."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import Pages
from tests.browser.live import CHROMIUM_ARGS, LiveStack, User, chromium_path, sign_in
from tests.browser.ui import UI


def password_step(page: Any, user: User) -> None:
    page.goto("/")
    page.get_by_test_id("login-address").fill(user.address)
    page.get_by_test_id("login-password").fill(user.password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("second-factor")).to_be_visible()


def test_enrol_totp_and_sign_in_with_it(pages: Pages, stack: LiveStack) -> None:
    user = stack.new_user("totp")
    page = pages.open(user, "/settings/two-factor")
    page.get_by_test_id("totp-start").click()
    expect(page.locator("img.totp-qr")).to_be_visible()  # the QR code, as an image
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_test_id("totp-code").fill(pyotp.TOTP(secret).now())
    page.get_by_test_id("totp-confirm").click()
    codes = page.get_by_test_id("recovery-codes").locator("code")
    expect(codes).to_have_count(10)
    expect(page.get_by_test_id("two-factor-mail-apps")).to_be_visible()

    # A fresh browser: the password alone leads to the second step, the code to the mail.
    fresh = pages.page(pages.context())
    password_step(fresh, user)
    expect(UI(fresh).folders()).to_have_count(0)
    # The step after the one used to confirm (±1 step is accepted; a used one never is).
    fresh.get_by_test_id("second-factor-code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    fresh.get_by_test_id("second-factor-submit").click()
    expect(UI(fresh).folders()).to_be_visible()


def test_enrol_a_passkey_and_sign_in_with_it(pages: Pages, stack: LiveStack) -> None:
    user = stack.new_user("passkey")
    base = stack.base_url.replace("127.0.0.1", "localhost")
    # The shared browser resolves no name at all; this one also resolves localhost (the
    # loopback still), which WebAuthn needs as a secure context over plain HTTP.
    args = [
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.*, EXCLUDE localhost"
        if a.startswith("--host-resolver-rules=")
        else a
        for a in CHROMIUM_ARGS
    ]
    browser = pages.chromium.browser_type.launch(executable_path=chromium_path(), args=args)
    try:
        _passkey_ceremonies(pages, browser, base, user)
    finally:
        browser.close()


def _passkey_ceremonies(pages: Pages, browser: Any, base: str, user: User) -> None:
    context = browser.new_context(base_url=base)
    page = pages.page(context)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    sign_in(context, base, user)
    page.goto("/settings/two-factor")
    page.get_by_test_id("passkey-name").fill("Test laptop")
    page.get_by_test_id("passkey-add").click()
    expect(page.get_by_test_id("recovery-codes").locator("code")).to_have_count(10)
    expect(page.get_by_test_id("passkeys")).to_contain_text("Test laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1
    count_after_enrolment = stored["credentials"][0]["signCount"]

    # Signed out (same page: the virtual authenticator lives on it), then in with the passkey.
    context.clear_cookies()
    password_step(page, user)
    page.get_by_test_id("use-passkey").click()
    expect(UI(page).folders()).to_be_visible()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert stored["credentials"][0]["signCount"] > count_after_enrolment
