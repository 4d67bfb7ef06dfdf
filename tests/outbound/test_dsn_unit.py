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


def test_dsn_parameter_parsing_and_encoding() -> None:
    from mailcore.delivery.dsnparams import (
        MAX_ORCPT,
        DsnParamError,
        RcptDsn,
        encode_orcpt,
        parse_notify,
        parse_orcpt,
        xtext_decode,
        xtext_encode,
    )

    assert parse_notify("delay,success") == "SUCCESS,DELAY"
    assert parse_notify("never") == "NEVER"
    assert xtext_decode("a+2Bb+3Dc") == "a+b=c" and xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d"
    assert parse_orcpt("RFC822;bob+2Bx@example.com") == "rfc822;bob+x@example.com"
    assert parse_orcpt("utf-8;\\x{D55C}@example.com") == "utf-8;한@example.com"
    assert encode_orcpt("utf-8;한@example.com") == "utf-8;\\x{D55C}@example.com"
    assert encode_orcpt("rfc822;bob+x@example.com") == "rfc822;bob+2Bx@example.com"
    for bad in ("rfc822;" + "a" * MAX_ORCPT, "rfc822;", ";a@b", "utf-8;a\\x{0A}b"):
        try:
            parse_orcpt(bad)
        except DsnParamError:
            continue
        raise AssertionError(bad)
    assert RcptDsn().wants("FAILURE") and RcptDsn().wants("DELAY")
    assert not RcptDsn().wants("SUCCESS") and not RcptDsn("NEVER").wants("FAILURE")


def test_dsn_kinds_say_what_is_attached() -> None:
    original = b"Subject: hi\r\nFrom: a@example.com\r\n\r\nthe body\r\n"
    common = {
        "original": original,
        "envelope_sender": "a@example.com",
        "queue_id": "Q1",
        "arrival": datetime(2026, 3, 2, tzinfo=UTC),
        "reporting_mta": "mx.test",
    }
    failed = [DsnRecipient("b@x.test", "failed", "5.1.1", "550 5.1.1 no", "mx.x.test[192.0.2.1]")]
    full = email.message_from_bytes(build_dsn(**common, recipients=failed, ret="FULL"))
    text = full.get_payload()[0].get_payload()  # type: ignore[index]
    assert "Your message is attached below." in text and "mx.x.test[192.0.2.1] said" in text
    assert full.get_payload()[2].get_content_type() == "message/rfc822"  # type: ignore[index]
    status = full.get_payload()[1].get_payload()[1]  # type: ignore[index]
    assert status["Remote-MTA"] == "dns; mx.x.test"
    hdrs = email.message_from_bytes(build_dsn(**common, recipients=failed))
    assert "headers of your message" in hdrs.get_payload()[0].get_payload()  # type: ignore[index]
    assert b"the body" not in build_dsn(**common, recipients=failed, ret="HDRS")
    local = [
        DsnRecipient("b@example.test", "failed", "5.2.2", "5.2.2 b@example.test: mailbox full")
    ]
    status = email.message_from_bytes(build_dsn(**common, recipients=local)).get_payload()[1]
    per_rcpt = status.get_payload()[1]  # type: ignore[union-attr]
    assert per_rcpt["Diagnostic-Code"] == "X-Mailroom; 5.2.2 b@example.test: mailbox full"
    ok = [
        DsnRecipient(
            "b@example.test", "delivered", "2.0.0", "2.0.0 b@example.test", "", "rfc822;c@d"
        )
    ]
    raw = build_dsn(**common, recipients=ok, envid="E")
    assert b"Successful Mail Delivery Report" in raw and b"Action: delivered" in raw
    assert b"Original-Envelope-Id: E\r\nReporting-MTA: dns; mx.test" in raw
    assert b"Original-Recipient: rfc822; c@d\r\nFinal-Recipient: rfc822; b@example.test" in raw
