"""The search backend over a fixed Korean/English corpus: every query of the table gives
exactly the expected messages, newest first, on the database in use (PostgreSQL with
DATABASE_URL, SQLite without); delete, move and a rebuild after wiping keep it right."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailcore.directory.models import Account
from mailcore.search.backend import get_backend
from mailcore.search.query import SearchSyntaxError
from mailcore.store.actions import do_append, do_expunge, do_move
from mailcore.store.models import Message, MessageSearch
from mailcore.store.queries import search_messages
from mailcore.store.reindex import reindex_account
from tests.api.helpers import build_message, folder

pytestmark = pytest.mark.django_db

HTML = "<div><span>분기</span><b>실적</b> 발표</div><p>다음</p><p>줄</p>"

# name: (build_message arguments, day of March 2026, folder, flags)
CORPUS: dict[str, tuple[dict[str, object], int, str, tuple[str, ...]]] = {
    "meeting": (
        {
            "sender": "김민수 <minsu@corp.test>",
            "subject": "주간 회의 안내",
            "text": "내일 오전 회의를 진행합니다.\n회의실은 3층입니다.\n",
        },
        2,
        "inbox",
        (),
    ),
    "budget": (
        {
            "sender": "Alice Park <alice.park@corp.test>",
            "cc": "Bob Lee <bob@corp.test>",
            "subject": "Budget review",
            "text": "Please review the Q3 budget before Friday.\n",
            "attachments": [(b"x", "application/octet-stream", "분기실적_보고서.xlsx")],
        },
        3,
        "inbox",
        ("seen",),
    ),
    "html": (
        {"sender": "news@corp.test", "subject": "실적 공유", "text": "", "html": HTML},
        4,
        "inbox",
        (),
    ),
    "mailroom": (
        {"subject": "Welcome to Mailroom", "text": "Your mailbox is ready.\n"},
        5,
        "inbox",
        ("seen",),
    ),
    "fullwidth": ({"subject": "width test", "text": "ＡＢＣ corporation\n"}, 6, "inbox", ()),
    "abc": ({"subject": "abc lowercase", "text": "abc bcab\n"}, 7, "inbox", ()),
    "german": ({"subject": "ÄRGER im Büro", "text": "Die Straße ist lang.\n"}, 8, "inbox", ()),
    "cross": ({"subject": "회의실 실적", "text": "최고 헤일 선수\n"}, 9, "inbox", ()),
    "mixed": (
        {"subject": "Q3실적 review", "text": "see attached\n"},
        10,
        "inbox",
        ("seen", "flagged"),
    ),
    "trash": ({"subject": "회의 취소", "text": "trash copy\n"}, 11, "trash", ()),
    "newline": ({"subject": "lines", "text": "첫째 줄 회\n의 둘째\n"}, 12, "inbox", ()),
}

TABLE: list[tuple[str, set[str]]] = [
    ("회의", {"meeting", "cross"}),  # inside 회의실, not across a line break, not in Trash
    ("회의를", {"meeting"}),  # a word with its particle
    ("회의실", {"meeting", "cross"}),
    ("회의실적", set()),  # 회의실 + 실적 are separate words: the keys match, the recheck not
    ("분기실적", {"html", "budget"}),  # inline tags join words; the attachment's name
    ("실적", {"html", "budget", "cross", "mixed"}),
    ("보고서", {"budget"}),
    ("filename:보고서", {"budget"}),
    ("filename:review", set()),
    ("room", {"mailroom"}),  # a word inside a longer word
    ("ＡＢＣ", {"fullwidth", "abc"}),  # width and case variants are one
    ("abc", {"fullwidth", "abc"}),
    ("ärger", {"german"}),
    ("ÄRGER", {"german"}),
    ("straße", {"german"}),  # ß folds to ss on both sides
    ("STRASSE", {"german"}),
    ("abcabc", set()),  # its trigrams are all in "abc bcab", across a space
    ("고헤", set()),  # never across a space
    ("최고", {"cross"}),
    ("q3실적", {"mixed"}),  # mixed scripts in one word
    ("q3", {"budget", "mixed"}),  # too short for keys: the bounded scan, rechecked
    ("회", {"meeting", "cross", "newline"}),
    ("review budget", {"budget"}),  # every term must match
    ("review", {"budget", "mixed"}),
    ("from:민수", {"meeting"}),
    ("from:corp.test", {"meeting", "budget", "html"}),
    ("to:bob", {"budget"}),  # Cc counts as to:
    ("subject:review", {"budget", "mixed"}),
    ("body:review", {"budget"}),
    ("has:attachment 실적", {"budget"}),
    ("has:attachment review", {"budget"}),  # the attachment key narrows the lookup
    ("has:attachment after:2026-03-01 before:2026-03-31 budget", {"budget"}),
    ("is:starred review", {"mixed"}),  # few starred: they are rechecked, no key lookup
    ("in:trash 회의", {"trash"}),
    ("in:anywhere 회의", {"meeting", "cross", "trash"}),
    ("in:휴지통 취소", {"trash"}),
    ("is:unread 실적", {"html", "cross"}),
    ("is:read review", {"budget", "mixed"}),
    ("is:starred", {"mixed"}),
    ("after:2026-03-09 실적", {"cross", "mixed"}),
    ("before:2026-03-04 실적", {"budget"}),  # before: leaves its own day out
    ("after:2026-03-04 before:2026-03-05 has:attachment", set()),
    ("after:2026-03-09 before:2026-03-11", {"cross", "mixed"}),  # dates alone: month keys
    ("after:2026-03-09 before:2026-03-11 q3", {"mixed"}),
]


@pytest.fixture
def corpus(alice: Account) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i, (name, (build, day, where, flags)) in enumerate(CORPUS.items()):
        message = do_append(
            acting_account=alice,
            folder=folder(alice, where),
            data=build_message(message_id=f"<c{i}@corp.test>", **build),  # type: ignore[arg-type]
            flags=flags,
            internal_date=datetime(2026, 3, day, 9, 0, tzinfo=UTC),
        )
        ids[name] = message.pk
    return ids


def check_table(account: Account, ids: dict[str, int]) -> list[str]:
    names = {pk: name for name, pk in ids.items()}
    wrong = []
    for q, expected in TABLE:
        got = search_messages(account, q, limit=100)
        pks = [m.pk for m in got]
        if {names.get(pk, str(pk)) for pk in pks} != expected or pks != sorted(pks, reverse=True):
            wrong.append(f"{q!r}: got {[names.get(pk, pk) for pk in pks]}, want {sorted(expected)}")
    return wrong


def test_query_table(alice: Account, corpus: dict[str, int]) -> None:
    assert check_table(alice, corpus) == []


def test_pages_follow_the_cursor(alice: Account, corpus: dict[str, int]) -> None:
    first = search_messages(alice, "실적", limit=2)
    assert [m.pk for m in first] == [corpus["mixed"], corpus["cross"]]
    rest = search_messages(alice, "실적", limit=10, before_id=first[-1].pk)
    assert [m.pk for m in rest] == [corpus["html"], corpus["budget"]]


def test_another_account_sees_nothing(alice: Account, bob: Account, corpus: dict[str, int]) -> None:
    assert search_messages(bob, "회의", limit=10) == []
    assert search_messages(bob, "q3", limit=10) == []


def test_expunge_and_move_keep_the_index_right(alice: Account, corpus: dict[str, int]) -> None:
    meeting = Message.objects.select_related("folder").get(pk=corpus["meeting"])
    do_expunge(acting_account=alice, messages=[meeting])
    assert not MessageSearch.objects.filter(message_id=corpus["meeting"]).exists()
    assert search_messages(alice, "회의를", limit=10) == []
    cross = Message.objects.select_related("folder").get(pk=corpus["cross"])
    do_move(acting_account=alice, messages=[cross], destination=folder(alice, "trash"))
    assert search_messages(alice, "회의", limit=10) == []
    assert {m.pk for m in search_messages(alice, "in:trash 회의", limit=10)} == {
        corpus["cross"],
        corpus["trash"],
    }
    # The removed entry is gone from the key index itself, not only filtered out.
    backend = get_backend()
    found = [pk for batch in backend.candidates(alice.pk, ["회의"], None) for pk in batch]
    assert corpus["meeting"] not in found
    assert corpus["cross"] in found


def test_rebuild_after_wiping_gives_the_same_answers(
    alice: Account, corpus: dict[str, int]
) -> None:
    MessageSearch.objects.all().delete()
    backend = get_backend()
    assert [pk for batch in backend.candidates(alice.pk, ["회의"], None) for pk in batch] == []
    assert search_messages(alice, "회의를", limit=10) == []
    reindex_account(alice)
    assert MessageSearch.objects.count() == len(CORPUS)
    assert check_table(alice, corpus) == []
    assert backend.rebuild_account(alice) == len(CORPUS)  # everything again, in place
    assert MessageSearch.objects.count() == len(CORPUS)
    assert check_table(alice, corpus) == []


def test_unknown_folder_and_bad_dates_are_clear_errors(alice: Account) -> None:
    with pytest.raises(SearchSyntaxError, match="no folder named"):
        search_messages(alice, "in:nowhere x", limit=10)
    with pytest.raises(SearchSyntaxError, match="date"):
        search_messages(alice, "before:yesterday", limit=10)


def test_search_rebuild_command(alice: Account, corpus: dict[str, int]) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    MessageSearch.objects.all().delete()
    out = StringIO()
    call_command("search", "rebuild", "--account", "alice@example.com", "--no-progress", stdout=out)
    assert f"alice@example.com: {len(CORPUS)} messages indexed" in out.getvalue()
    assert check_table(alice, corpus) == []
    with pytest.raises(CommandError, match="no account"):
        call_command("search", "rebuild", "--account", "nobody@example.com", "--no-progress")


def test_attachment_key_narrows_the_lookup(alice: Account, corpus: dict[str, int]) -> None:
    """has:attachment is kept in the index: its key's candidates are the messages with
    attachments (so a common word with has:attachment looks up only those)."""
    from mailcore.search.text import ATTACHMENT_KEY

    backend = get_backend()
    found = [pk for b in backend.candidates(alice.pk, [ATTACHMENT_KEY], None) for pk in b]
    assert found == [corpus["budget"]]


def test_few_flagged_messages_are_rechecked_without_the_index(
    alice: Account, corpus: dict[str, int]
) -> None:
    """A flag that few messages have (is:starred here) is applied first: those messages are
    rechecked directly, so the answer does not depend on the key lookup at all."""
    MessageSearch.objects.filter(message_id=corpus["mixed"]).delete()
    assert [m.pk for m in search_messages(alice, "is:starred q3실적", limit=10)] == [
        corpus["mixed"]
    ]
    assert search_messages(alice, "q3실적", limit=10) == []  # the index path misses it


def test_migration_adds_the_attachment_key_to_old_entries(
    alice: Account, corpus: dict[str, int]
) -> None:
    """0010 gives entries written before the attachment key existed that key, once."""
    import importlib
    from types import SimpleNamespace

    from django.db import connection

    from mailcore.search.text import ATTACHMENT_KEY

    migration = importlib.import_module("mailcore.store.migrations.0010_search_attachment_key")
    backend = get_backend()
    budget = Message.objects.get(pk=corpus["budget"])
    old = backend.index_entry(budget, budget.text.text, "")
    old.keys = backend.stored_keys(alice.pk, set(_plain_keys(budget)) - {ATTACHMENT_KEY})
    MessageSearch.objects.filter(message_id=budget.pk).delete()
    old.save()
    assert [pk for b in backend.candidates(alice.pk, [ATTACHMENT_KEY], None) for pk in b] == []
    editor = SimpleNamespace(connection=connection)
    migration.add_key(None, editor)
    migration.add_key(None, editor)  # idempotent
    assert [m.pk for m in search_messages(alice, "has:attachment review", limit=10)] == [budget.pk]
    found = [pk for b in backend.candidates(alice.pk, [ATTACHMENT_KEY], None) for pk in b]
    assert found == [budget.pk]


def _plain_keys(message: Message) -> list[str]:
    """The keys of `message` as delivery computes them, without the account token."""
    from mailcore.search.backend import _fields_of
    from mailcore.search.text import date_keys, document_keys, flag_keys

    keys = document_keys(_fields_of(message, message.text.text, ""), cjk_trigrams=True)
    keys.update(date_keys(message.internal_date))
    keys.update(flag_keys(has_attachments=message.has_attachments))
    return sorted(keys)


def test_table_through_small_windows(
    alice: Account, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the recent windows hold two entries here, so every step runs: dense
    windows growing, then the GIN index below them; the answers stay the table's."""
    from django.db import connection

    from mailcore.search.backend import PostgresBackend

    monkeypatch.setattr(PostgresBackend, "RECENT_WINDOW", 2)
    monkeypatch.setattr(PostgresBackend, "MAX_WINDOW", 4)
    assert check_table(alice, corpus) == []
    if connection.vendor == "postgresql":
        # With statistics, keys in more than COMMON of the entries are tested on the rows
        # the rarer ones find instead of being looked up: the answers stay the table's.
        from mailcore.search import backend

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE store_messagesearch")
        backend._freqs.clear()
        assert backend._common_key_freqs()
        assert check_table(alice, corpus) == []
        backend._freqs.clear()
    first = search_messages(alice, "실적", limit=2)
    rest = search_messages(alice, "실적", limit=10, before_id=first[-1].pk)
    assert [m.pk for m in [*first, *rest]] == [
        corpus["mixed"],
        corpus["cross"],
        corpus["html"],
        corpus["budget"],
    ]
