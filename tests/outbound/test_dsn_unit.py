"""DSN construction, Message-ID/Date completion and wire normalisation: pure functions."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

from mailcore.delivery.dkim import oversigned_headers
from mailcore.delivery.dsn import DsnRecipient, build_dsn, status_of
from mailcore.delivery.relay import dot_stuff, normalize_lines
from mailcore.delivery.submit import complete_headers


def test_status_of() -> None:
    assert status_of("550 5.1.1 no such user", permanent=True) == "5.1.1"
    assert status_of("550 no such user", permanent=True) == "5.0.0"
    assert status_of("451 4.7.1 greylisted", permanent=False) == "4.7.1"
    assert status_of("451 5.7.1 confused server", permanent=False) == "4.0.0"


def test_dsn_structure_and_no_header_injection() -> None:
    original = b"Subject: hi\r\nFrom: a@example.com\r\n\r\nbody\r\n"
    raw = build_dsn(
        original=original,
        envelope_sender="a@example.com",
        queue_id="Q1",
        arrival=datetime(2026, 3, 2, tzinfo=UTC),
        reporting_mta="mx.test",
        recipients=[
            DsnRecipient(
                "b@x.test", "failed", "5.1.1", "550 5.1.1 no\r\nX-Injected: yes", "mx.x.test"
            )
        ],
    )
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/report"
    kinds = [p.get_content_type() for p in msg.iter_parts()]  # type: ignore[attr-defined]
    assert kinds == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    status = msg.get_payload()[1].get_payload()  # type: ignore[index]
    per_rcpt = status[1]
    assert per_rcpt["Diagnostic-Code"] == "smtp; 550 5.1.1 no X-Injected: yes"
    assert "X-Injected" not in msg


def test_complete_headers_adds_message_id_and_date() -> None:
    out = complete_headers(b"Subject: x\r\n\r\nbody\r\n", hostname="mx.test")
    msg = email.message_from_bytes(out, policy=policy.default)
    assert msg["Message-ID"].endswith("@mx.test>") and msg["Date"]
    kept = b"Date: Mon, 02 Mar 2026 10:00:00 +0900\r\nMessage-ID: <a@b>\r\n\r\nx\r\n"
    assert complete_headers(kept, hostname="mx.test") == kept


def test_oversigned_header_list() -> None:
    names = oversigned_headers(b"From: a\r\nTo: b\r\nTo: c\r\nSubject: s\r\n\r\nbody\r\n")
    assert names.count(b"from") == 2 and names.count(b"to") == 3 and names.count(b"cc") == 1


def test_wire_normalisation() -> None:
    assert normalize_lines(b"a\nb\rc\r\n.d") == b"a\r\nb\r\nc\r\n.d\r\n"
    assert dot_stuff(b".a\r\nb\r\n..c\r\n") == b"..a\r\nb\r\n...c\r\n"
