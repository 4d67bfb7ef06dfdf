"""document_keys (words split first, the expression run over the distinct ones) gives the
keys its reference implementation gives: over the corpus's search texts and header fields,
and over random text mixing scripts, digits, underscores and every kind of space."""

from __future__ import annotations

import random

import pytest

from mailcore.mime import fold, parse_message, search_text
from mailcore.search.text import document_keys
from tests.indexcorpus import corpus, reference_document_keys

CORPUS = corpus()
# Characters a run may hold or not: every Unicode space str.split knows, the ASCII and
# C1 separators, underscore, punctuation, superscript and other non-decimal digits, Hangul,
# kana, CJK, Latin with diacritics, combining marks.
ALPHABET = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f"
    "\u205f\u3000\u200b_-.,@:;'\"/()[]<>!?·…—"
    "abcxyzÄäéß0123456789²³½٣۴߁①"
    "가각회의를합니다적서류ㄱㅏ"
    "あいうカタナ漢字中文國"
    "\u0301\u0308ǅＡｂ"
)


@pytest.mark.parametrize("cjk_trigrams", [True, False])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_keys(name: str, cjk_trigrams: bool) -> None:
    parsed = parse_message(CORPUS[name])
    fields = [
        fold(parsed.subject),
        *(fold(a.name) for a in (*parsed.from_, *parsed.to, *parsed.cc)),
        *(fold(a.addr) for a in (*parsed.from_, *parsed.to, *parsed.cc)),
        search_text(parsed),
        *(fold(a.filename) for a in parsed.attachments),
    ]
    got = document_keys(fields, cjk_trigrams=cjk_trigrams)
    assert got == reference_document_keys(fields, cjk_trigrams=cjk_trigrams)


def test_random_text_keys() -> None:
    rng = random.Random(17)
    for _ in range(3000):
        fields = [
            "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 60)))
            for _ in range(rng.randrange(1, 5))
        ]
        for cjk in (True, False):
            assert document_keys(fields, cjk_trigrams=cjk) == reference_document_keys(
                fields, cjk_trigrams=cjk
            ), fields
