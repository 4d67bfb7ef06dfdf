"""Conversation keys (mailcore.store.conversation): the subject rule as a table, the header
and subject joins at delivery, do_deliver_many, reindex and the migration's rebuild agreeing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailcore.directory.models import Account
from mailcore.mime import parse_message
from mailcore.store.actions import Arrival, do_deliver_many
from mailcore.store.conversation import (
    SUBJECT_JOIN_MAX,
    Threader,
    make_item,
    normalise_subject,
    rebuild_conversations,
    subject_key,
)
from mailcore.store.models import Message
from mailcore.store.reindex import reindex_account
from tests.api.helpers import build_message, folder, put


@pytest.mark.parametrize(
    ("subject", "normal"),
    [
        ("견적서 요청", "견적서 요청"),
        ("RE: 견적서 요청", "견적서 요청"),
        ("Re: Re: RE: Lunch", "lunch"),
        ("FW: Lunch", "lunch"),
        ("Fwd: Re: Lunch", "lunch"),
        ("회신: 견적서 요청", "견적서 요청"),
        ("전달: 회신: 견적서 요청", "견적서 요청"),
        ("답장: 견적서 요청", "견적서 요청"),
        ("[공지] 견적서 요청", "견적서 요청"),
        ("RE: [외부] [공지] 견적서 요청", "견적서 요청"),
        ("Re[2]: Lunch", "lunch"),
        ("RE^3: Lunch", "lunch"),
        ("AW: Treffen", "treffen"),
        ("Re： 전각 콜론", "전각 콜론"),  # full-width colon (NFKC makes it ':')
        ("  Re:   Lunch    today ", "lunch today"),
        ("【광고】 특가", "특가"),
        ("Ready: set", "ready: set"),  # not a prefix: "Ready" is a word
        ("Re Lunch", "re lunch"),  # no colon, no prefix
        ("Lunch [draft]", "lunch [draft]"),  # only leading tags go
        ("RE:", ""),
        ("[태그]", ""),
        ("", ""),
    ],
)
def test_normalise_subject(subject: str, normal: str) -> None:
    assert normalise_subject(subject) == normal
    assert (subject_key(subject) == 0) == (normal == "")


def _item(
    n: int,
    *,
    subject: str = "Lunch",
    sender: str = "bob@x.test",
    to: tuple[str, ...] = ("me@example.com",),
    msgid: str = "",
    irt: str = "",
    refs: str = "",
    days: float = 0,
):  # type: ignore[no-untyped-def]
    return make_item(
        account_id=1,
        own=["me@example.com"],
        message_id=msgid or f"m{n}@x",
        in_reply_to=irt,
        references=refs,
        subject=subject,
        from_addr=sender,
        recipients=to,
        when=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=days),
        fallback_key=f"k{n}",
    )


def test_rule_table() -> None:
    t = Threader()
    root, _ = t.assign(_item(1, subject="견적서 요청"))
    # Headers join whatever the subject says.
    assert t.assign(_item(2, subject="other words", irt="m1@x"))[0] == root
    assert t.assign(_item(3, subject="again", refs="m1@x unknown@x"))[0] == root
    # A reply without headers joins by subject: I write to bob (shared participant: bob).
    mine = _item(4, subject="RE: 견적서 요청", sender="me@example.com", to=("bob@x.test",))
    assert t.assign(mine)[0] == root
    # Same subject, someone else writing to me about something else: apart.
    assert t.assign(_item(5, subject="견적서 요청", sender="carol@y.test"))[0] != root
    # Same subject and sender, but past the window: a new conversation.
    assert t.assign(_item(6, subject="견적서 요청", days=40))[0] != root
    # No subject never joins by subject.
    a, _ = t.assign(_item(7, subject="RE:"))
    assert t.assign(_item(8, subject=""))[0] != a


def test_subject_joins_stop_at_the_cap() -> None:
    t = Threader()
    first, _ = t.assign(_item(0, subject="Daily digest"))
    for n in range(1, SUBJECT_JOIN_MAX):
        assert t.assign(_item(n, subject="Daily digest", days=n / 100))[0] == first
    assert t.assign(_item(999, subject="Daily digest", days=2))[0] != first


def test_delivery_keys_replies_copies_and_accounts(alice: Account, bob: Account) -> None:
    root = put(alice, subject="견적서 요청", message_id="<root@remote.test>")
    reply = put(
        alice,
        subject="회신: 견적서 요청",
        message_id="<r1@remote.test>",
        references="<root@remote.test>",
    )
    # My answer sits in Sent; its own Message-ID is a second copy's key, too.
    sent = put(
        alice,
        into=folder(alice, "sent"),
        subject="RE: 견적서 요청",
        sender="Alice <alice@example.com>",
        to="bob@remote.test",
        message_id="<mine@example.com>",
    )
    other = put(alice, subject="견적서 요청", sender="carol@else.test", message_id="<c@else>")
    theirs = put(bob, subject="견적서 요청", message_id="<root@remote.test>")
    assert root.conversation_id != 0
    assert reply.conversation_id == root.conversation_id
    assert sent.conversation_id == root.conversation_id
    assert other.conversation_id != root.conversation_id
    assert theirs.account_id == bob.pk  # bob's index is his own
    assert Message.objects.filter(account=bob, conversation_id=root.conversation_id).count() == 1


def test_deliver_many_threads_within_the_batch_and_reindex_agrees(alice: Account) -> None:
    now = datetime.now(tz=UTC)
    datas = [
        build_message(subject="Plan", message_id="<p1@remote.test>"),
        build_message(
            subject="Re: Plan", message_id="<p2@remote.test>", references="<p1@remote.test>"
        ),
        build_message(subject="Unrelated", message_id="<u@remote.test>"),
    ]
    done = do_deliver_many(
        [
            Arrival(
                alice, folder(alice), d, f"batch{n}", parse_message(d), now + timedelta(seconds=n)
            )
            for n, d in enumerate(datas)
        ]
    )
    rows = [r.message for r in done]  # type: ignore[union-attr]
    assert rows[0].conversation_id == rows[1].conversation_id != rows[2].conversation_id
    before = dict(Message.objects.filter(account=alice).values_list("pk", "conversation_id"))
    Message.objects.filter(account=alice).update(conversation_id=0, subject_key=0)
    reindex_account(alice)
    after = dict(
        Message.objects.filter(account=alice).values_list("maildir_key", "conversation_id")
    )
    keys = dict(Message.objects.filter(account=alice).values_list("pk", "maildir_key"))
    assert {keys[pk]: c for pk, c in before.items()} == after
    # The migration's rebuild (historical models have the same fields) changes nothing now.
    assert rebuild_conversations(Message, Account, account_ids=[alice.pk]) == 0
