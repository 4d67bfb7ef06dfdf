"""The webmail in a real browser against the live stack: sign in, read, write to another local
user and see it arrive live, answer, forward with an attachment, download, flags, move,
delete, search, and a draft that survives a reload. English UI (the Korean pass is
test_korean.py)."""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import LiveStack, User, wait_until
from tests.browser.ui import UI, exact, open_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PAYLOAD = bytes(range(256)) * 40 + "끝 — the end".encode()


def inbound(to: User, subject: str, text: str, sender: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender or "Dana Outside <dana@outside.example>"
    msg["To"] = to.address
    msg["Subject"] = subject
    msg.set_content(text)
    return msg


def deliver(stack: LiveStack, to: User, msg: EmailMessage) -> dict[str, Any]:
    stack.smtp_send(msg, [to.address])
    return stack.api(to).wait_for("inbox", str(msg["Subject"]))


def download(ui: UI, name: str) -> bytes:
    """Clicks the attachment called `name` (shown as stem + extension) and returns the file."""
    stem = name.rsplit(".", 1)[0]
    links = ui.page.get_by_role("region", name=ui.t("view.attachments")).get_by_role("link")
    with ui.page.expect_download() as info:
        links.filter(has_text=stem).first.click()
    dl = info.value
    assert dl.suggested_filename == name, dl.suggested_filename
    return Path(dl.path()).read_bytes()


def same(a: bytes, b: bytes) -> bool:
    return hashlib.sha256(a).digest() == hashlib.sha256(b).digest()


def test_sign_in_with_the_form(pages: Any, new_user: Any) -> None:
    user = new_user("login")
    ui = UI(pages.open(None))
    ui.heading(ui.t("login.title")).wait_for()
    ui.page.get_by_label(ui.t("login.address")).fill(user.address)
    ui.page.get_by_label(ui.t("login.password")).fill("wrong password")
    ui.button("login.submit").click()
    ui.page.get_by_role("alert").filter(has_text=ui.t("login.failed")).wait_for()

    ui.page.get_by_label(ui.t("login.password")).fill(user.password)
    ui.button("login.submit").click()
    ui.grid().wait_for(state="attached")
    # The session is a cookie, not page state: it survives a reload.
    ui.page.reload()
    ui.grid().wait_for(state="attached")
    assert ui.heading(ui.t("login.title")).count() == 0


def test_read_a_message_marks_it_read(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("reader")
    subject = "Quarterly numbers"
    msg = deliver(stack, user, inbound(user, subject, "Revenue is up.\nSee you on Monday."))
    ui = open_app(pages, user)
    ui.open_message(subject)
    ui.article().get_by_text("Dana Outside").first.wait_for()
    ui.body().get_by_text("Revenue is up.").wait_for()
    api = stack.api(user)
    wait_until(lambda: api.message(msg["id"])["flags"]["seen"], 10, "the message marked read")
    # The storage meter under the folders shows the usage the server counts (no quota set).
    status, quota = api.call("GET", "/api/v1/quota")
    assert status == 200 and quota["used_bytes"] > 0 and quota["limit_bytes"] == 0
    meter = ui.page.get_by_test_id("quota")
    meter.wait_for()
    assert re.fullmatch(r"[0-9.]+ (B|KB) used", meter.text_content() or ""), meter.text_content()


def test_attachment_download_matches_the_bytes(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("attach")
    subject = "Report with attachment"
    msg = inbound(user, subject, "The report is attached.")
    msg.add_attachment(
        PAYLOAD, maintype="application", subtype="octet-stream", filename="보고서 2026.bin"
    )
    deliver(stack, user, msg)
    ui = open_app(pages, user)
    ui.open_message(subject)
    assert same(download(ui, "보고서 2026.bin"), PAYLOAD)


def test_send_with_attachment_arrives_live_for_the_other_user(
    stack: LiveStack, pages: Any, new_user: Any, tmp_path: Path
) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    subject = "Lunch on Friday?"
    bob_ui = open_app(pages, bob)  # Bob's inbox is open in another browser context
    bob_ui.page.evaluate("() => { window.__noReload = 'still here' }")

    ui = open_app(pages, alice)
    ui.button("shell.compose").click()
    ui.add_recipient(bob.address)
    ui.subject().fill(subject)
    ui.write("Shall we try the new place?")
    ui.attach({"name": "menu.pdf", "mimeType": "application/pdf", "buffer": PAYLOAD})
    ui.page.get_by_text("menu.pdf").first.wait_for()
    ui.button("compose.send").click()
    ui.page.get_by_text(ui.t("compose.sent.to", list=bob.address)).or_(
        ui.page.get_by_role("status").filter(has_text=bob.address)
    ).first.wait_for()

    # Bob sees it without reloading: the live stream brought it.
    bob_ui.row(subject).wait_for(timeout=30_000)
    assert bob_ui.page.evaluate("() => window.__noReload") == "still here"
    bob_ui.open_message(subject)
    bob_ui.body().get_by_text("Shall we try the new place?").wait_for()
    assert same(download(bob_ui, "menu.pdf"), PAYLOAD)
    sent = stack.api(alice).wait_for("sent", subject)
    assert sent["has_attachments"]


def test_reply(stack: LiveStack, pages: Any, new_user: Any) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    subject = "Budget draft"
    status, body = stack.api(alice).call(
        "POST",
        "/api/v1/messages/send",
        {"to": [bob.address], "subject": subject, "text": "Can you check the budget?"},
    )
    assert status in (200, 201, 202), (status, body)
    stack.api(bob).wait_for("inbox", subject)

    ui = open_app(pages, bob)
    ui.open_message(subject)
    ui.action("view.reply").click()
    ui.editor().wait_for()
    assert ui.subject().input_value().endswith(subject)
    ui.write("Looks fine to me.")
    ui.button("compose.send").click()
    reply = stack.api(alice).wait_for("inbox", f"Re: {subject}")
    full = stack.api(alice).message(reply["id"])
    assert "Looks fine to me." in full["text"]
    assert full["from"]["address"] == bob.address


def test_reply_goes_out_from_the_alias_it_was_sent_to(
    stack: LiveStack, pages: Any, new_user: Any
) -> None:
    """Gmail's "send mail as": a mail to bob's alias is answered from the alias, which the
    From choice shows; reply-all leaves the alias out of the recipients."""
    alice, bob = new_user("alice"), new_user("bob")
    sales = f"sales-{bob.address}"
    stack.manage("alias", "add", sales, bob.address)
    subject = "Quote for 40 chairs"
    msg = inbound(bob, subject, "Please send a quote.", sender=alice.address)
    msg.replace_header("To", sales)
    stack.smtp_send(msg, [sales])
    stack.api(bob).wait_for("inbox", subject)

    ui = open_app(pages, bob)
    ui.open_message(subject)
    ui.action("view.replyAll").click()
    ui.editor().wait_for()
    chooser = ui.page.get_by_role("combobox", name=ui.t("compose.from"))
    assert chooser.input_value() == sales
    assert sales not in (ui.page.get_by_test_id("compose-to").text_content() or "")
    ui.write("The quote is attached in spirit.")
    ui.button("compose.send").click()
    reply = stack.api(alice).wait_for("inbox", f"Re: {subject}")
    full = stack.api(alice).message(reply["id"])
    assert full["from"]["address"] == sales
    assert [a["address"] for a in full["to"]] == [alice.address]


def test_forward_with_attachment(stack: LiveStack, pages: Any, new_user: Any) -> None:
    bob, carol = new_user("bob"), new_user("carol")
    subject = "Signed contract"
    msg = inbound(bob, subject, "Here is the signed contract.")
    msg.add_attachment(PAYLOAD, maintype="application", subtype="pdf", filename="contract.pdf")
    deliver(stack, bob, msg)

    ui = open_app(pages, bob)
    ui.open_message(subject)
    ui.action("view.forward").click()
    ui.editor().wait_for()
    ui.page.get_by_text("contract.pdf").first.wait_for()  # the original's attachment comes along
    ui.add_recipient(carol.address)
    ui.write("FYI, see the attachment.")
    ui.button("compose.send").click()
    stack.api(carol).wait_for("inbox", f"Fwd: {subject}")

    carol_ui = open_app(pages, carol)
    carol_ui.open_message(f"Fwd: {subject}")
    carol_ui.body().get_by_text("FYI, see the attachment.").wait_for()
    assert same(download(carol_ui, "contract.pdf"), PAYLOAD)


def test_star_and_mark_unread(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("flags")
    subject = "Keep this one"
    msg = deliver(stack, user, inbound(user, subject, "Important."))
    api = stack.api(user)
    ui = open_app(pages, user)
    ui.open_message(subject)
    ui.action("view.star").click()
    wait_until(lambda: api.message(msg["id"])["flags"]["flagged"], 10, "starred on the server")
    star = ui.row(subject).get_by_role("button", name=exact(ui.t("list.star")))
    wait_until(lambda: star.get_attribute("aria-pressed") == "true", 10, "the row's star on")

    ui.action("view.markUnread").click()
    wait_until(lambda: not api.message(msg["id"])["flags"]["seen"], 10, "unread on the server")
    # The star in the list toggles it back off.
    star.click()
    wait_until(lambda: not api.message(msg["id"])["flags"]["flagged"], 10, "unstarred")


def test_move_then_delete(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("mover")
    subject = "Project kickoff notes"
    deliver(stack, user, inbound(user, subject, "Agenda attached."))
    deliver(stack, user, inbound(user, "Stays in the inbox", "Not moved."))
    api = stack.api(user)
    status, folder = api.call("POST", "/api/v1/folders", {"name": "Projects"})
    assert status == 201, (status, folder)

    ui = open_app(pages, user)
    ui.row(subject).get_by_role("checkbox").check()
    ui.page.get_by_role("combobox", name=ui.t("bulk.moveTo")).select_option(label="Projects")
    wait_until(lambda: api.find("inbox", subject) is None, 10, "moved out of the inbox")
    assert any(m["subject"] == subject for m in api.messages(folder["id"]))
    ui.row(subject).wait_for(state="detached")
    ui.row("Stays in the inbox").wait_for()

    ui.open_folder("Projects")
    ui.open_message(subject)
    ui.action("view.delete").click()
    wait_until(lambda: api.find("trash", subject) is not None, 10, "moved to Trash")
    ui.row(subject).wait_for(state="detached")
    assert api.messages(folder["id"]) == []


def test_search(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user = new_user("finder")
    deliver(stack, user, inbound(user, "Invoice 4711 from Acme", "Please pay by March."))
    deliver(stack, user, inbound(user, "Holiday photos", "The pelican picture is the best."))
    deliver(stack, user, inbound(user, "Weekly report", "Nothing about birds here."))
    ui = open_app(pages, user)
    box = ui.search_box()
    box.fill("pelican")
    box.press("Enter")
    ui.row("Holiday photos").wait_for()
    wait_until(lambda: ui.grid().get_by_role("row").count() == 1, 10, "only the one match")
    box.fill("acme invoice")
    box.press("Enter")
    ui.row("Invoice 4711 from Acme").wait_for()
    wait_until(lambda: ui.grid().get_by_role("row").count() == 1, 10, "only the one match")


def test_draft_autosave_survives_a_reload(stack: LiveStack, pages: Any, new_user: Any) -> None:
    user, friend = new_user("drafter"), new_user("friend")
    subject = "Half-written thoughts"
    ui = open_app(pages, user)
    ui.button("shell.compose").click()
    ui.add_recipient(friend.address)
    ui.subject().fill(subject)
    ui.write("First paragraph, not finished")
    # No click on "Save draft": the autosave keeps it.
    api = stack.api(user)
    api.wait_for("drafts", subject, timeout=20)
    saved = ui.page.get_by_role("status").filter(has_text=ui.t("compose.savedAt", time="")[:5])
    saved.first.wait_for()

    ui.page.reload()
    ui.subject().or_(ui.grid()).first.wait_for(state="attached")
    if not ui.subject().count():  # the reload landed on the list: open the draft from Drafts
        ui.open_folder("folder.drafts")
        ui.row(subject).first.click()
    ui.subject().wait_for()
    assert ui.subject().input_value() == subject
    wait_until(lambda: "First paragraph, not finished" in ui.editor().inner_text(), 10, "the body")
    ui.page.get_by_text(friend.address).first.wait_for()
