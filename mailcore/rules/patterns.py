"""String matching for Sieve: :is/:contains/:matches/:regex, :value/:count (RFC 5231) and
the three comparators. Pure functions.

:regex is "limited": patterns run on RE2 (google-re2), whose matching time is linear in the
input, so no pattern backtracks (Python's re takes minutes on `^a*a*a*b` over 64 KB); a pattern
is short, has no back-references or lookarounds (RE2 has neither), and sees a bounded prefix
of the value.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final

import re2  # type: ignore[import-untyped]

MAX_REGEX: Final = 256
MAX_SUBJECT: Final = 64 * 1024  # characters of a value a pattern looks at

_FORBIDDEN: Final = re.compile(r"\\[1-9]|\(\?[=!<]|\(\?P=|\(\?\(")


def checked_regex(pattern: str) -> Any:
    """Compile a POSIX-extended-like pattern (RFC 5228 regex draft) for RE2, case-insensitive
    as i;ascii-casemap; raises ValueError with a message fit for the user."""
    if len(pattern) > MAX_REGEX:
        raise ValueError(f"regular expression longer than {MAX_REGEX} characters")
    if _FORBIDDEN.search(pattern):
        raise ValueError("back-references and lookarounds are not allowed in :regex")
    return _compile(pattern)


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False  # a user's typo is their error message, not a log line
    options.case_sensitive = False
    options.dot_nl = True
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(f"bad regular expression: {detail}") from None


@functools.lru_cache(maxsize=512)
def _wildcard(pattern: str, fold: bool) -> re.Pattern[str]:
    # RFC 5228 §2.7.1: * any sequence, ? one character, \ escapes the next one.
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "*":
            out.append(".*?")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL | (re.IGNORECASE if fold else 0))


def _numeric(value: str) -> int | None:
    # RFC 4790 §9.1.1 i;ascii-numeric: leading digits; none means "positive infinity".
    m = re.match(r"[0-9]+", value)
    return int(m.group()) if m else None


def _relate(a: object, b: object, relation: str) -> bool:
    ops = {
        "gt": lambda x, y: x > y,
        "ge": lambda x, y: x >= y,
        "lt": lambda x, y: x < y,
        "le": lambda x, y: x <= y,
        "eq": lambda x, y: x == y,
        "ne": lambda x, y: x != y,
    }
    return bool(ops[relation](a, b))


def _compare_numeric(value: str, key: str, relation: str) -> bool:
    a, b = _numeric(value), _numeric(key)
    inf = float("inf")
    return _relate(inf if a is None else a, inf if b is None else b, relation)


def match_any(
    values: list[str],
    keys: list[str],
    *,
    match: str = "is",
    comparator: str = "i;ascii-casemap",
    relation: str = "",
) -> bool:
    """True if any value matches any key under the match type and comparator."""
    if match == "count":
        count = str(len(values))
        return any(_compare_numeric(count, k, relation) for k in keys)
    fold = comparator == "i;ascii-casemap"
    for raw in values:
        value = raw[:MAX_SUBJECT]
        for key in keys:
            if _one(value, key, match, comparator, relation, fold):
                return True
    return False


def _one(value: str, key: str, match: str, comparator: str, relation: str, fold: bool) -> bool:
    if match == "value":
        if comparator == "i;ascii-numeric":
            return _compare_numeric(value, key, relation)
        a, b = (value.lower(), key.lower()) if fold else (value, key)
        return _relate(a, b, relation)
    if comparator == "i;ascii-numeric":
        if match != "is":
            return False
        return _numeric(value) == _numeric(key)
    if match == "regex":
        return checked_regex(key).search(value) is not None
    if match == "matches":
        return _wildcard(key, fold).match(value) is not None
    a, b = (value.lower(), key.lower()) if fold else (value, key)
    if match == "contains":
        return b in a
    return a == b
