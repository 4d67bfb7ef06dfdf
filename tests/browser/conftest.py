"""Browser tests: ONE live stack per test session (tests/browser/live.py: web, SMTP and a real
Celery worker against a database of their own) and Debian's Chromium driven by Playwright.

Every page opened here fails its test on an uncaught JavaScript error and on any dialog
(alert/confirm/prompt: nothing in a mail may ever open one; the app's own "leave this page?"
is accepted)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import ROOT, LiveStack, RemoteHost, User, launch_chromium, sign_in

DESKTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}
LOCALES = {"en": "en-US", "ko": "ko-KR"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last, so the live stack (a session fixture, torn down at the end of
    the session) never runs beside other tests' workers and databases."""
    browser_dir = ROOT / "tests" / "browser"
    items.sort(key=lambda item: item.path.is_relative_to(browser_dir))


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[LiveStack]:
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("frontend/dist is missing: run `make frontend` (make test does) first")
    live = LiveStack()
    try:
        yield live
    finally:
        live.stop()
        if request.session.testsfailed:  # keep the stack's log and files for the post-mortem
            print(f"browser stack files kept in {live.var} (stack.log: the servers' output)")
        else:
            shutil.rmtree(live.var, ignore_errors=True)


@pytest.fixture(scope="session")
def remote_host() -> Iterator[RemoteHost]:
    host = RemoteHost()
    yield host
    host.stop()


# What one step may take on a loaded 2-core CI machine (CI ran the Vitest suite 5x slower
# than a quiet one): generous, since a passing step never waits for it.
STEP_TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)  # assertions; its own default is 5 s
    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


class Pages:
    """Opens browser contexts (one per user: separate cookies) and checks them at the end."""

    def __init__(self, chromium: Any, stack: LiveStack) -> None:
        self.chromium = chromium
        self.stack = stack
        self.contexts: list[Any] = []
        self.problems: list[str] = []

    def context(self, lang: str = "en", viewport: dict[str, int] | None = None) -> Any:
        ctx = self.chromium.new_context(
            base_url=self.stack.base_url,
            locale=LOCALES[lang],
            viewport=viewport or DESKTOP,
            accept_downloads=True,
        )
        ctx.set_default_timeout(STEP_TIMEOUT_MS)
        self.contexts.append(ctx)
        return ctx

    def page(self, context: Any) -> Any:
        page = context.new_page()

        def on_dialog(dialog: Any) -> None:
            if dialog.type == "beforeunload":  # the app's own "leave with unsaved changes?"
                dialog.accept()
                return
            self.problems.append(f"dialog {dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        return page

    def open(
        self,
        user: User | None,
        path: str = "/",
        lang: str = "en",
        viewport: dict[str, int] | None = None,
    ) -> Any:
        """A new context signed in as `user` (or signed out), showing `path`."""
        ctx = self.context(lang, viewport)
        if user is not None:
            sign_in(ctx, self.stack.base_url, user)
        page = self.page(ctx)
        page.goto(path)
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def pages(
    chromium: Any, stack: LiveStack, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Pages]:
    p = Pages(chromium, stack)
    yield p
    if request.node.stash.get(FAILED, False):  # what the screen showed, for the failure report
        for i, ctx in enumerate(p.contexts):
            for j, page in enumerate(ctx.pages):
                path = tmp_path / f"failure-{i}-{j}.png"
                try:
                    page.screenshot(path=str(path))
                    print(f"screenshot at failure: {path} ({page.url})")
                except Exception as exc:  # the page may be gone
                    print(f"no screenshot of {page.url}: {exc}")
    p.close()
    assert not p.problems, p.problems


@pytest.fixture
def new_user(stack: LiveStack) -> Callable[..., User]:
    return stack.new_user
