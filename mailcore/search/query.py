"""The search language of the search box, the API and the detailed-search panel (pure).

    words          each must appear in the subject, sender, a recipient, the body or an
                   attachment's file name (a substring, after NFKC and case folding)
    from:x to:x subject:x body:x filename:x      the same, in that field only (to: is To or Cc)
    has:attachment  is:unread  is:read  is:starred  is:unstarred
    after:2026-01-31  before:2026-02-01           arrival time; after: includes its day,
                                                  before: does not (as Gmail); - / . separate
    in:inbox|sent|drafts|tome|junk|trash|anywhere|<folder name>

"double quotes" group words with spaces into one operator value (from:"Kim Minsu"); every
word of it is matched in that field. An unknown `word:` is a plain word, as in Gmail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from mailcore.errors import UserError
from mailcore.mime import fold

MAX_SEARCH_CHARS: Final = 200
MAX_SEARCH_TERMS: Final = 10

FIELDS: Final = ("from", "to", "subject", "body", "filename")
_TOKEN_RE: Final = re.compile(r'(?:(\w+):)?(?:"([^"]*)"?|(\S+))')
_DATE_RE: Final = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\.?$")


class SearchSyntaxError(UserError):
    code = "invalid"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search. `terms` match any field; `fields` maps a field name (FIELDS) to the
    terms that must match in it. Terms are folded. None means "not filtered"."""

    terms: tuple[str, ...] = ()
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    has_attachment: bool | None = None
    unread: bool | None = None
    starred: bool | None = None
    after: date | None = None
    before: date | None = None
    folder: str | None = None

    def all_terms(self) -> list[str]:
        return [*self.terms, *(t for ts in self.fields.values() for t in ts)]

    def is_empty(self) -> bool:
        return self == SearchQuery()


def _date(value: str, op: str) -> date:
    m = _DATE_RE.match(value)
    if m is None:
        raise SearchSyntaxError(f"{op}: needs a date like 2026-01-31, not {value!r}.")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError as exc:
        raise SearchSyntaxError(f"{op}: {value!r} is not a date.") from exc


def _words(value: str) -> list[str]:
    return fold(value).split()


def parse_query(q: str) -> SearchQuery:
    """The SearchQuery of `q`; SearchSyntaxError for a bad date, an empty search, one longer
    than MAX_SEARCH_CHARS or with more than MAX_SEARCH_TERMS words."""
    if len(q) > MAX_SEARCH_CHARS:
        raise SearchSyntaxError(f"The search is longer than {MAX_SEARCH_CHARS} characters.")
    terms: list[str] = []
    fields: dict[str, list[str]] = {}
    flags: dict[str, bool] = {}
    dates: dict[str, date] = {}
    folder: str | None = None
    for m in _TOKEN_RE.finditer(q):
        op = (m.group(1) or "").lower()
        quoted = m.group(2) is not None
        value = m.group(2) if quoted else m.group(3)
        if op in FIELDS:
            fields.setdefault(op, []).extend(_words(value))
        elif op == "has" and value.lower() in {"attachment", "attachments", "첨부"}:
            flags["has_attachment"] = True
        elif op == "is" and value.lower() in {"unread", "read", "starred", "unstarred"}:
            v = value.lower()
            if v in {"unread", "read"}:
                flags["unread"] = v == "unread"
            else:
                flags["starred"] = v == "starred"
        elif op in {"before", "after"}:
            dates[op] = _date(value, op)
        elif op == "in" and value:
            folder = value
        else:
            # Not an operator: the whole text is words (an unknown `x:` stays in them).
            whole = (f"{m.group(1)}:" if m.group(1) else "") + value
            terms.extend(_words(whole))
    every = [*terms, *(t for ts in fields.values() for t in ts)]
    if len(set(every)) > MAX_SEARCH_TERMS:
        raise SearchSyntaxError(f"Search for at most {MAX_SEARCH_TERMS} words at once.")
    query = SearchQuery(
        terms=tuple(dict.fromkeys(terms)),
        fields={k: tuple(dict.fromkeys(v)) for k, v in fields.items() if v},
        has_attachment=flags.get("has_attachment"),
        unread=flags.get("unread"),
        starred=flags.get("starred"),
        after=dates.get("after"),
        before=dates.get("before"),
        folder=folder,
    )
    if query.is_empty():
        raise SearchSyntaxError("Type something to search for.")
    if query.after and query.before and query.after >= query.before:
        raise SearchSyntaxError("after: must be earlier than before:.")
    return query


def highlight_terms(q: str) -> list[str]:
    """The words of `q` a result list marks (every term and field term, folded)."""
    return parse_query(q).all_terms()
