"""External mail in the browser (issue 11 §7, §9): a user adds a POP3 account of another
server (Debian's Dovecot on loopback) in the Korean settings screen, is told in Korean words
that the password was refused, corrects it, and sees the account's first run (done by the
stack's real Celery worker) with how many came in; the mail is then in the INBOX."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import ROOT, LiveStack
from tests.fetching.certs import make_ca_and_server
from tests.fetching.dovecot import Dovecot, available

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

FETCH_TS = ROOT / "frontend" / "src" / "i18n" / "fetchMessages.ts"
_ENTRY = re.compile(r'^\s*"([\w.-]+)"\s*:\s*("(?:[^"\\\n]|\\.)*")\s*,?\s*$', re.M)
REMOTE_PASSWORD = "dovecot pass 7"


def ko(key: str, **params: object) -> str:
    source = FETCH_TS.read_text(encoding="utf-8")
    begin = source.index("export const fetchKo")
    table = {k: json.loads(v) for k, v in _ENTRY.findall(source[begin:])}
    text = table[key]
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.fail("Dovecot is missing: run `bash scripts/ensure-imap-tools.sh --dovecot`")
    work = Path(tempfile.mkdtemp(prefix="mailroom-browser-dovecot-"))
    work.chmod(0o755)  # Dovecot's unprivileged auth process reads its passwd file below
    _, cert, key = make_ca_and_server(work / "tls")
    server = Dovecot(work / "dovecot", cert, key, REMOTE_PASSWORD, users_count=3)
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


def test_add_external_account_and_see_its_first_run(
    stack: LiveStack, pages: Any, new_user: Any, dovecot: Dovecot
) -> None:
    remote = dovecot.new_user()
    for subject in ("옛 주소의 메일 1", "옛 주소의 메일 2"):
        dovecot.put(
            remote,
            f"From: friend@old.example\r\nTo: me@old.example\r\nSubject: {subject}\r\n\r\n"
            "hello\r\n".encode(),
        )
    user = new_user("fetcher")
    page = pages.open(user, "/settings/fetch", lang="ko")
    box = page.locator("#settings-fetch")  # the section: the page has other password fields
    box.get_by_text(ko("fetch.empty")).wait_for()
    page.get_by_test_id("fetch-add").click()
    page.get_by_test_id("fetch-protocol").select_option("pop3")
    assert page.get_by_test_id("fetch-port").input_value() == "995"
    box.get_by_label(ko("fetch.host"), exact=True).fill("127.0.0.1")
    page.get_by_test_id("fetch-port").fill(str(dovecot.ports["pop3s"]))
    box.get_by_label(ko("fetch.username"), exact=True).fill(remote)
    box.get_by_label(ko("fetch.password"), exact=True).fill("wrong password")
    page.get_by_test_id("fetch-self-signed").check()  # the stack does not know Dovecot's CA
    page.get_by_test_id("fetch-save").click()
    error = page.get_by_test_id("fetch-form-error")
    error.wait_for()
    text = error.inner_text()
    assert ko("fetch.error.login") in text and "Authentication failed" in text, text

    box.get_by_label(ko("fetch.password"), exact=True).fill(REMOTE_PASSWORD)
    page.get_by_test_id("fetch-save").click()
    row = page.locator("[data-testid^=fetch-account-]")
    row.wait_for()
    assert f"{remote}@127.0.0.1 (POP3, {ko('fetch.kept')})" in row.inner_text()
    # The server queued the first run; the stack's worker does it and the list shows it.
    last_run = page.locator("[data-testid^=fetch-last-run-]")
    last_run.get_by_text(ko("fetch.cameIn", count=2, total=2)).wait_for(timeout=60_000)
    assert page.locator("[data-testid^=fetch-status-]").inner_text() == ko("fetch.ok")

    api = stack.api(user)
    api.wait_for("inbox", "옛 주소의 메일 1")
    api.wait_for("inbox", "옛 주소의 메일 2")
    assert dovecot.count(remote) == 2  # "leave a copy" is on by default
