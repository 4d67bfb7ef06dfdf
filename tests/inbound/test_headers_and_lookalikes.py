"""Pure parts of inbound trust: removing forged trust headers (folded ones too), reading our
own back for the index, look-alike domains, and what the message API shows."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.inbound.lookalike import lookalike_of, skeleton
from mailcore.inbound.queries import display_name_address
from mailcore.mime import parse_message
from mailcore.mime.authresults import trust_fields, without_forged
from tests.inbound.helpers import deliver, mail


def test_without_forged_drops_our_id_in_any_case_and_folding() -> None:
    data = (
        b"Received: from x\r\n"
        b"Authentication-Results:\r\n mx.test; dkim=pass\r\n"  # id on the continuation line
        b"authentication-results: MX.Test (comment); dmarc=pass\r\n"
        b"Authentication-Results: mx.test.evil.example; spf=pass\r\n"
        b"X-Spam-Status: No,\r\n\tscore=-5\r\n"
        b"Subject: hi\r\n\r\nAuthentication-Results: mx.test; in the body stays\r\n"
    )
    out = without_forged(data, "mx.test")
    assert out == (
        b"Received: from x\r\n"
        b"Authentication-Results: mx.test.evil.example; spf=pass\r\n"
        b"Subject: hi\r\n\r\nAuthentication-Results: mx.test; in the body stays\r\n"
    )
    assert without_forged(b"Subject: x\r\n\r\nbody", "mx.test") == b"Subject: x\r\n\r\nbody"


def test_trust_fields_read_only_the_first_of_ours() -> None:
    parsed = parse_message(
        b"Authentication-Results: mx.test;\r\n\tspf=fail smtp.mailfrom=a.example;\r\n"
        b"\tdkim=fail header.d=a.example; dkim=pass header.d=b.example;\r\n"
        b"\tdmarc=fail (p=reject) header.from=a.example; arc=none\r\n"
        b"Authentication-Results: mx.test; dmarc=pass\r\n"
        b"X-Spam-Score: 7.25\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert trust_fields(parsed.header_items, "mx.test") == {
        "auth_spf": "fail",
        "auth_dkim": "pass",
        "auth_dmarc": "fail",
        "spam_score": 7.25,
        "spam_unscanned": False,
    }
    other = trust_fields(parsed.header_items, "mx.other")
    assert other["auth_dmarc"] == "" and other["spam_score"] == 7.25


@pytest.mark.parametrize(
    ("domain", "ours"),
    [
        ("exаmple.com", "example.com"),  # Cyrillic а
        ("xn--exmple-4nf.com", "example.com"),  # the same as an A-label
        ("EXAMPLE.COM.", ""),  # ours, in other case: not a look-alike
        ("mail.exаmple.com", "example.com"),  # a subdomain of the look-alike
        ("examp1e.com", "example.com"),  # digit one for l
        ("exarnple.com", "example.com"),  # rn for m
        ("example.org", ""),
        ("sub.example.com", ""),  # our own subdomain
    ],
)
def test_lookalike(domain: str, ours: str) -> None:
    assert lookalike_of(domain, ["example.com"]) == ours


def test_skeleton_folds_full_width_and_greek() -> None:
    assert skeleton("ｅｘａｍｐｌｅ.com") == skeleton("εxαmple.com") == "example.com"


def test_display_name_address() -> None:
    assert display_name_address("ceo@example.com", "evil@x.example")
    assert display_name_address("Boss ＠ example.com", "evil@x.example")  # full-width ＠
    assert not display_name_address("bob@x.example", "BOB@x.example")
    assert not display_name_address("Bob", "bob@x.example")


@pytest.mark.django_db
def test_message_api_shows_the_trust_summary(alice: Account, alice_api: APIClient) -> None:
    frm = '"alice@example.com" <ceo@xn--exmple-4nf.com>'
    _, message, _ = deliver(
        b"Authentication-Results: mx.test; dmarc=pass\r\n" + mail(frm=frm), ip="127.0.0.66"
    )
    trust = alice_api.get(f"/api/v1/messages/{message.pk}").json()["trust"]
    # The checks were off (no DNS here): the forged pass is gone, nothing verified.
    assert trust == {
        "spf": "",
        "dkim": "",
        "dmarc": "",
        "spam_score": None,
        "spam_unscanned": False,
        "verified": False,
        "lookalike": "example.com",
        "warnings": ["lookalike_domain", "display_name_address"],
    }
