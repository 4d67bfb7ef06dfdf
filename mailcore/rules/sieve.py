"""Sieve (RFC 5228) parser: script text -> a validated tree of commands and tests.

Pure: no Django, no store. Hostile scripts are the normal case, so size, nesting, string
and list lengths are capped before anything is built, and every error names its line and
column. Only the extensions the interpreter (mailcore.rules.interpret) runs are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, cast

MAX_SCRIPT_BYTES: Final = 64 * 1024
MAX_NESTING: Final = 16  # blocks and test nesting together (Pigeonhole: 32 blocks)
MAX_STRING: Final = 8 * 1024
MAX_LIST: Final = 256
MAX_COMMANDS: Final = 2000

EXTENSIONS: Final = frozenset(
    {
        "fileinto",
        "imap4flags",
        "copy",
        "reject",
        "vacation",
        "body",
        "relational",
        "regex",
        "envelope",
        "mailbox",
        "environment",
        "comparator-i;ascii-numeric",
        "comparator-i;octet",
        "comparator-i;ascii-casemap",
    }
)


class SieveSyntaxError(ValueError):
    """A script that cannot run; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True, slots=True)
class Tag:
    name: str  # without the colon, lower case


@dataclass(slots=True)
class Node:
    """A command or a test: identifier, positional arguments, tagged arguments, sub-tests
    and (for commands) a block."""

    name: str
    line: int
    column: int
    args: list[object] = field(default_factory=list)  # Tag | int | list[str]
    tests: list[Node] = field(default_factory=list)
    block: list[Node] | None = None
    tags: dict[str, object] = field(default_factory=dict)  # filled by validation
    positional: list[object] = field(default_factory=list)  # filled by validation

    def strings(self, index: int) -> list[str]:
        """Positional argument `index` as a string list (validation made sure it is one)."""
        value = self.positional[index]
        return [str(v) for v in value] if isinstance(value, list) else []

    def string(self, index: int) -> str:
        found = self.strings(index)
        return found[0] if found else ""

    def number(self, tag: str, default: int = 0) -> int:
        value = self.tags.get(tag, default)
        return value if isinstance(value, int) else default


@dataclass(frozen=True, slots=True)
class Script:
    commands: list[Node]
    requires: frozenset[str]


# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ident, tag, num, str, multi, punct, eof
    value: object
    line: int
    column: int


_TOKEN_RE: Final = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<hash>\#[^\n]*)
  | (?P<bracket>/\*)
  | (?P<multi>text:[ \t]*(?:\#[^\n]*)?\r?\n)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<tag>:[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>[0-9]+[KkMmGg]?)
  | (?P<quote>")
  | (?P<punct>[\[\](),;{}])
    """,
    re.VERBOSE,
)
_UNITS: Final = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _TOKEN_RE.match(text, pos)
        line, col = _position(text, pos)
        if m is None:
            raise SieveSyntaxError(f"unexpected character {text[pos]!r}", line, col)
        kind = m.lastgroup
        if kind in ("ws", "hash"):
            pos = m.end()
        elif kind == "bracket":
            close = text.find("*/", m.end())
            if close < 0:
                raise SieveSyntaxError("unterminated comment", line, col)
            pos = close + 2
        elif kind == "multi":
            value, pos = _multiline(text, m.end(), line, col)
            tokens.append(_Tok("str", [value], line, col))
        elif kind == "quote":
            value, pos = _quoted(text, m.end(), line, col)
            tokens.append(_Tok("str", [value], line, col))
        elif kind == "num":
            raw = m.group()
            unit = _UNITS.get(raw[-1].lower(), 1)
            digits = raw[:-1] if unit > 1 else raw
            if len(digits) > 10:
                raise SieveSyntaxError("number too large", line, col)
            tokens.append(_Tok("num", int(digits) * unit, line, col))
            pos = m.end()
        elif kind == "tag":
            tokens.append(_Tok("tag", m.group()[1:].lower(), line, col))
            pos = m.end()
        elif kind == "ident":
            tokens.append(_Tok("ident", m.group().lower(), line, col))
            pos = m.end()
        else:
            tokens.append(_Tok("punct", m.group(), line, col))
            pos = m.end()
    line, col = _position(text, end)
    tokens.append(_Tok("eof", None, line, col))
    return tokens


def _quoted(text: str, pos: int, line: int, col: int) -> tuple[str, int]:
    out: list[str] = []
    while True:
        if pos >= len(text):
            raise SieveSyntaxError("unterminated string", line, col)
        ch = text[pos]
        if ch == '"':
            break
        if ch == "\\" and pos + 1 < len(text):
            pos += 1  # RFC 5228 §2.4.2: "\\" is \, "\"" is ", any other \x is x
            ch = text[pos]
        out.append(ch)
        pos += 1
        if len(out) > MAX_STRING:
            raise SieveSyntaxError(f"string longer than {MAX_STRING} characters", line, col)
    return "".join(out), pos + 1


def _multiline(text: str, pos: int, line: int, col: int) -> tuple[str, int]:
    # RFC 5228 §2.4.2: lines up to a line holding only ".", with ".." unstuffed to ".".
    out: list[str] = []
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            raise SieveSyntaxError("multi-line string without the closing '.' line", line, col)
        raw = text[pos:nl].rstrip("\r")
        pos = nl + 1
        if raw == ".":
            break
        out.append(raw[1:] if raw.startswith("..") else raw)
        if sum(len(s) for s in out) > MAX_STRING:
            raise SieveSyntaxError(f"string longer than {MAX_STRING} characters", line, col)
    return "".join(s + "\r\n" for s in out), pos


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0
        self.count = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Tok | None = None) -> SieveSyntaxError:
        tok = tok or self.peek()
        return SieveSyntaxError(message, tok.line, tok.column)

    def punct(self, tok: _Tok, ch: str) -> bool:
        return tok.kind == "punct" and tok.value == ch

    def commands(self, depth: int) -> list[Node]:
        out: list[Node] = []
        while True:
            tok = self.peek()
            if tok.kind == "eof" or self.punct(tok, "}"):
                return out
            out.append(self.command(depth))

    def command(self, depth: int) -> Node:
        tok = self.take()
        if tok.kind != "ident":
            raise self.error("expected a command name", tok)
        self.count += 1
        if self.count > MAX_COMMANDS:
            raise self.error(f"more than {MAX_COMMANDS} commands", tok)
        node = Node(str(tok.value), tok.line, tok.column)
        self.arguments(node, depth)
        nxt = self.take()
        if self.punct(nxt, ";"):
            return node
        if self.punct(nxt, "{"):
            if depth + 1 > MAX_NESTING:
                raise self.error(f"blocks nested deeper than {MAX_NESTING}", nxt)
            node.block = self.commands(depth + 1)
            close = self.take()
            if not self.punct(close, "}"):
                raise self.error("expected '}'", close)
            return node
        raise self.error("expected ';' or '{'", nxt)

    def arguments(self, node: Node, depth: int) -> None:
        while True:
            tok = self.peek()
            if tok.kind == "tag":
                node.args.append(Tag(str(tok.value)))
                self.take()
            elif tok.kind == "num":
                node.args.append(tok.value)
                self.take()
            elif tok.kind == "str":
                node.args.append(cast(list[str], tok.value))
                self.take()
            elif self.punct(tok, "["):
                node.args.append(self.string_list())
            else:
                break
        tok = self.peek()
        if self.punct(tok, "("):
            self.take()
            while True:
                node.tests.append(self.test(depth + 1))
                sep = self.take()
                if self.punct(sep, ")"):
                    break
                if not self.punct(sep, ","):
                    raise self.error("expected ',' or ')' in a test list", sep)
        elif tok.kind == "ident":
            node.tests.append(self.test(depth + 1))

    def test(self, depth: int) -> Node:
        if depth > MAX_NESTING:
            raise self.error(f"tests nested deeper than {MAX_NESTING}")
        tok = self.take()
        if tok.kind != "ident":
            raise self.error("expected a test", tok)
        node = Node(str(tok.value), tok.line, tok.column)
        self.arguments(node, depth)
        return node

    def string_list(self) -> list[str]:
        self.take()  # [
        out: list[str] = []
        while True:
            tok = self.take()
            if tok.kind != "str":
                raise self.error("expected a string in the list", tok)
            out.extend(cast(list[str], tok.value))
            if len(out) > MAX_LIST:
                raise self.error(f"string list longer than {MAX_LIST}", tok)
            sep = self.take()
            if self.punct(sep, "]"):
                return out
            if not self.punct(sep, ","):
                raise self.error("expected ',' or ']' in a string list", sep)


# --------------------------------------------------------------------------- validation

# Tagged arguments: name -> kind ("flag": no value, "str", "num", "strlist").
_MATCH = {"is": "flag", "contains": "flag", "matches": "flag", "regex": "flag"}
_REL = {"value": "str", "count": "str"}
_CMP = {"comparator": "str"}
_ADDR_PART = {"all": "flag", "localpart": "flag", "domain": "flag"}
_TESTS: Final[dict[str, tuple[dict[str, str], int, str]]] = {
    # name: (tags, positional string-list arguments, requirement)
    "address": ({**_MATCH, **_REL, **_CMP, **_ADDR_PART}, 2, ""),
    "envelope": ({**_MATCH, **_REL, **_CMP, **_ADDR_PART}, 2, "envelope"),
    "header": ({**_MATCH, **_REL, **_CMP}, 2, ""),
    "body": (
        {**_MATCH, **_REL, **_CMP, "raw": "flag", "text": "flag", "content": "strlist"},
        1,
        "body",
    ),
    "exists": ({}, 1, ""),
    "environment": ({**_MATCH, **_REL, **_CMP}, 2, "environment"),
    "hasflag": ({**_MATCH, **_REL, **_CMP}, 1, "imap4flags"),
    "true": ({}, 0, ""),
    "false": ({}, 0, ""),
}
_COMMANDS: Final[dict[str, tuple[dict[str, str], str, str]]] = {
    # name: (tags, positional pattern, requirement); s = string, l = string list, ? optional
    "keep": ({"flags": "strlist"}, "", ""),
    "discard": ({}, "", ""),
    "stop": ({}, "", ""),
    "fileinto": ({"copy": "flag", "create": "flag", "flags": "strlist"}, "s", "fileinto"),
    "redirect": ({"copy": "flag"}, "s", ""),
    "reject": ({}, "s", "reject"),
    "addflag": ({}, "l", "imap4flags"),
    "setflag": ({}, "l", "imap4flags"),
    "removeflag": ({}, "l", "imap4flags"),
    "vacation": (
        {
            "days": "num",
            "seconds": "num",
            "subject": "str",
            "from": "str",
            "addresses": "strlist",
            "mime": "flag",
            "handle": "str",
        },
        "s",
        "vacation",
    ),
}
_TAG_NEEDS: Final = {
    "copy": "copy",
    "create": "mailbox",
    "flags": "imap4flags",
    "regex": "regex",
    "value": "relational",
    "count": "relational",
}
RELATIONS: Final = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})
COMPARATORS: Final = frozenset({"i;ascii-casemap", "i;octet", "i;ascii-numeric"})


def parse(text: str) -> Script:
    """Parse and validate a whole script; raises SieveSyntaxError at the first problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SCRIPT_BYTES:
        raise SieveSyntaxError(f"script larger than {MAX_SCRIPT_BYTES} bytes", 1, 1)
    parser = _Parser(tokenize(text))
    commands = parser.commands(0)
    tok = parser.peek()
    if tok.kind != "eof":
        raise parser.error("unexpected '}'", tok)
    requires: set[str] = set()
    _validate_block(commands, requires, top=True)
    return Script(commands, frozenset(requires))


def _validate_block(commands: list[Node], requires: set[str], *, top: bool) -> None:
    previous = ""
    requires_allowed = top
    for node in commands:
        if node.name == "require":
            if not requires_allowed:
                raise SieveSyntaxError(
                    "require must come before other commands", node.line, node.column
                )
            _one_string_list(node)
            for ext in node.strings(0):
                if ext.lower() not in EXTENSIONS:
                    raise SieveSyntaxError(f"unsupported extension {ext!r}", node.line, node.column)
                requires.add(ext.lower())
            continue
        requires_allowed = False
        if node.name in ("if", "elsif", "else"):
            if node.name != "if" and previous not in ("if", "elsif"):
                raise SieveSyntaxError(
                    f"{node.name} without a preceding if", node.line, node.column
                )
            if node.block is None:
                raise SieveSyntaxError(f"{node.name} needs a block", node.line, node.column)
            if node.name == "else":
                if node.args or node.tests:
                    raise SieveSyntaxError("else takes no test", node.line, node.column)
            else:
                if node.args or len(node.tests) != 1:
                    raise SieveSyntaxError(
                        f"{node.name} needs exactly one test", node.line, node.column
                    )
                _validate_test(node.tests[0], requires)
            _validate_block(node.block, requires, top=False)
            previous = node.name
            continue
        previous = node.name
        spec = _COMMANDS.get(node.name)
        if spec is None:
            raise SieveSyntaxError(f"unknown command {node.name!r}", node.line, node.column)
        if node.block is not None:
            raise SieveSyntaxError(f"{node.name} takes no block", node.line, node.column)
        if node.tests:
            raise SieveSyntaxError(f"{node.name} takes no test", node.line, node.column)
        tags, pattern, need = spec
        _need(need, requires, node)
        _split_args(node, tags, requires)
        _check_positional(node, pattern)


def _need(ext: str, requires: set[str], node: Node) -> None:
    if ext and ext not in requires:
        raise SieveSyntaxError(f'{node.name} needs require "{ext}"', node.line, node.column)


def _split_args(node: Node, tags: dict[str, str], requires: set[str]) -> None:
    args = node.args
    i = 0
    while i < len(args):
        arg = args[i]
        if isinstance(arg, Tag):
            kind = tags.get(arg.name)
            if kind is None:
                raise SieveSyntaxError(f"{node.name} has no :{arg.name}", node.line, node.column)
            if arg.name in node.tags:
                raise SieveSyntaxError(f":{arg.name} given twice", node.line, node.column)
            if arg.name in _TAG_NEEDS and _TAG_NEEDS[arg.name] not in requires:
                raise SieveSyntaxError(
                    f':{arg.name} needs require "{_TAG_NEEDS[arg.name]}"', node.line, node.column
                )
            value: object = True
            if kind != "flag":
                if i + 1 >= len(args) or isinstance(args[i + 1], Tag):
                    raise SieveSyntaxError(f":{arg.name} needs a value", node.line, node.column)
                value = args[i + 1]
                if kind == "num" and not isinstance(value, int):
                    raise SieveSyntaxError(f":{arg.name} needs a number", node.line, node.column)
                if kind == "str":
                    if not isinstance(value, list) or len(value) != 1:
                        raise SieveSyntaxError(
                            f":{arg.name} needs one string", node.line, node.column
                        )
                    value = value[0]
                if kind == "strlist" and not isinstance(value, list):
                    raise SieveSyntaxError(f":{arg.name} needs strings", node.line, node.column)
                i += 1
            node.tags[arg.name] = value
        else:
            node.positional.append(arg)
        i += 1
    matches = [
        t for t in ("is", "contains", "matches", "regex", "value", "count") if t in node.tags
    ]
    if len(matches) > 1:
        raise SieveSyntaxError("more than one match type", node.line, node.column)
    parts = [t for t in ("all", "localpart", "domain") if t in node.tags]
    if len(parts) > 1:
        raise SieveSyntaxError("more than one address part", node.line, node.column)
    for rel in ("value", "count"):
        if rel in node.tags and str(node.tags[rel]).lower() not in RELATIONS:
            raise SieveSyntaxError(f"unknown relation {node.tags[rel]!r}", node.line, node.column)
    if "comparator" in node.tags:
        name = str(node.tags["comparator"]).lower()
        if name not in COMPARATORS:
            raise SieveSyntaxError(f"unknown comparator {name!r}", node.line, node.column)
        if name == "i;ascii-numeric" and "comparator-i;ascii-numeric" not in requires:
            raise SieveSyntaxError(
                'i;ascii-numeric needs require "comparator-i;ascii-numeric"', node.line, node.column
            )
    if "regex" in node.tags:
        from mailcore.rules.patterns import checked_regex

        for pattern in node.args[-1] if isinstance(node.args[-1], list) else []:
            try:
                checked_regex(pattern)
            except ValueError as exc:
                raise SieveSyntaxError(str(exc), node.line, node.column) from None


def _check_positional(node: Node, pattern: str) -> None:
    if len(node.positional) != len(pattern):
        raise SieveSyntaxError(
            f"{node.name} takes {len(pattern)} argument(s), got {len(node.positional)}",
            node.line,
            node.column,
        )
    for want, got in zip(pattern, node.positional, strict=True):
        if not isinstance(got, list):
            raise SieveSyntaxError(f"{node.name} needs a string argument", node.line, node.column)
        if want == "s" and len(got) != 1:
            raise SieveSyntaxError(f"{node.name} needs a single string", node.line, node.column)


def _one_string_list(node: Node) -> None:
    if len(node.args) != 1 or not isinstance(node.args[0], list) or node.tests or node.block:
        raise SieveSyntaxError("require needs a string list", node.line, node.column)
    node.positional = list(node.args)


def _validate_test(node: Node, requires: set[str]) -> None:
    if node.name in ("allof", "anyof"):
        if node.args or not node.tests:
            raise SieveSyntaxError(f"{node.name} needs a test list", node.line, node.column)
        for sub in node.tests:
            _validate_test(sub, requires)
        return
    if node.name == "not":
        if node.args or len(node.tests) != 1:
            raise SieveSyntaxError("not needs one test", node.line, node.column)
        _validate_test(node.tests[0], requires)
        return
    if node.name == "size":
        tags = [a for a in node.args if isinstance(a, Tag)]
        nums = [a for a in node.args if isinstance(a, int)]
        if (
            len(node.args) != 2
            or len(tags) != 1
            or tags[0].name not in ("over", "under")
            or len(nums) != 1
            or node.tests
        ):
            raise SieveSyntaxError(
                "size needs :over or :under and a number", node.line, node.column
            )
        node.tags[tags[0].name] = nums[0]
        return
    spec = _TESTS.get(node.name)
    if spec is None:
        raise SieveSyntaxError(f"unknown test {node.name!r}", node.line, node.column)
    if node.tests:
        raise SieveSyntaxError(f"{node.name} takes no sub-test", node.line, node.column)
    allowed, count, need = spec
    _need(need, requires, node)
    _split_args(node, allowed, requires)
    if len(node.positional) != count or not all(isinstance(p, list) for p in node.positional):
        raise SieveSyntaxError(
            f"{node.name} takes {count} string argument(s)", node.line, node.column
        )


def quote(value: str) -> str:
    """A Sieve quoted string for `value` (used by the rule generator)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
