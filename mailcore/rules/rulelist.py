"""The Settings screen's rule list (메일 필터) <-> Sieve text. Rules are checked here and
compiled to one script, in order; the script is what runs at delivery. Pure."""

from __future__ import annotations

from typing import Any, Final

from mailcore.rules.sieve import EXTENSIONS, quote

MAX_RULES: Final = 100
MAX_CONDITIONS: Final = 10
MAX_VALUE: Final = 500

FIELDS: Final = frozenset(
    {"from", "to", "subject", "body", "header", "size", "attachment", "dmarc", "spam_score"}
)
TEXT_OPS: Final = frozenset({"contains", "not_contains", "is", "matches", "regex"})
ACTIONS: Final = frozenset(
    {"move", "star", "read", "keyword", "forward", "delete", "reject", "stop"}
)
# Everything the generator may use (the comparator names are implied by their use).
REQUIRES: Final = tuple(
    sorted(EXTENSIONS - {"vacation", "comparator-i;octet", "comparator-i;ascii-casemap"})
)


class RuleListError(ValueError):
    """A rule that cannot be saved; `index` is the rule's position (0-based)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"rule {index + 1}: {message}")
        self.index = index


def _text(value: object, index: int, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RuleListError(index, f"{what} must be text")
    value = value.strip()
    if not value and not allow_empty:
        raise RuleListError(index, f"{what} is empty")
    if len(value) > MAX_VALUE or any(c in value for c in "\r\n\x00"):
        raise RuleListError(index, f"{what} is too long or has line breaks")
    return value


def clean_rules(rules: object) -> list[dict[str, Any]]:
    """Validate the UI's list and return it normalised; raises RuleListError."""
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise RuleListError(0, f"rules must be a list of at most {MAX_RULES}")
    out: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise RuleListError(i, "not an object")
        conditions = rule.get("conditions") or []
        actions = rule.get("actions") or []
        if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
            raise RuleListError(i, f"at most {MAX_CONDITIONS} conditions")
        if not isinstance(actions, list) or not actions or len(actions) > MAX_CONDITIONS:
            raise RuleListError(i, "needs at least one action")
        clean_c = [_condition(c, i) for c in conditions]
        clean_a = [_action(a, i) for a in actions]
        out.append(
            {
                "name": _text(rule.get("name", ""), i, "name", allow_empty=True),
                "enabled": bool(rule.get("enabled", True)),
                "match": "any" if rule.get("match") == "any" else "all",
                "conditions": clean_c,
                "actions": clean_a,
            }
        )
    return out


def _condition(c: object, i: int) -> dict[str, str]:
    if not isinstance(c, dict) or c.get("field") not in FIELDS:
        raise RuleListError(i, f"condition field must be one of {', '.join(sorted(FIELDS))}")
    field = str(c["field"])
    op = str(c.get("op", "contains"))
    out = {"field": field, "op": op, "value": "", "header": ""}
    if field == "attachment":
        out["op"] = "is"
        return out
    if field in ("size", "spam_score"):
        if op not in ("over", "under"):
            raise RuleListError(i, f"{field} needs over or under")
        value = _text(c.get("value", ""), i, field)
        digits = value.upper().removesuffix("K").removesuffix("M")
        if not digits.isdigit() or len(digits) > 9:
            raise RuleListError(i, f"{field} needs a number")
        out["value"] = value.upper() if field == "size" else digits
        return out
    if field == "dmarc":
        out["op"] = "is"
        out["value"] = _text(c.get("value", "fail"), i, "dmarc result").lower()
        return out
    if op not in TEXT_OPS:
        raise RuleListError(i, f"operator must be one of {', '.join(sorted(TEXT_OPS))}")
    out["value"] = _text(c.get("value", ""), i, "value")
    if op == "regex":
        from mailcore.rules.patterns import checked_regex

        try:
            checked_regex(out["value"])
        except ValueError as exc:
            raise RuleListError(i, str(exc)) from None
    if field == "header":
        name = _text(c.get("header", ""), i, "header name")
        if not all(33 <= ord(ch) <= 126 and ch != ":" for ch in name):
            raise RuleListError(i, "bad header name")
        out["header"] = name
    return out


def _action(a: object, i: int) -> dict[str, str]:
    if not isinstance(a, dict) or a.get("type") not in ACTIONS:
        raise RuleListError(i, f"action must be one of {', '.join(sorted(ACTIONS))}")
    kind = str(a["type"])
    value = ""
    if kind in ("move", "keyword", "forward"):
        value = _text(a.get("value", ""), i, kind)
        if kind == "forward" and ("@" not in value or any(ch in value for ch in " <>,")):
            raise RuleListError(i, "forward needs one e-mail address")
        if kind == "keyword" and (
            len(value) > 64
            or not all(33 <= ord(ch) < 127 and ch not in '(){%*"\\]' for ch in value)
        ):
            raise RuleListError(i, "a keyword is one word of ASCII letters")
    elif kind == "reject":
        value = _text(a.get("value", ""), i, "reject message", allow_empty=True)
    return {"type": kind, "value": value}


def _test(c: dict[str, str]) -> str:
    field, op, value = c["field"], c["op"], c["value"]
    if field == "attachment":
        return 'environment :is "vnd.mailroom.attachment" "yes"'
    if field == "size":
        return f":{op} {value}".join(["size ", ""])
    if field == "spam_score":
        rel = "gt" if op == "over" else "lt"
        return (
            f'environment :value "{rel}" :comparator "i;ascii-numeric" '
            f'"vnd.mailroom.spam_score" {quote(value)}'
        )
    if field == "dmarc":
        return f'environment :is "vnd.mailroom.dmarc" {quote(value)}'
    match = {"not_contains": "contains"}.get(op, op)
    negate = op == "not_contains"
    if field in ("from", "to"):
        headers = '"from"' if field == "from" else '["to", "cc"]'
        test = f"address :{match} {headers} {quote(value)}"
        if match in ("contains", "matches", "regex"):
            # Names as well as addresses ("홍길동" or "hong@"): the header as a whole.
            test = f"anyof (header :{match} {headers} {quote(value)}, {test})"
    elif field == "subject":
        test = f'header :{match} "subject" {quote(value)}'
    elif field == "body":
        test = f"body :text :{match} {quote(value)}"
    else:
        test = f"header :{match} {quote(c['header'])} {quote(value)}"
    return f"not {test}" if negate else test


def _commands(actions: list[dict[str, str]]) -> list[str]:
    out: list[str] = []
    stop = False
    for a in actions:
        kind, value = a["type"], a["value"]
        if kind == "star":
            out.append('addflag "\\\\Flagged";')
        elif kind == "read":
            out.append('addflag "\\\\Seen";')
        elif kind == "keyword":
            out.append(f"addflag {quote(value)};")
    for a in actions:
        kind, value = a["type"], a["value"]
        if kind == "move":
            out.append(f"fileinto :create {quote(value)};")
        elif kind == "forward":
            out.append(f"redirect :copy {quote(value)};")
        elif kind == "delete":
            out.append("discard;")
        elif kind == "reject":
            out.append(f"reject {quote(value or 'Your message was refused by the recipient.')};")
            stop = True
        elif kind == "stop":
            stop = True
    if stop:
        out.append("stop;")
    return out


def generate_script(rules: list[dict[str, Any]]) -> str:
    """The Sieve text for a cleaned rule list, rules in order. Flags set by a rule stay on the
    message for the later rules' copies and the kept copy (imap4flags' one variable), as
    Naver's "star" marks the message whatever else files it."""
    lines = [
        "# Generated by Mailroom from the rule list in Settings; editing it here makes it custom.",
        "require [" + ", ".join(quote(r) for r in REQUIRES) + "];",
    ]
    for n, rule in enumerate(rules, 1):
        if not rule["enabled"]:
            lines.append(f"# rule {n} (off): {rule['name']}".rstrip())
            continue
        lines.append(f"# rule {n}: {rule['name']}".rstrip())
        tests = [_test(c) for c in rule["conditions"]]
        if not tests:
            cond = "true"
        elif len(tests) == 1:
            cond = tests[0]
        else:
            joiner = "anyof" if rule["match"] == "any" else "allof"
            cond = f"{joiner} ({', '.join(tests)})"
        body = _commands(rule["actions"])
        lines.append(f"if {cond} {{")
        lines.extend("    " + b for b in body)
        lines.append("}")
    return "\n".join(lines) + "\n"
