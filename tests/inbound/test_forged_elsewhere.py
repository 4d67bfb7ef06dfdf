"""Only the delivery worker writes our Authentication-Results: a message a client uploads
(API, IMAP APPEND) keeps none in our name — and one fetched from another server no X-Spam-*
either — so it can never show the verified mark (the index reads the verdict from the file)."""

from __future__ import annotations

import pytest

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, SpecialUse
from mailcore.store.queries import read_message_bytes

FORGED = (
    b"Authentication-Results: MX.TEST; spf=pass smtp.mailfrom=bank.example;\r\n"
    b"  dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example\r\n"
    b"Authentication-Results: other.example; dmarc=fail\r\n"
    b"X-Spam-Score: -10\r\n"
    b"From: Bank <security@bank.example>\r\nTo: alice@example.com\r\n"
    b"Subject: verify your account\r\n\r\nclick here\r\n"
)


@pytest.mark.django_db
def test_an_uploaded_copy_keeps_no_verdict_in_our_name(alice: Account) -> None:
    inbox = Folder.objects.get(account=alice, special_use=SpecialUse.INBOX)
    message = do_append(acting_account=alice, folder=inbox, data=FORGED)
    assert (message.auth_spf, message.auth_dkim, message.auth_dmarc) == ("", "", "")
    stored = read_message_bytes(message)
    assert b"MX.TEST" not in stored
    assert b"Authentication-Results: other.example; dmarc=fail" in stored  # others' stay
    assert b"X-Spam-Score: -10" in stored  # an old server's, moved here by the user
