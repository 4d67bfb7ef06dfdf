"""Real scans by Debian's rspamd (started for the session on loopback ports): GTUBE lands in
Junk and a clean message in the inbox, with X-Spam-* headers and the score in the index;
rspamd down means delivered unscanned and marked, never held; 스팸 신고 / 스팸 아님 teach it."""

from __future__ import annotations

import json
import secrets
import urllib.request
from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.inbound import rspamd_local
from mailcore.inbound.actions import do_report_spam
from mailcore.mime.headers import get_header
from tests.inbound.helpers import deliver, mail
from tests.outbound.conftest import free_port

pytestmark = pytest.mark.django_db

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def test_gtube_lands_in_junk(alice: Account, rspamd_on: rspamd_local.LocalRspamd) -> None:
    _, message, stored = deliver(mail(subject="You won", body=GTUBE))
    assert message.folder.special_use == "junk"
    assert get_header(stored, "X-Spam-Flag") == b" YES"
    assert get_header(stored, "X-Spam-Action") == b" reject"
    assert b"GTUBE" in (get_header(stored, "X-Spam-Status") or b"")
    assert message.spam_score is not None and message.spam_score >= 0
    assert not message.spam_unscanned


def test_clean_message_lands_in_inbox(alice: Account, rspamd_on: rspamd_local.LocalRspamd) -> None:
    _, message, stored = deliver(mail(subject="Lunch tomorrow?", body="Noodles at noon?"))
    assert message.folder.special_use == "inbox"
    assert get_header(stored, "X-Spam-Flag") == b" NO"
    score = float(get_header(stored, "X-Spam-Score") or b"nan")
    assert message.spam_score == round(score, 2) and score < 6


def test_rspamd_down_delivers_unscanned(alice: Account, settings: Any) -> None:
    settings.RSPAMD_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens
    entry, message, stored = deliver(mail(body=GTUBE))
    assert message.folder.special_use == "inbox" and message.spam_unscanned
    assert get_header(stored, "X-Spam-Status") == (b" Unscanned (the spam filter did not answer)")
    assert message.spam_score is None and entry.state == "done"


def _learned(server: rspamd_local.LocalRspamd) -> int:
    with urllib.request.urlopen(f"{server.controller_url}/stat", timeout=10) as r:
        return int(json.load(r).get("learned", 0))


def _words(n: int) -> str:
    # Bayes needs enough tokens, and rspamd will not learn the same text twice: fresh words.
    return " ".join(secrets.token_hex(3) for _ in range(n))


def test_report_spam_and_not_spam_teach_rspamd(
    alice: Account, alice_api: APIClient, rspamd_on: rspamd_local.LocalRspamd
) -> None:
    _, message, _ = deliver(mail(subject="Cheap pills", body=_words(60)))
    before = _learned(rspamd_on)
    response = alice_api.post(
        "/api/v1/messages/spam", {"ids": [message.pk], "spam": True}, format="json"
    )
    assert response.status_code == 200 and response.json() == {"moved": 1}
    assert _learned(rspamd_on) == before + 1
    message.refresh_from_db()
    assert message.folder.special_use == "junk"
    assert do_report_spam(acting_account=alice, messages=[message], spam=False) == 1
    assert _learned(rspamd_on) == before + 2  # relearned as ham


def test_learning_off_still_moves(alice: Account, settings: Any) -> None:
    settings.RSPAMD_CONTROLLER_URL = f"http://127.0.0.1:{free_port()}"  # down
    _, message, _ = deliver(mail())
    assert do_report_spam(acting_account=alice, messages=[message], spam=True) == 1
