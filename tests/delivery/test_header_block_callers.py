"""The delivery code that reads the header block of raw bytes through mailcore.mime.headers:
the queue's Message-ID, DKIM oversigning, the header copy in a DSN and header surgery at
submission. Same rule for all, bare LF included, capped at MAX_HEADER_BYTES."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from mailcore.delivery.actions import header_message_id
from mailcore.delivery.dkim import oversigned_headers
from mailcore.delivery.dsn import DsnRecipient, build_dsn, original_headers
from mailcore.delivery.models import QueueEntry
from mailcore.delivery.submit import (
    complete_headers,
    do_submit,
    header_from_address,
    strip_bcc,
)
from mailcore.errors import InvalidMessageError, SenderNotAllowedError
from mailcore.mime.headers import MAX_HEADER_BYTES
from mailcore.store.models import Message

# A header block that does not end within the cap: Received lines a little past it.
HUGE = b"".join(b"Received: from h%06d by mx\r\n" % i for i in range(MAX_HEADER_BYTES // 30 + 200))
assert len(HUGE) > MAX_HEADER_BYTES


# --- actions.header_message_id -------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
def test_message_id_crlf_and_lf(eol: bytes) -> None:
    data = b"Subject: s" + eol + b"Message-ID:" + eol + b" <a.b@x>" + eol + eol + b"body"
    assert header_message_id(data) == "a.b@x"


def test_message_id_in_the_body_of_lf_mail_is_not_the_message_id() -> None:
    # Bug fixed: bare-LF mail had no CRLF CRLF, so the first 64 KB, body included, were read.
    assert header_message_id(b"Subject: x\n\nMessage-ID: <in-body@x>\n") == ""
    assert header_message_id(b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n") == ""


def test_message_id_edge_cases() -> None:
    assert header_message_id(b"Message-ID: <only@header>") == "only@header"  # no body
    assert header_message_id(b"From: a\r\n\r\n") == ""
    assert header_message_id(b" Message-ID: <folded@top>\r\n\r\n") == ""  # a continuation
    assert header_message_id(b"Message-ID: <a\x00b@x>\r\n\r\n") == "a\x00b@x"
    assert header_message_id(HUGE + b"Message-ID: <late@x>\r\n\r\n") == ""  # beyond the cap
    assert header_message_id(b"Message-ID: <" + b"x" * 2000 + b">\r\n\r\n") == "x" * 998


# --- dkim.oversigned_headers ---------------------------------------------------------------


def test_oversigning_counts_fields_of_the_header_block_only() -> None:
    data = b"From: a\r\nTo: b,\r\n c\r\nTo: d\r\n\r\nFrom: in the body\r\nCc: body\r\n"
    names = oversigned_headers(data)
    assert names.count(b"from") == 2 and names.count(b"to") == 3 and names.count(b"cc") == 1
    lf = oversigned_headers(data.replace(b"\r\n", b"\n"))
    assert lf == names


def test_oversigning_of_a_huge_header_counts_what_was_scanned() -> None:
    names = oversigned_headers(b"From: a\r\n" + HUGE + b"Subject: late\r\n\r\nx")
    assert names.count(b"from") == 2 and names.count(b"subject") == 1


# --- dsn.original_headers ------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\r\n", b"\n", b"\r"])
def test_dsn_header_copy(eol: bytes) -> None:
    data = b"From: a" + eol + b"Subject: s" + eol + b" more" + eol + eol + b"body" + eol
    assert original_headers(data) == b"From: a\r\nSubject: s\r\n more\r\n"


def test_dsn_header_copy_stops_at_the_first_line_that_is_no_header() -> None:
    assert original_headers(b"From: a\r\nhello\r\nTo: b\r\n") == b"From: a\r\n"
    assert original_headers(b"From: a\r\nTo: b") == b"From: a\r\nTo: b\r\n"
    assert original_headers(b"\r\nbody") == b"\r\n"


def test_dsn_header_copy_is_capped() -> None:
    head = original_headers(HUGE + b"\r\nbody")
    assert head == HUGE[:MAX_HEADER_BYTES].rstrip(b"\r\n") + b"\r\n"
    raw = build_dsn(
        original=HUGE + b"\r\nbody",
        envelope_sender="a@example.com",
        queue_id="Q1",
        arrival=datetime(2026, 3, 2, tzinfo=UTC),
        reporting_mta="mx.test",
        recipients=[DsnRecipient("b@x.test", "failed", "5.1.1")],
    )
    assert len(raw) < MAX_HEADER_BYTES + 4096
    msg = email.message_from_bytes(raw, policy=policy.default)
    parts = [p.get_content_type() for p in msg.iter_parts()]  # type: ignore[attr-defined]
    assert parts[-1] == "text/rfc822-headers"


# --- submit: complete_headers, strip_bcc, header_from_address -------------------------------


def test_complete_headers_lf_mail() -> None:
    out = complete_headers(b"From: a@x\nSubject: s\n\nbody\n", hostname="mx.test")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"From: a@x\r\nSubject: s\r\nDate: ")
    assert b"\r\nMessage-ID: <" in head and body == b"body\r\n"


def test_complete_headers_without_blank_line_keeps_the_header() -> None:
    # Bug fixed: without a blank line, a header that did not end in CRLF or was followed by a
    # line of text became body, under a new Date/Message-ID header.
    out = complete_headers(b"From: a@x\r\nSubject: s\r\nhello\r\n", hostname="mx.test")
    msg = email.message_from_bytes(out, policy=policy.default)
    assert msg["From"] == "a@x" and msg["Subject"] == "s" and msg["Message-ID"]
    assert out.endswith(b">\r\n\r\nhello\r\n")
    out = complete_headers(b"From: a@x\r\nSubject: s", hostname="mx.test")
    assert out.startswith(b"From: a@x\r\nSubject: s\r\nDate: ") and out.endswith(b">\r\n\r\n")


def test_complete_headers_of_text_without_header() -> None:
    out = complete_headers(b"just text\r\n", hostname="mx.test")
    assert out.startswith(b"Date: ") and out.endswith(b">\r\n\r\njust text\r\n")


def test_complete_headers_leaves_a_huge_header_alone() -> None:
    data = HUGE + b"\r\nbody\r\n"
    assert complete_headers(data, hostname="mx.test") == data


def test_strip_bcc_folded_and_top_whitespace() -> None:
    data = b" junk\r\nFrom: a@x\r\nBcc: s@x,\r\n t@x\r\nTo: b@y\r\n\r\nBcc: body text\r\n"
    assert strip_bcc(data) == b" junk\r\nFrom: a@x\r\nTo: b@y\r\n\r\nBcc: body text\r\n"
    with pytest.raises(InvalidMessageError):
        strip_bcc(HUGE + b"Bcc: hidden@x\r\n\r\nbody")


def test_header_from_address_refuses_a_header_it_cannot_see_the_end_of() -> None:
    assert header_from_address(b"From: a@x\r\n" + HUGE[:1000] + b"\r\nx") == "a@x"
    with pytest.raises(SenderNotAllowedError, match=f"larger than {MAX_HEADER_BYTES // 1024} KB"):
        header_from_address(b"From: a@x\r\n" + HUGE + b"From: b@y\r\n\r\nx")


def test_submit_refuses_a_huge_header_and_stores_nothing(alice, settings) -> None:
    data = b"From: alice@example.com\r\n" + HUGE + b"Bcc: hidden@remote.example\r\n\r\nbody\r\n"
    with pytest.raises(SenderNotAllowedError):
        do_submit(
            acting_account=alice,
            envelope_sender="alice@example.com",
            recipients=["x@remote.example"],
            data=data,
            source="api",
        )
    assert not QueueEntry.objects.exists() and not Message.objects.exists()
    assert not any(Path(settings.SPOOL_DIR).glob("*"))


def test_submit_of_lf_mail_without_blank_line(alice) -> None:
    data = b"From: alice@example.com\nTo: x@remote.example\nSubject: s\nhello\n"
    result = do_submit(
        acting_account=alice,
        envelope_sender="alice@example.com",
        recipients=["x@remote.example"],
        data=data,
        source="api",
    )
    (entry,) = result.entries
    assert entry.message_id and entry.message_id == result.sent_message.message_id  # type: ignore[union-attr]
