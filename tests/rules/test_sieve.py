"""The Sieve parser (a table of scripts, good and bad, with the line and column of each error)
and the interpreter over a small corpus, including hostile scripts and patterns."""

from __future__ import annotations

import time

import pytest

from mailcore.mime import parse_message
from mailcore.rules.apply import message_view
from mailcore.rules.interpret import MAX_STEPS, run
from mailcore.rules.patterns import checked_regex, match_any
from mailcore.rules.rulelist import RuleListError, clean_rules, generate_script
from mailcore.rules.sieve import MAX_NESTING, SieveSyntaxError, parse
from tests.conftest import load_eml

GOOD = [
    "keep;",
    "",
    "# only a comment\n/* and a\nblock */ stop;",
    'require ["fileinto", "imap4flags"];\n'
    'if header :is "subject" "x" { fileinto :flags "\\\\Seen" "A"; }',
    'if allof (exists "from", not size :over 1M) { discard; } elsif true { keep; } else { stop; }',
    'require ["relational", "comparator-i;ascii-numeric"];\n'
    'if header :count "ge" :comparator "i;ascii-numeric" "received" "3" { stop; }',
    'require "vacation";\n'
    'vacation :days 3 :addresses ["a@b.c"] :subject "x" text:\nline\n..dot\n.\n;',
    'require ["envelope"]; if envelope :domain :is "from" "example.com" { discard; }',
    'require "regex"; if header :regex "subject" "^\\\\[list\\\\] [a-z]+$" { discard; }',
    'require "body"; if body :text :contains "unsubscribe" { discard; }',
    'require ["copy"]; redirect :copy "a@b.example";',
]

BAD = [
    ("keep", 1, 5, "expected ';' or '{'"),
    ("if true { keep;", 1, 16, "expected '}'"),
    ('fileinto "x";', 1, 1, 'needs require "fileinto"'),
    ('require "nope";', 1, 1, "unsupported extension"),
    ("keep;\nfrobnicate;", 2, 1, "unknown command"),
    ("if frob { }", 1, 4, "unknown test"),
    ('if header :is "s" { }', 1, 4, "takes 2 string"),
    ("else { }", 1, 1, "without a preceding if"),
    ('keep;\nrequire "fileinto";', 2, 1, "require must come before"),
    ('if size :over "x" { }', 1, 4, "size needs"),
    ('"unterminated', 1, 1, "unterminated string"),
    ("/* open", 1, 1, "unterminated comment"),
    ('require "vacation"; vacation text:\nno end', 1, 30, "closing '.'"),
    ('redirect :copy "a@b";', 1, 1, ':copy needs require "copy"'),
    ('if header :is :contains "a" "b" { }', 1, 4, "more than one match type"),
    ('require "regex"; if header :regex "s" "(a" { }', 1, 21, "bad regular expression"),
    ('require "regex"; if header :regex "s" "(a)\\\\1" { }', 1, 21, "back-references"),
    ("keep; @", 1, 7, "unexpected character"),
]


@pytest.mark.parametrize("text", GOOD)
def test_good_scripts_parse(text: str) -> None:
    parse(text)


@pytest.mark.parametrize("text,line,column,words", BAD)
def test_bad_scripts_name_line_and_column(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(SieveSyntaxError) as err:
        parse(text)
    assert (err.value.line, err.value.column) == (line, column), str(err.value)
    assert words in err.value.message


def test_hostile_sizes_are_refused() -> None:
    with pytest.raises(SieveSyntaxError, match="larger than"):
        parse("keep;" * 20000)
    deep = "if true { " * (MAX_NESTING + 1) + "}" * (MAX_NESTING + 1)
    with pytest.raises(SieveSyntaxError, match="nested deeper"):
        parse(deep)
    with pytest.raises(SieveSyntaxError, match="nested deeper"):
        parse("if " + "not " * 50 + "true { }")


def test_runtime_limit_keeps_the_message() -> None:
    # Many cheap tests: the step limit stops it, and the message stays in INBOX.
    tests = ", ".join(["false"] * 200)
    script = parse(("if anyof (" + tests + ") { discard; }\n") * 40)
    msg = message_view(
        parse_message(load_eml("address_forms.eml")),
        size=10,
        sender="",
        recipient="a@b.c",
        facts={},
    )
    started = time.monotonic()
    decision = run(script, msg)
    assert time.monotonic() - started < 2
    assert [f.folder for f in decision.filings] == ["INBOX"]
    assert decision.notes and str(MAX_STEPS) in decision.notes[0]


def test_regex_is_bounded() -> None:
    assert checked_regex("^a.*b$").search("a" * 10 + "b")
    for bad in ["(?=x)", "(a)\\1", "x" * 300, "[z-a]"]:
        with pytest.raises(ValueError):
            checked_regex(bad)
    started = time.monotonic()
    for evil in ["^a*a*a*b", "^(a+)+b$", "^(a|aa)*c"]:
        assert not match_any(["a" * 100_000 + "!"], [evil], match="regex")
    assert time.monotonic() - started < 2


CORPUS = {
    "address_forms.eml": None,
    "alternative_text_html.eml": None,
    "ksc5601_base64.eml": None,
    "rfc2047_split_utf8.eml": None,
    "evil_filename.eml": None,
}


def _view(name: str, facts: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    data = load_eml(name)
    return message_view(
        parse_message(data),
        size=len(data),
        sender="someone@remote.example",
        recipient="alice@example.com",
        facts=facts or {},
    )


# (rule list, corpus file, facts, expected folders, expected flags of the first copy)
RULE_TABLE = [
    (
        [
            {
                "conditions": [{"field": "attachment"}],
                "actions": [{"type": "move", "value": "Files"}],
            }
        ],
        "evil_filename.eml",
        {},
        ["Files"],
        (),
    ),
    (
        [
            {
                "conditions": [{"field": "attachment"}],
                "actions": [{"type": "move", "value": "Files"}],
            }
        ],
        "alternative_text_html.eml",
        {},
        ["INBOX"],
        (),
    ),
    (
        [
            {
                "conditions": [{"field": "spam_score", "op": "over", "value": "5"}],
                "actions": [{"type": "move", "value": "Junk"}],
            }
        ],
        "address_forms.eml",
        {"spam_score": 7.5},
        ["Junk"],
        (),
    ),
    (
        [
            {
                "conditions": [{"field": "spam_score", "op": "over", "value": "5"}],
                "actions": [{"type": "move", "value": "Junk"}],
            }
        ],
        "address_forms.eml",
        {},
        ["INBOX"],
        (),
    ),
    (
        [{"conditions": [{"field": "dmarc", "value": "fail"}], "actions": [{"type": "delete"}]}],
        "address_forms.eml",
        {"dmarc": "fail"},
        [],
        (),
    ),
    (
        [
            {
                "conditions": [{"field": "size", "op": "under", "value": "1M"}],
                "actions": [{"type": "star"}, {"type": "read"}],
            }
        ],
        "address_forms.eml",
        {},
        ["INBOX"],
        ("\\Flagged", "\\Seen"),
    ),
    (
        [
            {
                "conditions": [{"field": "size", "op": "over", "value": "1M"}],
                "actions": [{"type": "star"}],
            }
        ],
        "address_forms.eml",
        {},
        ["INBOX"],
        (),
    ),
    (
        [{"name": "off", "enabled": False, "conditions": [], "actions": [{"type": "delete"}]}],
        "address_forms.eml",
        {},
        ["INBOX"],
        (),
    ),
    (
        [
            {
                "conditions": [],
                "actions": [{"type": "keyword", "value": "$work"}, {"type": "stop"}],
            },
            {"conditions": [], "actions": [{"type": "delete"}]},
        ],
        "address_forms.eml",
        {},
        ["INBOX"],
        ("$work",),
    ),
    (
        [
            {
                "match": "any",
                "conditions": [
                    {"field": "subject", "op": "is", "value": "no such"},
                    {"field": "header", "header": "Message-ID", "op": "matches", "value": "*@*"},
                ],
                "actions": [{"type": "move", "value": "Any"}],
            }
        ],
        "address_forms.eml",
        {},
        ["Any"],
        (),
    ),
    (
        [
            {
                "conditions": [{"field": "subject", "op": "not_contains", "value": "zzz"}],
                "actions": [{"type": "forward", "value": "x@y.example"}],
            }
        ],
        "address_forms.eml",
        {},
        ["INBOX"],
        (),
    ),
]


@pytest.mark.parametrize("rules,name,facts,folders,flags", RULE_TABLE)
def test_rule_table_over_the_corpus(rules, name, facts, folders, flags) -> None:  # type: ignore[no-untyped-def]
    script = parse(generate_script(clean_rules(rules)))
    decision = run(script, _view(name, facts))
    assert [f.folder for f in decision.filings] == folders
    if folders:
        assert decision.filings[0].flags == flags


def test_korean_subject_and_body_match_decoded() -> None:
    data = load_eml("rfc2047_split_utf8.eml")
    parsed = parse_message(data)
    word = parsed.subject.split()[0]
    script = parse(
        generate_script(
            clean_rules(
                [
                    {
                        "conditions": [{"field": "subject", "op": "contains", "value": word}],
                        "actions": [{"type": "move", "value": "한글"}],
                    }
                ]
            )
        )
    )
    assert [f.folder for f in run(script, _view("rfc2047_split_utf8.eml")).filings] == ["한글"]


@pytest.mark.parametrize(
    "bad",
    [
        [{"conditions": [{"field": "nope"}], "actions": [{"type": "star"}]}],
        [{"conditions": [], "actions": []}],
        [{"conditions": [], "actions": [{"type": "forward", "value": "not an address"}]}],
        [
            {
                "conditions": [{"field": "size", "op": "over", "value": "big"}],
                "actions": [{"type": "star"}],
            }
        ],
        [
            {
                "conditions": [{"field": "subject", "op": "regex", "value": "(a"}],
                "actions": [{"type": "star"}],
            }
        ],
        [{"conditions": [{"field": "subject", "value": "a\nb"}], "actions": [{"type": "star"}]}],
    ],
)
def test_bad_rule_lists_are_refused(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleListError):
        clean_rules(bad)


def test_generated_script_quotes_hostile_values() -> None:
    rules = clean_rules(
        [
            {
                "conditions": [
                    {"field": "subject", "op": "contains", "value": 'x" { discard; } if true { "'}
                ],
                "actions": [{"type": "star"}],
            }
        ]
    )
    script = parse(generate_script(rules))
    assert [f.folder for f in run(script, _view("address_forms.eml")).filings] == ["INBOX"]
