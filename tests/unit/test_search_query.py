"""The search language (mailcore.search.query) and the keys (mailcore.search.text): pure."""

from __future__ import annotations

from datetime import date

import pytest

from mailcore.search.query import SearchQuery, SearchSyntaxError, parse_query
from mailcore.search.text import document_keys, term_keys

PARSES: list[tuple[str, SearchQuery]] = [
    ("회의", SearchQuery(terms=("회의",))),
    ("ＡＢＣ  Mailroom", SearchQuery(terms=("abc", "mailroom"))),
    ("from:Kim 회의", SearchQuery(terms=("회의",), fields={"from": ("kim",)})),
    ('from:"Kim Minsu"', SearchQuery(fields={"from": ("kim", "minsu")})),
    ("to:bob subject:Plan", SearchQuery(fields={"to": ("bob",), "subject": ("plan",)})),
    ("filename:보고서.pdf", SearchQuery(fields={"filename": ("보고서.pdf",)})),
    ("body:x", SearchQuery(fields={"body": ("x",)})),
    ("has:attachment", SearchQuery(has_attachment=True)),
    ("is:unread is:starred", SearchQuery(unread=True, starred=True)),
    ("is:read is:unstarred", SearchQuery(unread=False, starred=False)),
    (
        "after:2026-01-31 before:2026/02/03",
        SearchQuery(after=date(2026, 1, 31), before=date(2026, 2, 3)),
    ),
    ("after:2026.1.5.", SearchQuery(after=date(2026, 1, 5))),
    ("in:보낸메일함 x", SearchQuery(terms=("x",), folder="보낸메일함")),
    ("note:this", SearchQuery(terms=("note:this",))),  # unknown operator: a plain word
    ("has:nothing", SearchQuery(terms=("has:nothing",))),
    ("a a A", SearchQuery(terms=("a",))),
]


@pytest.mark.parametrize(("q", "want"), PARSES)
def test_parse(q: str, want: SearchQuery) -> None:
    assert parse_query(q) == want


@pytest.mark.parametrize(
    ("q", "error"),
    [
        ("   ", "Type something"),
        ("x" * 201, "longer than"),
        (" ".join(f"w{i}" for i in range(11)), "at most 10"),
        ("before:tomorrow", "needs a date"),
        ("after:2026-02-30", "not a date"),
        ("after:2026-02-03 before:2026-02-03", "earlier"),
    ],
)
def test_parse_errors(q: str, error: str) -> None:
    with pytest.raises(SearchSyntaxError, match=error):
        parse_query(q)


def test_keys() -> None:
    doc = document_keys(["회의를 합니다", "mailroom", "q3실적"], cjk_trigrams=True)
    assert {"회의", "의를", "회의를", "합니", "니다", "합니다", "mai", "oom", "실적"} <= doc
    assert "를합" not in doc  # never across a space
    assert "q3" not in doc  # too short for a trigram: found by the bounded scan
    assert term_keys("회의", cjk_trigrams=True) == ["회의"]
    assert term_keys("회의를", cjk_trigrams=True) == ["회의를"]
    assert term_keys("회의를", cjk_trigrams=False) == ["회의", "의를"]
    assert term_keys("회", cjk_trigrams=True) == []
    assert term_keys("room", cjk_trigrams=True) == ["roo", "oom"]
    assert term_keys("kim@corp.test", cjk_trigrams=True) == ["kim", "cor", "tes", "est"]
    assert set(term_keys("room", cjk_trigrams=True)) <= document_keys(
        ["mailroom"], cjk_trigrams=True
    )
    assert len(term_keys("a" * 5 + "bcdefghijklmnopqrstuvwxyz", cjk_trigrams=True)) == 4


def test_date_range_keys() -> None:
    from datetime import UTC, datetime

    from mailcore.search.text import date_keys, range_keys

    assert date_keys(datetime(2026, 3, 9, 23, 30, tzinfo=UTC)) == ["m202603", "d20260309"]
    at = datetime(2026, 1, 30, tzinfo=UTC)
    to = datetime(2026, 4, 2, 23, 59, tzinfo=UTC)
    assert range_keys(at, to) == [
        "d20260130",
        "d20260131",
        "m202602",
        "m202603",
        "d20260401",
        "d20260402",
    ]
    assert range_keys(at, datetime(2040, 1, 1, tzinfo=UTC)) is None  # too many: rows only
