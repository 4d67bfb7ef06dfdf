"""imapmeta.compute(copy, parsed=…) reads the parse's entity tree instead of parsing the
copy again: its answer must be exactly compute(copy)'s, for every message of the corpus,
every kind of copy (a delivery's Return-Path/Delivered-To top, the message itself, tops
that change the answer) and every set of limits; the tree is read where it can be."""

from __future__ import annotations

import pytest

from mailcore.mime import ParseLimits, imapmeta, parse_message
from mailcore.mime.headers import for_final_delivery
from tests.indexcorpus import corpus

CORPUS = corpus()
LIMITS = [
    ParseLimits(),
    ParseLimits(max_headers=5),
    ParseLimits(max_header_bytes=300),
    ParseLimits(max_parts=3, max_depth=2),
    ParseLimits(max_bytes=100),
]
TOPS = [
    b"",
    b"X-Added: 1\r\n",
    b"X-Added: 1\r\n folded on\r\n",
    b"Content-Type: text/html\r\n",  # a field imapmeta reads: the tree cannot answer
    b"Subject: replaced\r\n",
    b"X-Unended: 1",
    b"\r\n",
    b" continuation\r\n",
]


def vars_of(limits: ParseLimits) -> tuple[int, ...]:
    return (limits.max_bytes, limits.max_headers, limits.max_header_bytes, limits.max_parts)


def _copy(data: bytes) -> bytes:
    return imapmeta.crlf_form(
        for_final_delivery(data, return_path="s@sender.example", recipient="a@example.com")
    )


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("limits", LIMITS, ids=lambda lim: "x".join(map(str, vars_of(lim))))
def test_same_answer_as_a_parse_of_the_copy(name: str, limits: ParseLimits) -> None:
    data = CORPUS[name]
    for source in (data, imapmeta.crlf_form(data)):
        parsed = parse_message(source, limits)
        copies = [_copy(source), *(top + source for top in TOPS)]
        for copy in copies:
            assert imapmeta.compute(copy, limits, parsed=parsed) == imapmeta.compute(
                copy, limits
            ), (name, copy[:80])
        # A parse made under other limits is never read for these.
        other = parse_message(source, ParseLimits(max_parts=2))
        copy = _copy(source)
        assert imapmeta.compute(copy, limits, parsed=other) == imapmeta.compute(copy, limits)


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("limits", LIMITS[:2], ids=lambda lim: "x".join(map(str, vars_of(lim))))
def test_a_copy_known_to_be_crlf_is_not_scanned_for_it(name: str, limits: ParseLimits) -> None:
    """compute(copy, crlf=True) (the caller knows the copy is in CRLF form, as a delivery's
    arrivals are) gives compute(copy)'s answer, with a fresh parse each time (the tree keeps
    its first answer), also for a parsed source that starts with a bare LF."""
    data = CORPUS[name]
    for source in (data, imapmeta.crlf_form(data), b"\n" + data):
        for copy in [_copy(source), *(imapmeta.crlf_form(top + source) for top in TOPS)]:
            assert imapmeta.crlf_form(copy) == copy
            parsed = parse_message(source, limits)
            assert imapmeta.compute(copy, limits, parsed=parsed, crlf=True) == imapmeta.compute(
                copy, limits
            ), (name, copy[:80])


def test_an_unrelated_parse_is_not_read() -> None:
    a, b = CORPUS["alternative_text_html.eml"], CORPUS["plain"]
    assert imapmeta.compute(b, parsed=parse_message(a)) == imapmeta.compute(b)


@pytest.mark.parametrize(
    "name", ["plain", "alternative_text_html.eml", "forwarded_rfc822.eml", "no_body"]
)
def test_a_delivery_copy_reads_the_tree(name: str) -> None:
    data = CORPUS[name]
    parsed = parse_message(data)
    assert parsed.tree is not None
    first = imapmeta.compute(_copy(data), parsed=parsed)
    assert isinstance(parsed.tree.imap, imapmeta.ImapMeta)  # computed from the tree, kept
    top = len(_copy(data)) - len(data)
    assert first.header_size == parsed.tree.imap.header_size + top
    # A second copy (another mailbox of an alias) takes it as it is, sizes moved.
    other = imapmeta.crlf_form(
        for_final_delivery(data, return_path="s@sender.example", recipient="longer@example.com")
    )
    second = imapmeta.compute(other, parsed=parsed)
    assert second == imapmeta.compute(other)
    assert second.bodystructure is first.bodystructure


def test_bare_lf_source_is_parsed_again() -> None:
    data = CORPUS["bare_lf_plain"]
    parsed = parse_message(data)
    assert imapmeta.compute(_copy(data), parsed=parsed) == imapmeta.compute(_copy(data))
    assert parsed.tree is not None and not isinstance(parsed.tree.imap, imapmeta.ImapMeta)
