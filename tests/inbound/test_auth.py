"""SPF, DKIM (RSA and ed25519), DMARC and ARC at delivery against a real loopback DNS server:
signed, forged and broken mail; the Authentication-Results header on the stored copy, forged
ones removed; the verdict in the index and kept for retries; a dead resolver costs a bounded
time and no mail."""

from __future__ import annotations

import time

import dkim
import pytest

from mailcore.delivery.dkim import do_generate_dkim_key, sign, txt_value
from mailcore.directory.models import Account
from mailcore.inbound import examine
from mailcore.mime.headers import header_fields
from tests.inbound.conftest import SENDER
from tests.inbound.helpers import deliver, mail
from tests.outbound.conftest import Zone

pytestmark = pytest.mark.django_db


def auth_results(stored: bytes) -> list[bytes]:
    return [v for n, v in header_fields(stored) if n.lower() == b"authentication-results"]


def test_signed_mail_passes_and_lands_in_inbox(alice: Account, trust_zone: Zone) -> None:
    _, message, stored = deliver(sign(mail(), SENDER))
    (ours,) = auth_results(stored)
    assert ours.startswith(b" mx.test;")
    assert b"spf=pass smtp.mailfrom=sender.example" in ours
    # Both signatures verified: RSA and ed25519 (RFC 8463).
    assert b"dkim=pass header.d=sender.example" in ours
    assert b"header.a=rsa-sha256" in ours and b"header.a=ed25519-sha256" in ours
    assert b"dmarc=pass (p=reject) header.from=sender.example" in ours
    assert message.folder.special_use == "inbox"
    assert (message.auth_spf, message.auth_dkim, message.auth_dmarc) == ("pass", "pass", "pass")
    # Our header sits right under the final-delivery lines, above everything that came in.
    names = [n.lower() for n, _ in header_fields(stored)][:4]
    assert names == [b"return-path", b"delivered-to", b"authentication-results", b"dkim-signature"]


def test_forged_sender_fails_dmarc_and_goes_to_junk(alice: Account, trust_zone: Zone) -> None:
    _, message, stored = deliver(mail(subject="Reset your password"), ip="127.0.0.66")
    (ours,) = auth_results(stored)
    assert b"spf=fail" in ours and b"dkim=none" in ours and b"dmarc=fail (p=reject)" in ours
    assert message.auth_dmarc == "fail"
    assert message.folder.special_use == "junk"  # p=reject: the owner asked for it


def test_a_batch_of_forgeries_looks_the_junk_folder_up_once(
    alice: Account, trust_zone: Zone
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mailcore.delivery.actions import do_enqueue, do_process_entries
    from mailcore.store.models import Message

    entries = [
        do_enqueue(
            sender=f"news@{SENDER}",
            recipients=["alice@example.com"],
            data=mail(subject=f"Reset {n}"),
            client_ip="127.0.0.66",
            client_helo="mx.sender",
        ).pk
        for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert do_process_entries(entries) == dict.fromkeys(entries, "done")
    junk_lookups = [q for q in queries if "special_use" in q["sql"] and "'junk'" in q["sql"]]
    assert len(junk_lookups) == 1
    filed = Message.objects.filter(account=alice).values_list("folder__special_use", flat=True)
    assert list(filed) == ["junk"] * 3


def test_broken_signature_fails_dkim(alice: Account, trust_zone: Zone) -> None:
    signed = sign(mail(body="Pay invoice 100"), SENDER)
    tampered = signed.replace(b"Pay invoice 100", b"Pay invoice 900")
    _, message, stored = deliver(tampered, ip="127.0.0.66")
    (ours,) = auth_results(stored)
    assert ours.count(b"dkim=fail") == 2 and b"dkim=pass" not in ours
    assert (message.auth_dkim, message.auth_dmarc) == ("fail", "fail")
    assert message.folder.special_use == "junk"


def test_spf_alone_aligns_and_p_none_never_files_as_junk(alice: Account, trust_zone: Zone) -> None:
    frm = "Shop <shop@relaxed.example>"
    _, message, _ = deliver(mail(frm=frm), sender="bounce@relaxed.example")
    assert (message.auth_spf, message.auth_dkim, message.auth_dmarc) == ("pass", "none", "pass")
    trust_zone.add("other.example", "TXT", "v=spf1 -all")
    message.delete()
    _, message, _ = deliver(mail(frm=frm, subject="x"), sender="b@other.example")
    # SPF passes for nobody aligned, no signature: fail, but p=none keeps it in the inbox.
    assert message.auth_dmarc == "fail" and message.folder.special_use == "inbox"


def test_forged_authentication_results_and_spam_headers_are_removed(
    alice: Account, trust_zone: Zone
) -> None:
    forged = (
        b"Authentication-Results: MX.TEST; dkim=pass;\r\n"
        b"\tdmarc=pass header.from=sender.example\r\n"
        b"Authentication-Results: relay.elsewhere.example; spf=pass\r\n"
        b"X-Spam-Flag: NO\r\nX-Spam-Score: -10\r\n"
    ) + mail()
    _, message, stored = deliver(forged, ip="127.0.0.66")
    results = auth_results(stored)
    assert len(results) == 2
    assert results[0].startswith(b" mx.test;") and b"dmarc=fail" in results[0]
    assert results[1] == b" relay.elsewhere.example; spf=pass"
    assert b"X-Spam-" not in stored and b"dmarc=pass" not in stored
    assert message.auth_dmarc == "fail" and message.spam_score is None


def test_ed25519_alone_is_enough(alice: Account, trust_zone: Zone) -> None:
    key = do_generate_dkim_key("ed.example", algorithm="ed25519-sha256")
    trust_zone.add(f"{key.selector}._domainkey.ed.example", "TXT", txt_value(key))
    trust_zone.add("_dmarc.ed.example", "TXT", "v=DMARC1; p=quarantine")
    _, message, _ = deliver(sign(mail(frm="a@ed.example"), "ed.example"), ip="127.0.0.66")
    assert (message.auth_dkim, message.auth_dmarc) == ("pass", "pass")


def test_verdict_is_kept_for_retries(alice: Account, trust_zone: Zone) -> None:
    entry, _, stored = deliver(sign(mail(), SENDER))
    assert entry.verdict is not None and entry.verdict["dmarc"] == "pass"
    trust_zone.rrs.clear()  # DNS changes meanwhile: a retry must still store the same bytes
    again = examine(entry, b"irrelevant")
    assert again.dmarc == "pass" and again.headers in stored


def test_dead_resolver_costs_bounded_time_and_no_mail(alice: Account, settings) -> None:
    settings.INBOUND_AUTH = True
    settings.INBOUND_AUTH_TIMEOUT = 1.0
    settings.RELAY_NAMESERVERS = "127.0.0.1:1"  # nothing answers
    started = time.monotonic()
    _, message, stored = deliver(mail())
    assert time.monotonic() - started < 5
    assert message.folder.special_use == "inbox"
    assert b"spf=temperror" in stored and message.auth_dmarc == "temperror"


def test_arc_chain_of_a_trusted_list_overrides_dmarc_fail(
    alice: Account, trust_zone: Zone, settings
) -> None:
    key = do_generate_dkim_key("lists.example")
    trust_zone.add(f"{key.selector}._domainkey.lists.example", "TXT", txt_value(key))
    # The list checked the original (pass), then added a footer that broke the signature.
    original = sign(mail(body="Meeting notes"), SENDER)
    listed = b"Authentication-Results: lists.example; dkim=pass; dmarc=pass\r\n" + original
    listed = listed.replace(b"Meeting notes", b"Meeting notes\r\n-- \r\nlist footer")
    sealed = dkim.arc_sign(
        listed,
        key.selector.encode(),
        b"lists.example",
        key.private_key.encode(),
        b"lists.example",
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    data = b"".join(sealed) + listed
    settings.INBOUND_ARC_TRUSTED_SEALERS = "lists.example"
    _, message, stored = deliver(data, ip="127.0.0.66", sender="list-bounces@lists.example")
    assert b"arc=pass (trusted sealer lists.example" in stored
    assert message.auth_dmarc == "fail" and message.folder.special_use == "inbox"


def test_a_crash_in_the_checks_still_delivers(
    alice: Account, trust_zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailcore.inbound import auth

    def broken(data: bytes) -> list[object]:
        raise RuntimeError("library surprise")

    monkeypatch.setattr(auth, "check_dkim", broken)  # stands in for a bug on hostile input
    entry, message, stored = deliver(sign(mail(), SENDER))
    assert message.folder.special_use == "inbox" and entry.verdict is not None
    assert entry.verdict["reasons"] == ["checks failed: RuntimeError"]
    assert message.auth_dmarc == "" and b"Authentication-Results" not in stored


def test_user_rules_see_the_verdict(alice: Account, trust_zone: Zone) -> None:
    """The rules (mailcore.rules) test the entry's verdict as environment items: a DMARC pass
    can be starred and a failure filed into a folder of the user's choosing, over Junk."""
    from mailcore.rules.actions import do_save_script

    do_save_script(
        acting_account=alice,
        script=(
            'require ["environment", "fileinto", "mailbox", "imap4flags"];\n'
            'if environment :is "vnd.mailroom.dmarc" "pass" { addflag "\\\\Flagged"; }\n'
            'if environment :is "vnd.mailroom.dmarc" "fail" {\n'
            '  fileinto :create "Suspicious"; stop;\n}\n'
        ),
    )
    _, good, _ = deliver(sign(mail(), SENDER))
    assert good.folder.special_use == "inbox" and good.flagged
    _, bad, _ = deliver(mail(subject="Reset your password"), ip="127.0.0.66")
    assert bad.folder.name == "Suspicious"
