"""Search tokens: the n-gram keys a message is indexed under and a query term looks up.

Pure functions over folded text (mailcore.mime.fold). Hangul, kana and CJK ideographs give
their overlapping bigrams (a lone syllable gives itself; PostgreSQL also keeps trigrams, so a
longer term looks up rarer keys); every other script gives trigrams of its letter/digit runs.
Any term of two or more such characters, or three or more other ones, can be looked up; the
keys only narrow the candidates, which are always rechecked against the text (no false hits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from mailcore.mime import fold

# Scripts written without spaces between short words: bigrams (as Xapian's CJK n-grams).
_CJK: Final = "\uac00-\ud7a3\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SEGMENT_RE: Final = re.compile(f"[{_CJK}]+|[^{_CJK}]+")
_RUN_RE: Final = re.compile(r"[^\W_]+")  # letters and digits: punctuation splits words
_CJK_RE: Final = re.compile(f"[{_CJK}]")

MAX_TERM_KEYS: Final = 4  # keys looked up per term: selective enough (the recheck does the
# rest), and each more costs every row the recent window filters
MAX_DATE_KEYS: Final = 100  # a date range needing more is filtered on the rows only


def _segments_of(run: str) -> Iterable[tuple[str, bool]]:
    if run.isascii():
        return ((run, False),)
    return ((seg, _CJK_RE.match(seg) is not None) for seg in _SEGMENT_RE.findall(run))


def segments(text: str) -> Iterable[tuple[str, bool]]:
    """(segment, is_cjk) for each letter/digit run of `text`, split where the script changes."""
    for run in _RUN_RE.findall(text):
        yield from _segments_of(run)


def _grams(seg: str, n: int) -> list[str]:
    return [seg[i : i + n] for i in range(len(seg) - n + 1)]


def document_keys(fields: Iterable[str], *, cjk_trigrams: bool) -> set[str]:
    """The keys of a message whose (already folded) field texts are `fields`."""
    # Each distinct word once (mail repeats its words), and the regular expression run over
    # those only: whitespace never belongs to a run, so the runs of the distinct
    # whitespace-separated words are the runs of the text (str.split is a C loop; the
    # expression's per-character class test was most of the cost on a long body).
    words: set[str] = set()
    for text in fields:
        words.update(text.split())
    runs = set(_RUN_RE.findall(" ".join(words)))
    keys: set[str] = set()
    for run in runs:
        if run.isascii():
            n = len(run)
            if n >= 3:
                keys.update([run[i : i + 3] for i in range(n - 2)])
            continue
        for seg, cjk in _segments_of(run):
            n = len(seg)
            if cjk:
                if n == 1:
                    keys.add(seg)
                    continue
                keys.update([seg[i : i + 2] for i in range(n - 1)])
                if cjk_trigrams:
                    keys.update([seg[i : i + 3] for i in range(n - 2)])
            elif n >= 3:
                keys.update([seg[i : i + 3] for i in range(n - 2)])
    return keys


def term_keys(term: str, *, cjk_trigrams: bool) -> list[str]:
    """Keys every message containing the (folded) `term` has; [] when the term is too short
    to be looked up (one Hangul syllable, fewer than three other characters)."""
    keys: list[str] = []
    for seg, cjk in segments(term):
        if cjk:
            if len(seg) == 2:
                keys.append(seg)
            elif len(seg) > 2:
                keys.extend(_grams(seg, 3) if cjk_trigrams else _grams(seg, 2))
        elif len(seg) >= 3:
            keys.extend(_grams(seg, 3))
    unique = list(dict.fromkeys(keys))
    if len(unique) <= MAX_TERM_KEYS:
        return unique
    step = (len(unique) - 1) / (MAX_TERM_KEYS - 1)  # spread over the term, ends included
    return list(dict.fromkeys(unique[round(i * step)] for i in range(MAX_TERM_KEYS)))


def folded_fields(
    subject: str,
    from_name: str,
    from_addr: str,
    recipients: Iterable[Iterable[str]],
    body: str,
    filenames: str,
) -> list[str]:
    """The texts a message is searched in, folded; `body` and `filenames` are stored folded."""
    out = [fold(subject), fold(from_name), fold(from_addr)]
    for pair in recipients:
        out.extend(fold(str(x)) for x in pair)
    out.append(body)
    out.extend(filenames.split("\n"))
    return out


# The key of a message with an attachment (has:attachment): longer than any n-gram and not
# a date or account key, so never one of them. A filter kept in the index lets the key
# lookup apply it (a common word with has:attachment no longer walks the messages without).
ATTACHMENT_KEY: Final = "attach"


def flag_keys(*, has_attachments: bool) -> list[str]:
    """The keys of a message's filterable properties that the index keeps."""
    return [ATTACHMENT_KEY] if has_attachments else []


def date_keys(when: datetime) -> list[str]:
    """The keys of a message's arrival day and month (UTC): longer than any n-gram, so never
    one."""
    u = when.astimezone(UTC)
    return [f"m{u:%Y%m}", f"d{u:%Y%m%d}"]


def range_keys(start: datetime, end: datetime) -> list[str] | None:
    """Keys of which every arrival in [start, end] has one: whole months inside the range as
    month keys, the days at its ragged ends as day keys; None when more than MAX_DATE_KEYS."""
    day, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    out: list[str] = []
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if day.day == 1 and month_end <= last:
            out.append(f"m{day:%Y%m}")
            day = month_end + timedelta(days=1)
        else:
            out.append(f"d{day:%Y%m%d}")
            day += timedelta(days=1)
        if len(out) > MAX_DATE_KEYS:
            return None
    return out
