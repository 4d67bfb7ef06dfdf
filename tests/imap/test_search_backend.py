"""IMAP SEARCH TEXT/BODY through the search backend (mailcore.search), with a real client:
the same exact folded-substring answers as the web (width and case variants, inline HTML
tags, attachment file names), and never a term across a space."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.models import Folder
from tests.api.helpers import build_message
from tests.imap.conftest import PASSWORD, tls_context

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def imc(alice: Account, imaps_addr: tuple[str, int]) -> Iterator[IMAPClient]:
    client = IMAPClient(imaps_addr[0], port=imaps_addr[1], ssl=True, ssl_context=tls_context())
    client.login("alice@example.com", PASSWORD)
    yield client
    client.logout()


def test_text_and_body_keys_use_the_search_index(alice: Account, imc: IMAPClient) -> None:
    inbox = Folder.objects.get(account=alice, path="")
    for i, build in enumerate(
        [
            {"subject": "width", "text": "ＡＢＣ corporation\n"},
            {"subject": "html", "text": "", "html": "<p><span>분기</span><b>실적</b></p>"},
            {
                "subject": "files",
                "text": "see attached\n",
                "attachments": [(b"x", "application/pdf", "견적서.pdf")],
            },
            {"subject": "words", "text": "최고 헤일\n"},
        ]
    ):
        do_append(
            acting_account=alice,
            folder=inbox,
            data=build_message(message_id=f"<i{i}@x.test>", **build),  # type: ignore[arg-type]
        )
    imc.select_folder("INBOX")
    assert imc.search(["TEXT", "abc"]) == [1]
    assert imc.search(["BODY", "ABC"]) == [1]
    assert imc.search(["BODY", "분기실적"], charset="UTF-8") == [2]
    assert imc.search(["TEXT", "견적서"], charset="UTF-8") == [3]
    assert imc.search(["BODY", "견적서"], charset="UTF-8") == []  # a file name is not the body
    assert imc.search(["TEXT", "고헤"], charset="UTF-8") == []
    assert imc.search(["NOT", "TEXT", "abc"]) == [2, 3, 4]
    assert imc.search(["OR", "TEXT", "abc", "SUBJECT", "words"]) == [1, 4]


def test_subject_from_to_keys_use_the_search_index(alice: Account, imc: IMAPClient) -> None:
    """SUBJECT, FROM, TO and CC fold like the web search (NFKC + Unicode case folding on
    both databases: SQLite's LIKE folds ASCII only), keep IMAP's whole-string match for a
    value with spaces, and keep To and Cc apart."""
    inbox = Folder.objects.get(account=alice, path="")
    for i, build in enumerate(
        [
            {"subject": "ÄRGER mit dem Server", "sender": "Jürgen Groß <jg@x.test>"},
            {"subject": "ärger report", "to": "Ｋｉｍ <kim@x.test>", "cc": "lee@y.test"},
            {"subject": "report mit ärger", "to": "lee@y.test", "cc": "kim@x.test"},
        ]
    ):
        do_append(
            acting_account=alice,
            folder=inbox,
            data=build_message(message_id=f"<f{i}@x.test>", **build),  # type: ignore[arg-type]
        )
    imc.select_folder("INBOX")
    assert imc.search(["SUBJECT", "ärger"], charset="UTF-8") == [1, 2, 3]
    assert imc.search(["SUBJECT", "ÄRGER MIT"], charset="UTF-8") == [1]  # the whole string
    assert imc.search(["FROM", "JÜRGEN"], charset="UTF-8") == [1]
    assert imc.search(["FROM", "groß"], charset="UTF-8") == [1]
    assert imc.search(["TO", "kim"]) == [2]  # Ｋｉｍ: width folded; not 3's Cc
    assert imc.search(["CC", "kim"]) == [3]
    assert imc.search(["TO", "lee@y"]) == [3]
    assert imc.search(["NOT", "TO", "kim"]) == [1, 3]
    # HEADER on the same fields asks the same (RFC 9051 §6.4.4), folded the same way.
    assert imc.search(["HEADER", "Subject", "ärger"], charset="UTF-8") == [1, 2, 3]
    assert imc.search(["HEADER", "From", "JÜRGEN"], charset="UTF-8") == [1]
    assert imc.search(["OR", "HEADER", "To", "kim", "HEADER", "Cc", "kim"]) == [2, 3]
    assert imc.search(["HEADER", "Cc", ""]) == [2, 3]  # the field is there
