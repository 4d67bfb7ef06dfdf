"""mailcore.mime.build: compose requests become CRLF RFC 5322 bytes that our own parser reads
back; header injection is refused; reply / forward helpers derive subjects, recipients,
quotes and threading."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from mailcore.errors import InvalidMessageError, MessageTooLargeError
from mailcore.mime import get_attachment, parse_message
from mailcore.mime.build import (
    ComposeRequest,
    OutgoingAttachment,
    build_message,
    forward_subject,
    forward_text,
    make_recipient,
    parse_recipient,
    quote_text,
    reply_recipients,
    reply_subject,
    threading,
)

ALICE = make_recipient("Alice Kim", "alice@example.com")
BOB = parse_recipient("Bob <bob@example.com>")
LIMIT = 10 * 1024 * 1024


def build(**kwargs: object) -> bytes:
    fields: dict[str, object] = {"sender": ALICE, "to": (BOB,), "subject": "Hi", "text": "Hello"}
    fields.update(kwargs)
    return build_message(ComposeRequest(**fields), max_bytes=LIMIT).data  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field",
    ["subject", "name", "address", "filename", "header"],
)
@pytest.mark.parametrize("evil", ["\r\nBcc: victim@evil.test", "\nX-Evil: 1", "\rX", "a\x00b"])
def test_line_breaks_in_any_header_field_are_refused(field: str, evil: str) -> None:
    with pytest.raises(InvalidMessageError) as info:
        if field == "subject":
            build(subject="Hi" + evil)
        elif field == "name":
            build(to=(make_recipient("Bob" + evil, "bob@example.com"),))
        elif field == "address":
            build(to=(parse_recipient("bob@example.com" + evil),))
        elif field == "filename":
            build(attachments=(OutgoingAttachment("a" + evil + ".txt", "text/plain", b"x"),))
        else:
            build(extra_headers=(("X-Note", "ok" + evil),))
    assert info.value.field in {"subject", "to", "attachments", "headers"}


def test_idn_domain_becomes_a_label_and_utf8_local_part_needs_smtputf8() -> None:
    idn = parse_recipient("Müller <Hans@Bücher.example>")
    assert (idn.local, idn.domain) == ("Hans", "xn--bcher-kva.example")
    built = build_message(
        ComposeRequest(sender=ALICE, to=(idn,), subject="x", text="y"), max_bytes=LIMIT
    )
    assert b"Hans@xn--bcher-kva.example" in built.data
    assert built.recipients == ["Hans@xn--bcher-kva.example"] and not built.smtputf8

    utf8 = parse_recipient("홍길동@example.com")
    built = build_message(
        ComposeRequest(sender=ALICE, to=(utf8,), subject="x", text="y"), max_bytes=LIMIT
    )
    assert built.smtputf8
    assert "홍길동@example.com".encode() in built.data  # RFC 6532: raw UTF-8 header


@pytest.mark.parametrize(
    "bad",
    [
        "bob",
        "bob@",
        "@example.com",
        "a b@example.com",
        "bob@exa mple.com",
        "bob@[127.0.0.1]",
        "bob@example.com.",
        "Bob <bob@example.com",
        '"x" <>',
    ],
)
def test_invalid_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidMessageError):
        parse_recipient(bad, "cc")


def test_output_is_crlf_seven_bit_and_parses_back_korean() -> None:
    data = build(
        subject="회의 일정 안내 " * 8,
        text="안녕하세요.\n" + "긴 줄 " * 400,
        cc=(parse_recipient('"Kim, Min" <min@example.com>'),),
    )
    assert re.search(rb"(?<!\r)\n", data) is None and re.search(rb"\r(?!\n)", data) is None
    assert data.isascii()  # RFC 2047 headers, base64/QP bodies: no 8BITMIME needed
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    parsed = parse_message(data)
    assert parsed.subject == ("회의 일정 안내 " * 8).strip()
    assert parsed.text.startswith("안녕하세요.\n")
    assert [(a.name, a.addr) for a in parsed.cc] == [("Kim, Min", "min@example.com")]
    assert parsed.from_[0].name == "Alice Kim" and parsed.message_id.endswith("@example.com")


def test_attachments_round_trip_with_rfc2231_names() -> None:
    pdf = b"%PDF-1.4\x00\xff" * 1000
    data = build(
        html="<p>see <b>attached</b></p>",
        attachments=(
            OutgoingAttachment("보고서 2024.pdf", "application/pdf", pdf),
            OutgoingAttachment("../../etc/passwd", "text/plain", b"root"),
            OutgoingAttachment("mail.eml", "message/rfc822", b"From: x\r\n\r\nhi\r\n"),
        ),
    )
    assert b"filename*=utf-8''" in data
    parsed = parse_message(data)
    assert parsed.text.strip() == "Hello" and "<b>attached</b>" in parsed.html
    names = [(a.filename, a.content_type) for a in parsed.attachments]
    assert names == [
        ("보고서 2024.pdf", "application/pdf"),
        ("passwd", "text/plain"),
        ("mail.eml", "application/octet-stream"),
    ]
    found = get_attachment(data, parsed.attachments[0].index)
    assert found is not None and found[1] == pdf
    found = get_attachment(data, parsed.attachments[2].index)
    assert found is not None and found[1] == b"From: x\r\n\r\nhi\r\n"


def test_html_only_gets_a_text_alternative() -> None:
    data = build(
        text=None,
        html="<p>Hello <a href='https://x.test/a'>there</a></p><script>alert(1)</script><p>bye</p>",
    )
    parsed = parse_message(data)
    assert b"multipart/alternative" in data
    assert parsed.text == "Hello there <https://x.test/a>\n\nbye\n"


def test_priority_bcc_and_threading_headers() -> None:
    data = build(
        priority="high",
        bcc=(parse_recipient("secret@example.com"),),
        in_reply_to="a@x.test",
        references=("root@x.test", "a@x.test"),
    )
    assert b"X-Priority: 1 (Highest)\r\n" in data and b"Importance: high\r\n" in data
    assert b"Bcc: secret@example.com\r\n" in data  # kept here; do_submit strips it
    parsed = parse_message(data)
    assert parsed.in_reply_to == "a@x.test"
    assert parsed.references == ("root@x.test", "a@x.test")
    assert b"X-Priority" not in build(priority="normal")


def test_size_limit_is_a_clear_error() -> None:
    big = OutgoingAttachment("big.bin", "application/octet-stream", b"\x00" * 300_000)
    request = ComposeRequest(sender=ALICE, to=(BOB,), subject="x", text="y", attachments=(big,))
    with pytest.raises(MessageTooLargeError) as info:
        build_message(request, max_bytes=300_000)
    assert "limit is 0.3 MiB" in str(info.value) and info.value.size > 400_000


@pytest.mark.parametrize(
    ("subject", "reply", "forward"),
    [
        ("Hello", "Re: Hello", "Fwd: Hello"),
        ("Re: Hello", "Re: Hello", "Fwd: Hello"),
        ("RE: Re: Fwd: Hello", "Re: Hello", "Fwd: Hello"),
        ("FW: 회의 안내", "Re: 회의 안내", "Fwd: 회의 안내"),
        ("답장: 전달: 회의 안내", "Re: 회의 안내", "Fwd: 회의 안내"),
        ("Re[2]: 견적서", "Re: 견적서", "Fwd: 견적서"),
        ("", "Re:", "Fwd:"),
    ],
)
def test_prefixes_do_not_stack(subject: str, reply: str, forward: str) -> None:
    assert reply_subject(subject) == reply
    assert forward_subject(subject) == forward


ORIGINAL = (
    "From: =?utf-8?b?7ZmN6ri464+Z?= <hong@remote.test>\r\n"
    "To: alice@example.com, Carol <carol@remote.test>, Alice+list@example.com\r\n"
    "Cc: dave@remote.test, bad address\r\n"
    "Subject: =?utf-8?b?7ZqM7J2Y?=\r\n"
    "Date: Wed, 01 May 2024 09:30:00 +0900\r\n"
    "Message-ID: <m2@remote.test>\r\n"
    "References: <root@remote.test> <m1@remote.test>\r\n"
    "\r\n"
    "첫 줄\r\n> 이미 인용\r\n\r\n끝\r\n"
).encode()


def _alice(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    return f"{local.partition('+')[0]}@{domain}" == "alice@example.com"


def test_reply_and_reply_all_recipients_leave_out_my_addresses() -> None:
    parsed = parse_message(ORIGINAL)
    to, cc = reply_recipients(parsed, reply_all=False, is_own=_alice)
    assert [(r.name, r.address) for r in to] == [("홍길동", "hong@remote.test")] and cc == []
    to, cc = reply_recipients(parsed, reply_all=True, is_own=_alice)
    assert [r.address for r in to] == ["hong@remote.test", "carol@remote.test"]
    assert [r.address for r in cc] == ["dave@remote.test"]


def test_reply_to_my_own_sent_message_goes_to_its_recipients() -> None:
    parsed = parse_message(b"From: alice@example.com\r\nTo: bob@example.com\r\n\r\nhi\r\n")
    to, _ = reply_recipients(parsed, reply_all=False, is_own=_alice)
    assert [r.address for r in to] == ["bob@example.com"]


def test_quote_threading_and_forward_text() -> None:
    parsed = parse_message(ORIGINAL)
    assert quote_text(parsed) == (
        "On Wed, 01 May 2024 09:30:00 +0900, 홍길동 wrote:\n> 첫 줄\n>> 이미 인용\n>\n> 끝\n"
    )
    assert threading(parsed) == (
        "m2@remote.test",
        ("root@remote.test", "m1@remote.test", "m2@remote.test"),
    )
    text = forward_text(parsed)
    assert text.startswith("---------- Forwarded message ----------\nFrom: 홍길동 <hong@remote")
    assert "Subject: 회의\n" in text and text.endswith("첫 줄\n> 이미 인용\n\n끝\n")


def test_threading_caps_references_keeping_root_and_newest() -> None:
    refs = " ".join(f"<r{i}@x.test>" for i in range(50))
    parsed = parse_message(
        f"From: a@x.test\r\nMessage-ID: <new@x.test>\r\nReferences: {refs}\r\n\r\n".encode()
    )
    _, references = threading(parsed)
    assert len(references) == 20
    assert references[0] == "r0@x.test" and references[-1] == "new@x.test"


def test_date_is_set() -> None:
    data = build(date=datetime(2024, 5, 1, 0, 0, tzinfo=UTC))
    assert b"Date: Wed, 01 May 2024 00:00:00 +0000\r\n" in data
