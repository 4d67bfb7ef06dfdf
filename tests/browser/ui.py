"""How the tests find things on screen: by role and accessible name, as a person (or a screen
reader) does, in the language the page shows. The names come from the app's own i18n table
(frontend/src/i18n/messages.ts), so a test reads `ui.button("compose.send")` and works in
English and Korean alike."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from tests.browser.live import ROOT

MESSAGES_TS = ROOT / "frontend" / "src" / "i18n" / "messages.ts"
_ENTRY = re.compile(r'^\s*"?([\w.-]+)"?\s*:\s*("(?:[^"\\\n]|\\.)*")\s*,?\s*$', re.M)


@functools.cache
def dictionaries() -> dict[str, dict[str, str]]:
    source = MESSAGES_TS.read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for lang, start in (("en", "export const en = {"), ("ko", "export const ko: Dictionary = {")):
        begin = source.index(start) + len(start)
        end = source.index("\n}", begin)
        out[lang] = {k: json.loads(v) for k, v in _ENTRY.findall(source[begin:end])}
    # Tables spread into messages.ts from files of their own (i18n/<name>Messages.ts, each
    # with `export const <name>En = {` and `export const <name>Ko… = {`).
    for extra in sorted(MESSAGES_TS.parent.glob("*Messages.ts")):
        text = extra.read_text(encoding="utf-8")
        for lang, marker in (
            ("en", re.compile(r"export const \w+En = \{")),
            ("ko", re.compile(r"export const \w+Ko\b[^=]*= \{")),
        ):
            for m in marker.finditer(text):
                end = text.index("\n}", m.end())
                out[lang].update({k: json.loads(v) for k, v in _ENTRY.findall(text[m.end() : end])})
    return out


def tr(lang: str, key: str, **params: object) -> str:
    text = dictionaries()[lang][key]
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def exact(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class UI:
    def __init__(self, page: Any, lang: str = "en") -> None:
        self.page = page
        self.lang = lang

    def t(self, key: str, **params: object) -> str:
        return tr(self.lang, key, **params)

    # --- the shell -------------------------------------------------------------------------

    def folders(self) -> Any:
        return self.page.get_by_role("navigation", name=self.t("folders.title"))

    def folder(self, key_or_name: str) -> Any:
        """A folder's button: "folder.inbox" etc. for the standard ones, else a name."""
        name = self.t(key_or_name) if key_or_name.startswith("folder.") else key_or_name
        # Not \b: the pattern runs as a JS RegExp, whose \b knows ASCII letters only, so it
        # never matches after a Korean name (받은메일함). The name ends, or a space follows.
        pattern = re.compile(rf"^{re.escape(name)}(?=$|\s)")
        return (
            self.folders()
            .get_by_role("link", name=pattern)
            .or_(self.folders().get_by_role("button", name=pattern))
        )

    def open_folder(self, key_or_name: str) -> None:
        self.folder(key_or_name).first.click()

    def grid(self) -> Any:
        return self.page.get_by_role("grid", name=self.t("list.title"))

    def row(self, subject: str) -> Any:
        return self.grid().get_by_role("row").filter(has_text=subject)

    def open_message(self, subject: str) -> None:
        self.row(subject).first.locator(".subject, [class*=subject]").first.click()
        self.heading(subject).wait_for()

    def heading(self, text: str) -> Any:
        return self.page.get_by_role("heading", name=text)

    def button(self, key: str, **params: object) -> Any:
        return self.page.get_by_role("button", name=exact(self.t(key, **params)))

    def search_box(self) -> Any:
        return self.page.get_by_role("searchbox", name=self.t("search.label"))

    # --- reading -----------------------------------------------------------------------------

    def article(self) -> Any:
        return self.page.get_by_role("article")

    def body(self) -> Any:
        """The sandboxed iframe with the server's body document."""
        return self.page.frame_locator(f'iframe[title="{self.t("view.bodyTitle")}"]').first

    def action(self, key: str) -> Any:
        """A button of the open message's toolbar (Reply, Forward, Delete, Star…)."""
        return self.page.get_by_role("toolbar", name=self.t("view.actions")).get_by_role(
            "button", name=exact(self.t(key))
        )

    # --- writing -----------------------------------------------------------------------------

    def recipients(self, key: str = "compose.to") -> Any:
        return self.page.get_by_role("combobox", name=exact(self.t(key)))

    def add_recipient(self, address: str, key: str = "compose.to") -> None:
        box = self.recipients(key)
        box.fill(address)
        box.press("Tab")  # commits the typed address as a token (as Gmail does)

    def subject(self) -> Any:
        return self.page.get_by_role("textbox", name=exact(self.t("compose.subject")))

    def editor(self) -> Any:
        return self.page.get_by_role("textbox", name=exact(self.t("compose.body")))

    def write(self, text: str) -> None:
        editor = self.editor()
        editor.click()
        self.page.keyboard.press("Control+Home")
        self.page.keyboard.type(text)

    def attach(self, *files: dict[str, Any]) -> None:
        # Compose's own attachment input (the 대용량 첨부 panel has file inputs of its own).
        self.page.get_by_test_id("compose-file-input").set_input_files(list(files))


def open_app(pages: Any, user: Any, lang: str = "en", path: str = "/", **kwargs: Any) -> UI:
    """A new browser context signed in as `user`, showing the mail list."""
    ui = UI(pages.open(user, path, lang=lang, **kwargs), lang)
    ui.grid().wait_for(state="attached")  # an empty grid has no height: not "visible"
    return ui
