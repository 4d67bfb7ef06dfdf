"""The admin console (/admin, frontend/src/features/admin/) in Debian's Chromium against the
live stack: a superadmin adds a domain, an account, aliases (a loop refused in words), relay
rules (a wide one confirmed), retries and deletes a queue entry, searches the delivery log and
reads the audit log; a domain admin sees only their domain (another one is "not found"); a
plain user sees no console link and /admin says "not allowed".

A screenshot of every console page (desktop, English; the domains page in Korean too) is saved
under the test's tmp dir, and also under $MAILROOM_SCREENSHOTS (docs/screenshots for the
committed pictures:
`MAILROOM_SCREENSHOTS=docs/screenshots pytest tests/browser/test_admin_console.py`)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import DOMAIN, PASSWORD, ROOT, LiveStack, User, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ADMIN_MESSAGES = ROOT / "frontend" / "src" / "features" / "admin" / "adminMessages.ts"
_ENTRY = re.compile(r'^\s*"([\w.-]+)"\s*:\s*("(?:[^"\\\n]|\\.)*")\s*,?\s*$', re.M)


def korean(key: str) -> str:
    """A string of the console's Korean table (adminMessages.ts)."""
    source = ADMIN_MESSAGES.read_text(encoding="utf-8")
    begin = source.index("export const ko")
    end = source.index("\n};", begin)
    return {k: json.loads(v) for k, v in _ENTRY.findall(source[begin:end])}[key]


def exact(text: str) -> re.Pattern[str]:
    # "/" escaped too: Playwright hands the pattern to JavaScript as /…/.
    return re.compile(r"^\s*" + re.escape(text).replace("/", r"\/") + r"\s*$")


class Shots:
    """Screenshots into the test's tmp dir (artifacts) and, when asked, the docs."""

    def __init__(self, tmp: Path) -> None:
        self.dirs = [tmp]
        configured = os.environ.get("MAILROOM_SCREENSHOTS")
        if configured:
            self.dirs.append(ROOT / configured)
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str) -> None:
        page.evaluate("() => document.fonts.ready.then(() => null)")
        page.wait_for_timeout(300)
        for d in self.dirs:
            path = d / f"admin-{name}.png"
            page.screenshot(path=str(path), animations="disabled", caret="hide")
            self.taken.append(path)
        assert self.taken[-1].stat().st_size > 8_000, f"{name} looks blank"


def make_account(stack: LiveStack, address: str, *extra: str) -> User:
    stack.manage(
        "account", "add", address, "--password-stdin", *extra, stdin=f"{PASSWORD}\n".encode()
    )
    return User(address)


@pytest.fixture(scope="module")
def superadmin(stack: LiveStack) -> User:
    return make_account(stack, f"chief@{DOMAIN}", "--admin", "--name", "Chief Admin")


def heading(page: Any, text: str) -> Any:
    return page.get_by_role("heading", name=exact(text), level=1)


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Admin console sections").get_by_role(
        "link", name=exact(name)
    ).click()


def confirm(page: Any, button: str) -> None:
    dialog = page.get_by_role("alertdialog")
    dialog.get_by_role("button", name=exact(button)).click()
    dialog.wait_for(state="detached")


def outgoing_entry(stack: LiveStack, user: User, to: str) -> str:
    """Mail from `user` to a remote address: it waits in the queue (no resolver reachable)."""
    api = stack.api(user)
    status, body = api.call(
        "POST",
        "/api/v1/messages/send",
        {
            "to": [to],
            "subject": f"Report for {to}",
            "text": "Hello from the admin console test.",
            "priority": "normal",
            "mode": "new",
            "quote": False,
            "to_me": False,
        },
    )
    assert status in (200, 201, 202), (status, body)
    admin = stack.api(User(f"chief@{DOMAIN}"))

    def queued() -> str | None:
        code, page = admin.call("GET", f"/api/v1/admin/queue?recipient={to}")
        assert code == 200, (code, page)
        for item in page["items"]:
            log = item["attempt_log"]
            # Queued, and its first attempt over (the worker holds it meanwhile: 409).
            if item["state"] == "queued" and log and all(a["finished_at"] for a in log):
                return str(item["queue_id"])
        return None

    return str(wait_until(queued, timeout=30, what="the outgoing message in the queue"))


def test_superadmin_runs_the_console(
    pages: Any, stack: LiveStack, superadmin: User, new_user: Any, tmp_path: Path
) -> None:
    shots = Shots(tmp_path)
    sender = new_user("sender")
    queue_id = outgoing_entry(stack, sender, "friend@remote.example")
    bounce_id = outgoing_entry(stack, sender, "other@remote.example")

    page = pages.open(superadmin, "/")
    page.get_by_test_id("admin-link").click()
    heading(page, "Dashboard").wait_for()
    assert page.url.endswith("/admin")
    page.get_by_role("img", name="Messages in and out per day").wait_for()
    shots(page, "dashboard")

    # Domains: add one, then its page with a DKIM key and the DNS check.
    nav(page, "Domains")
    heading(page, "Domains").wait_for()
    form = page.get_by_role("form", name="Add domain")
    form.get_by_label("Domain name").fill("not a domain")
    form.get_by_role("button", name="Add domain").click()
    form.get_by_text("Enter a domain name like example.com.").wait_for()
    form.get_by_label("Domain name").fill("shop.test")
    form.get_by_role("button", name="Add domain").click()
    page.get_by_role("status").filter(has_text="Domain shop.test added.").wait_for()
    domains = page.get_by_role("table", name="Domains")
    domains.get_by_role("link", name=exact("shop.test")).wait_for()
    shots(page, "domains")
    domains.get_by_role("link", name=exact("shop.test")).click()
    heading(page, "shop.test").wait_for()
    assert page.url.endswith("/admin/domains/shop.test")
    page.get_by_text("No DKIM key yet").wait_for()
    page.get_by_role("button", name="Generate DKIM key").click()
    record = page.get_by_role("textbox", name=re.compile(r"^DNS record for "))
    record.wait_for()
    assert "v=DKIM1" in record.input_value()
    page.get_by_role("button", name="Check DNS").click()
    dns = page.get_by_role("table", name="DNS check")
    dns.wait_for(timeout=40_000)
    for kind in ("MX", "SPF", "DKIM", "DMARC"):
        dns.get_by_role("rowheader", name=exact(kind)).wait_for()
    page.get_by_text("Some records are missing or wrong.").wait_for()
    shots(page, "domain")

    # Accounts: create one with a generated password, then its quota and an app password.
    nav(page, "Accounts")
    heading(page, "Accounts").wait_for()
    create = page.get_by_role("form", name="Create account")
    create.get_by_label("Address").fill("sam@shop.test")
    create.get_by_label("Display name").fill("Sam Shop")
    create.get_by_label("Quota (MB)").fill("lots")
    create.get_by_role("button", name="Create account").click()
    create.get_by_text("Enter a number of MB (0 = unlimited).").wait_for()
    create.get_by_label("Quota (MB)").fill("100")
    create.get_by_role("button", name="Create account").click()
    create.get_by_text("The password of sam@shop.test (shown only now):").wait_for()
    generated = create.get_by_role("textbox", name="New password").input_value()
    assert len(generated) >= 12
    page.get_by_role("link", name=exact("sam@shop.test")).wait_for()
    shots(page, "accounts")
    page.get_by_role("link", name=exact("sam@shop.test")).click()
    heading(page, "sam@shop.test").wait_for()
    quota = page.get_by_label("Quota (MB)")
    assert quota.input_value() == "100"
    quota.fill("250")
    page.get_by_role("button", name=exact("Save")).click()
    page.get_by_role("status").filter(has_text="Saved.").first.wait_for()
    page.get_by_label("App name").fill("Phone")
    page.get_by_role("button", name="Create app password").click()
    secret = page.get_by_role("textbox", name="App password Phone (shown only now):")
    assert len(secret.input_value().replace(" ", "")) >= 16
    page.get_by_role("table", name="App passwords").get_by_role(
        "cell", name=exact("Phone")
    ).wait_for()
    shots(page, "account")
    admin_api = stack.api(superadmin)
    status, sam = admin_api.call("GET", "/api/v1/admin/accounts?q=sam@shop.test")
    assert status == 200
    assert sam["items"][0]["quota_bytes"] == 250 * 1024 * 1024

    # Aliases: one to several targets (one a forward), and a loop refused in words.
    nav(page, "Aliases")
    heading(page, "Aliases").wait_for()
    add = page.get_by_role("form", name="Add alias")

    def add_alias(source: str, targets: str) -> None:
        add.get_by_label("Alias address").fill(source)
        add.get_by_label("Targets").fill(targets)
        add.get_by_role("button", name="Add alias").click()

    add_alias("team@shop.test", "sam@shop.test, friend@elsewhere.example")
    add.get_by_text("Alias team@shop.test saved.").wait_for()
    add_alias("ping@shop.test", "pong@shop.test")
    add.get_by_text("Alias ping@shop.test saved.").wait_for()
    add_alias("pong@shop.test", "ping@shop.test")
    refusal = add.get_by_role("alert").filter(has_text="would deliver in a circle")
    refusal.wait_for()
    assert "→" not in refusal.inner_text()  # words, not the server's English detail
    aliases = page.get_by_role("table", name="Aliases")
    aliases.get_by_role("cell", name=re.compile(r"^team@shop\.test")).wait_for()
    aliases.get_by_text("forward").first.wait_for()
    status, found = stack.api(superadmin).call("GET", "/api/v1/admin/aliases?q=pong@shop.test")
    assert status == 200
    assert [a["source"] for a in found["items"]] == ["ping@shop.test"]  # pong was not saved
    shots(page, "aliases")

    # Relay rules: a narrow one, and a wide one only after confirming.
    nav(page, "Relay rules")
    heading(page, "Relay rules").wait_for()
    rule = page.get_by_role("form", name="Add rule")
    rule.get_by_label("Network").fill("192.0.2.0/24")
    rule.get_by_label("Comment").fill("Office printers")
    rule.get_by_role("button", name="Add rule").click()
    rule.get_by_text("Rule for 192.0.2.0/24 added.").wait_for()
    rule.get_by_label("Network").fill("10.0.0.0/8")
    rule.get_by_role("button", name="Add rule").click()
    page.get_by_role("alertdialog", name="A wide network").wait_for()
    confirm(page, "Add anyway")
    rule.get_by_text("Rule for 10.0.0.0/8 added.").wait_for()
    rules = page.get_by_role("table", name="Relay rules")
    rules.get_by_role("cell", name=exact("10.0.0.0/8")).wait_for()
    shots(page, "relay")

    # The queue: filter, retry, look at the entry, delete it.
    nav(page, "Mail queue")
    heading(page, "Mail queue").wait_for()
    page.get_by_role("search").get_by_label("Queue ID").fill(queue_id)
    page.get_by_role("button", name=exact("Filter")).click()
    queue = page.get_by_role("table", name="Mail queue")
    queue.get_by_role("link", name=exact(queue_id)).wait_for()
    shots(page, "queue")
    page.get_by_role("button", name=f"Retry now: {queue_id}").click()
    confirm(page, "Retry now")
    page.get_by_text(f"{queue_id} will be tried again now.").wait_for()

    def retried() -> bool:
        # The worker holds the entry while it tries (delete answers 409 meanwhile): wait
        # until the second attempt is over.
        code, item = admin_api.call("GET", f"/api/v1/admin/queue/{queue_id}")
        assert code == 200, (code, item)
        log = item["attempt_log"]
        return len(log) >= 2 and all(a["finished_at"] for a in log)

    wait_until(retried, timeout=60, what="the retried delivery attempt")
    page.reload()
    heading(page, "Mail queue").wait_for()
    queue.get_by_role("link", name=exact(queue_id)).click(timeout=20_000)
    heading(page, f"Queue entry {queue_id}").wait_for()
    page.get_by_role("table", name="Recipients").get_by_role(
        "cell", name=exact("friend@remote.example")
    ).wait_for()
    shots(page, "queue-entry")
    page.get_by_role("button", name=f"Delete: {queue_id}").click()
    confirm(page, "Delete")
    heading(page, "Mail queue").wait_for()
    assert page.url.endswith("/admin/queue")
    status, entry = admin_api.call("GET", f"/api/v1/admin/queue/{queue_id}")
    assert status == 404, (status, entry)

    # Bounce the other one from the list: the sender gets a DSN, the entry is done.
    page.get_by_role("button", name=f"Bounce: {bounce_id}").click()
    confirm(page, "Bounce")
    page.get_by_text("Recipients bounced: 1.").wait_for()

    # The delivery log keeps the bounced entry with each attempt's reply; search by sender.
    nav(page, "Delivery log")
    heading(page, "Delivery log").wait_for()
    page.get_by_role("search").get_by_label("Sender").fill(sender.address)
    page.get_by_role("button", name=exact("Filter")).click()
    log = page.get_by_role("list", name="Delivery log")
    log.get_by_text(bounce_id, exact=True).wait_for()
    assert log.get_by_text(queue_id, exact=True).count() == 0  # deleted entries leave no trace
    log.get_by_label(f"Details of {bounce_id}").click()
    log.get_by_role("table", name="Delivery attempts").first.wait_for()
    log.get_by_role("cell", name=exact("bounced")).first.wait_for()
    shots(page, "log")

    # The audit log has a row for each change made above, with who and from where.
    nav(page, "Audit log")
    heading(page, "Audit log").wait_for()
    audit = page.get_by_role("table", name="Audit log")
    for target in ("shop.test", "sam@shop.test", "team@shop.test", queue_id, bounce_id):
        audit.get_by_role("cell", name=exact(target)).first.wait_for()
    assert audit.get_by_role("cell", name=exact(superadmin.address)).count() >= 6
    audit.get_by_role("cell", name=exact("127.0.0.1")).first.wait_for()
    shots(page, "audit")

    # One page in Korean.
    ko = pages.open(superadmin, "/admin/domains", lang="ko")
    heading(ko, korean("dom.title")).wait_for()
    ko.get_by_role("link", name=exact("shop.test")).wait_for()
    shots(ko, "ko-domains")


def test_domain_admin_sees_only_their_domain(
    pages: Any, stack: LiveStack, superadmin: User, tmp_path: Path
) -> None:
    stack.manage("domain", "add", "team.test")
    boss = make_account(stack, "boss@team.test", "--admin-of", "team.test")
    make_account(stack, "member@team.test")
    page = pages.open(boss, "/")
    page.get_by_test_id("admin-link").click()
    page.get_by_text("Domain admin of team.test").wait_for()
    sections = page.get_by_role("navigation", name="Admin console sections")
    assert sections.get_by_role("link", name=exact("Relay rules")).count() == 0
    nav(page, "Domains")
    domains = page.get_by_role("table", name="Domains")
    domains.get_by_role("link", name=exact("team.test")).wait_for()
    assert domains.get_by_role("link").count() == 1
    assert page.get_by_role("form", name="Add domain").count() == 0
    nav(page, "Accounts")
    accounts = page.get_by_role("table", name="Accounts")
    accounts.get_by_role("link", name=exact("member@team.test")).wait_for()
    assert accounts.get_by_text(f"@{DOMAIN}").count() == 0
    Shots(tmp_path)(page, "domain-admin")

    # Their domain's mail policies: recall off, saved at once, seen by the API.
    page.goto("/admin/domains/team.test")
    page.get_by_role("heading", name="Mail policies").wait_for()
    recall = page.get_by_label(re.compile("^Recall sent mail"))
    assert recall.input_value() == ""  # the server's default
    recall.select_option("off")
    page.get_by_text("Saved.").wait_for()
    status, policy = stack.api(boss).call("GET", "/api/v1/admin/domains/team.test/policy")
    assert (status, policy["recall_enabled"], policy["forward_outside"]) == (200, False, None)

    # Another domain's page, and an account of another domain, are "not found".
    page.goto(f"/admin/domains/{DOMAIN}")
    heading(page, "Not found").wait_for()
    status, chief = stack.api(superadmin).call("GET", f"/api/v1/admin/accounts?q=chief@{DOMAIN}")
    assert status == 200
    page.goto(f"/admin/accounts/{chief['items'][0]['id']}")
    heading(page, "Not found").wait_for()
    page.goto("/admin/relay")
    heading(page, "Not found").wait_for()


def test_plain_user_has_no_console(pages: Any, new_user: Any) -> None:
    user = new_user("plain")
    page = pages.open(user, "/")
    page.get_by_test_id("settings-link").wait_for()
    assert page.get_by_test_id("admin-link").count() == 0
    page.goto("/admin")
    heading(page, "Not allowed").wait_for()
    assert page.get_by_role("navigation", name="Admin console sections").count() == 0
