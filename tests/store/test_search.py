"""Body texts in the index (every producer fills MessageText; reindex rebuilds it) and the
search and contacts queries over real rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailcore.directory.models import Account
from mailcore.errors import UserError
from mailcore.mime import parse_message, search_text
from mailcore.store.actions import (
    Arrival,
    do_deliver_many,
    do_move,
    do_set_flags,
)
from mailcore.store.models import Message, MessageText
from mailcore.store.queries import (
    MAX_SEARCH_TERMS,
    list_contacts,
    search_messages,
    search_terms,
)
from mailcore.store.reindex import reindex_account
from tests.api.helpers import build_message, folder, put

pytestmark = pytest.mark.django_db


def found(account: Account, q: str, **kwargs: object) -> set[int]:
    return {m.pk for m in search_messages(account, q, limit=100, **kwargs)}  # type: ignore[arg-type]


def html_only(html: str, subject: str = "html") -> bytes:
    return (
        f"From: a@remote.test\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    ).encode() + html.encode()


# --- body text -----------------------------------------------------------------------------------


def test_search_text_prefers_plain_then_html_and_is_capped() -> None:
    both = parse_message(build_message(text="plain  words\n\nhere", html="<p>html words</p>"))
    assert search_text(both) == "plain words here"
    html = parse_message(
        html_only("<style>p{color:red}</style><p>Visible&nbsp;<b>text</b></p><script>x()</script>")
    )
    assert search_text(html) == "visible text"  # stored case-folded
    big = parse_message(build_message(text="가나다라 " * 40_000))
    assert len(search_text(big)) == 64 * 1024
    assert search_text(big, limit=10) == "가나다라 가나다라"


def test_every_producer_stores_the_body_text(alice: Account) -> None:
    appended = put(alice, text="appended body 견적서를 보냅니다")
    assert MessageText.objects.get(message=appended).text == "appended body 견적서를 보냅니다"
    inbox = folder(alice)
    data = [build_message(text=f"batch body {i}", message_id=f"<b{i}@x>") for i in range(3)]
    results = do_deliver_many(
        [
            Arrival(alice, inbox, raw, f"key{i}", parse_message(raw), datetime.now(tz=UTC))
            for i, raw in enumerate(data)
        ]
    )
    texts = {
        r.message.pk: MessageText.objects.get(message=r.message).text  # type: ignore[union-attr]
        for r in results
    }
    assert sorted(texts.values()) == ["batch body 0", "batch body 1", "batch body 2"]


def test_reindex_fills_missing_texts_and_new_rows(alice: Account) -> None:
    kept = put(alice, text="kept text")
    lost = put(alice, text="indexed before texts existed")
    MessageText.objects.filter(message=lost).delete()
    Message.objects.filter(pk=kept.pk).delete()  # a file the index lost: reindex re-adds it
    report = reindex_account(alice)
    assert (report.added, report.removed) == (1, 0)
    assert MessageText.objects.get(message=lost).text == "indexed before texts existed"
    readded = Message.objects.get(account=alice, maildir_key=kept.maildir_key)
    assert MessageText.objects.get(message=readded).text == "kept text"


# --- search ----------------------------------------------------------------------------------


def test_each_field_matches_and_every_term_must(alice: Account) -> None:
    by_subject = put(alice, subject="Quarterly Budget", text="nothing", message_id="<1@x>")
    by_sender = put(alice, sender="Minji Kim <minji@partner.test>", text="-", message_id="<2@x>")
    by_to = put(alice, to="Zed Lee <zed@remote.test>", text="-", message_id="<3@x>")
    by_cc = put(alice, cc="Yuna Park <yuna@cc.test>", text="-", message_id="<4@x>")
    by_body = put(alice, text="the invoice is attached", message_id="<5@x>")
    by_html = put(alice, html_only("<div>Meeting at <b>noon</b></div>"))
    assert found(alice, "budget") == {by_subject.pk}  # case-insensitive
    assert found(alice, "MINJI") == {by_sender.pk}
    assert found(alice, "partner.test") == {by_sender.pk}
    assert found(alice, "zed lee") == {by_to.pk}
    assert found(alice, "yuna@cc") == {by_cc.pk}
    assert found(alice, "invoice") == {by_body.pk}
    assert found(alice, "noon") == {by_html.pk}
    assert found(alice, "invoice budget") == set()  # both terms, in different messages
    both = put(alice, subject="Budget", text="and the invoice", message_id="<6@x>")
    assert found(alice, "invoice budget") == {both.pk}
    assert found(alice, "  budget   budget ") == {by_subject.pk, both.pk}


def test_korean_substrings_match_through_particles(alice: Account) -> None:
    quote = put(alice, subject="견적서를 보내드립니다", text="첨부 확인 부탁드립니다")
    body = put(alice, subject="문의", text="지난주 견적서는 폐기해 주세요", message_id="<k@x>")
    named = put(alice, sender="김철수 <cs@remote.test>", text="-", message_id="<n@x>")
    assert found(alice, "견적서") == {quote.pk, body.pk}
    assert found(alice, "견적서 폐기") == {body.pk}
    assert found(alice, "철수") == {named.pk}


def test_like_wildcards_match_only_themselves(alice: Account) -> None:
    percent = put(alice, subject="100% done", text="-", message_id="<p@x>")
    under = put(alice, subject="file_name.txt", text="-", message_id="<u@x>")
    slash = put(alice, subject="C:\\temp", text="-", message_id="<s@x>")
    put(alice, subject="1000 done filename", text="-", message_id="<o@x>")
    assert found(alice, "100%") == {percent.pk}
    assert found(alice, "%") == {percent.pk}
    assert found(alice, "e_n") == {under.pk}
    assert found(alice, "_") == {under.pk}
    assert found(alice, "\\temp") == {slash.pk}
    assert found(alice, "zzz%") == set()


def test_other_accounts_are_never_searched(alice: Account, bob: Account) -> None:
    mine = put(alice, subject="shared word", text="-")
    put(bob, subject="shared word", text="shared word", to="alice@example.com")
    assert found(alice, "shared") == {mine.pk}


def test_trash_and_junk_only_when_asked_and_folder_filter(alice: Account) -> None:
    inbox_msg = put(alice, subject="needle one", text="-", message_id="<a@x>")
    trashed = put(alice, subject="needle two", text="-", message_id="<b@x>")
    junked = put(alice, subject="needle three", text="-", message_id="<c@x>")
    sent = put(
        alice, subject="needle four", text="-", message_id="<d@x>", into=folder(alice, "sent")
    )
    do_move(acting_account=alice, messages=[trashed], destination=folder(alice, "trash"))
    do_move(acting_account=alice, messages=[junked], destination=folder(alice, "junk"))
    assert found(alice, "needle") == {inbox_msg.pk, sent.pk}
    assert found(alice, "needle", folder=folder(alice, "trash")) == {trashed.pk}
    assert found(alice, "needle", folder=folder(alice, "junk")) == {junked.pk}
    assert found(alice, "needle", folder=folder(alice, "sent")) == {sent.pk}


def test_pages_are_newest_arrival_first_across_folders(alice: Account) -> None:
    ids = []
    for i in range(7):
        into = folder(alice, "sent" if i % 2 else "inbox")
        ids.append(put(alice, into=into, subject=f"page {i}", message_id=f"<pg{i}@x>").pk)
    # Moving keeps a message's place: arrival order, like the UID order of a folder listing.
    moved = Message.objects.get(pk=ids[2])
    do_move(acting_account=alice, messages=[moved], destination=folder(alice, "drafts"))
    put(alice, subject="other", message_id="<o@x>")
    seen: list[int] = []
    before = None
    while True:
        page = search_messages(alice, "page", before_id=before, limit=3)
        seen += [m.pk for m in page]
        if len(page) < 3:
            break
        before = page[-1].pk
    assert seen == ids[::-1]


def test_query_limits() -> None:
    with pytest.raises(UserError):
        search_terms("   ")
    with pytest.raises(UserError):
        search_terms("x" * 201)
    with pytest.raises(UserError):
        search_terms(" ".join(f"w{i}" for i in range(MAX_SEARCH_TERMS + 1)))
    assert search_terms("a b a") == ["a", "b"]


def test_search_ignores_flags_but_sees_new_subjects_after_moves(alice: Account) -> None:
    m = put(alice, subject="flagged thing", text="-")
    do_set_flags(acting_account=alice, messages=[m], add=["seen", "flagged"])
    work_folder = folder(alice, "drafts")
    do_move(acting_account=alice, messages=[m], destination=work_folder)
    assert found(alice, "flagged") == {m.pk}


# --- contacts ----------------------------------------------------------------------------------


def test_contacts_rank_sent_and_received_addresses(alice: Account, bob: Account) -> None:
    sent = folder(alice, "sent")
    for i in range(3):
        put(
            alice,
            into=sent,
            sender="alice@example.com",
            to="Minji Kim <minji@partner.test>",
            cc="boss@corp.test",
            message_id=f"<s{i}@x>",
        )
    put(alice, into=sent, sender="alice@example.com", to="alice@example.com", message_id="<me@x>")
    for i in range(2):
        put(alice, sender="Boss <BOSS@corp.test>", message_id=f"<r{i}@x>")
    junk_msg = put(alice, sender="Spammer <spam@junk.test>", message_id="<j@x>")
    do_move(acting_account=alice, messages=[junk_msg], destination=folder(alice, "junk"))
    put(bob, sender="Secret <secret@bob-only.test>", message_id="<bob@x>")
    contacts = list_contacts(alice, "")
    assert [(c.address.casefold(), c.count) for c in contacts] == [
        ("boss@corp.test", 5),
        ("minji@partner.test", 3),
    ]
    assert contacts[1].name == "Minji Kim"
    assert contacts[0].name == "Boss"
    assert [c.address for c in list_contacts(alice, "minji")] == ["minji@partner.test"]
    assert [c.address for c in list_contacts(alice, "KIM")] == ["minji@partner.test"]
    assert [c.address.casefold() for c in list_contacts(alice, "corp")] == ["boss@corp.test"]
    assert list_contacts(alice, "secret") == []
    assert list_contacts(alice, "spam") == []
    assert list_contacts(alice, "nobody-like-this") == []
