"""Refusing at SMTP time, the admin's choice (issue 13): with SMTP_REJECT_DMARC the MX runs the
sender checks before it answers DATA and refuses a DMARC failure of a p=reject domain with 550
(nothing queued); mail that passes is accepted with its verdict on the queue entry, so the
worker does not check it again. SMTP_REJECT_SPAM refuses what real rspamd would reject. Off by
default: the same forged mail is accepted and filed into Junk at delivery. Real smtplib
clients on loopback source addresses against the real MX listener and a loopback DNS zone."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from mailcore.delivery.dkim import sign
from mailcore.delivery.models import QueueEntry
from mailcore.directory.models import Account
from mailcore.inbound import dnsbox, rspamd_local
from mailcore.store.models import Message
from tests.conftest import run_queue
from tests.inbound.conftest import SENDER, SENDER_IP
from tests.inbound.helpers import mail
from tests.outbound.conftest import Zone

pytestmark = pytest.mark.django_db(transaction=True)

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def send(
    address: tuple[str, int], data: bytes, *, source: str, sender: str = f"news@{SENDER}"
) -> None:
    with smtplib.SMTP(*address, source_address=(source, 0), timeout=60) as client:
        client.ehlo("mx.sender")
        client.sendmail(sender, ["alice@example.com"], data)


def test_dmarc_reject_refused_at_data_when_chosen(
    alice: Account, trust_zone: Zone, smtp_factory: Any, settings: Any
) -> None:
    settings.SMTP_REJECT_DMARC = True
    mx = smtp_factory()
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mx, mail(subject="Reset your password"), source="127.0.0.66")
    assert refused.value.smtp_code == 550
    assert b"5.7.1" in refused.value.smtp_error and SENDER.encode() in refused.value.smtp_error
    assert not QueueEntry.objects.exists()  # refused: nothing queued, the sender bounces it


def test_passing_mail_is_accepted_with_its_verdict_checked_once(
    alice: Account, trust_zone: Zone, smtp_factory: Any, settings: Any
) -> None:
    settings.SMTP_REJECT_DMARC = True
    mx = smtp_factory()
    send(mx, sign(mail(subject="Signed news"), SENDER), source=SENDER_IP)
    (entry,) = QueueEntry.objects.all()
    assert entry.verdict is not None and entry.verdict["dmarc"] == "pass"
    # The DNS zone (and the answers cached from it) go away: the worker must use the kept
    # verdict, not look again (a second look would now fail DMARC and file into Junk).
    with trust_zone.lock:
        trust_zone.rrs.clear()
    dnsbox._CACHE.flush()
    assert run_queue() == ["done"]
    message = Message.objects.select_related("folder").get()
    assert (message.auth_dmarc, message.folder.special_use) == ("pass", "inbox")


def test_dmarc_failure_of_a_p_none_domain_is_accepted(
    alice: Account, trust_zone: Zone, smtp_factory: Any, settings: Any
) -> None:
    settings.SMTP_REJECT_DMARC = True
    mx = smtp_factory()
    send(mx, mail(frm="x@relaxed.example"), source="127.0.0.66", sender="x@relaxed.example")
    (entry,) = QueueEntry.objects.all()
    assert entry.verdict["dmarc"] == "fail" and entry.verdict["dmarc_policy"] == "none"


def test_off_by_default_the_forgery_is_accepted_and_filed_as_junk(
    alice: Account, trust_zone: Zone, smtp_factory: Any
) -> None:
    mx = smtp_factory()
    send(mx, mail(subject="Reset your password"), source="127.0.0.66")
    (entry,) = QueueEntry.objects.all()
    assert entry.verdict is None  # checked by the worker, not at SMTP time
    assert run_queue() == ["done"]
    assert Message.objects.select_related("folder").get().folder.special_use == "junk"


def test_spam_refused_at_data_when_chosen(
    alice: Account, smtp_factory: Any, settings: Any, rspamd_on: rspamd_local.LocalRspamd
) -> None:
    settings.SMTP_REJECT_SPAM = True
    settings.INBOUND_AUTH = False
    mx = smtp_factory()
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(mx, mail(subject="You won", body=GTUBE), source="127.0.0.66")
    assert refused.value.smtp_code == 554
    assert not QueueEntry.objects.exists()
    send(mx, mail(subject="Lunch tomorrow?", body="Noodles at noon?"), source="127.0.0.66")
    (entry,) = QueueEntry.objects.all()
    assert entry.verdict["scanned"] is True and entry.verdict["spam_action"] != "reject"
