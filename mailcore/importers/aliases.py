"""/etc/aliases (sendmail aliases(5), Postfix aliases(5)) → alias records. Pure; no Django.

    # comment
    postmaster:  root
    root:        alice, bob@example.org     # trailing comment
    staff:       alice,
                 bob                         (continuation line)
    list:        :include:/etc/mail/list.txt
    archive:     /var/spool/archive          (file: reported, not imported)
    bugs:        "|/usr/bin/tracker"         (program: reported, not imported)
    alice:       \\alice, alice@gmail.com     ('\\' = the local user, no further aliasing)

Include files are read through a callback, so this module never opens files itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mailcore.importers.textmap import BadLine, logical_lines, split_unquoted, strip_comment

ADDRESS = "address"  # has a domain
LOCAL = "local"  # a bare local name: gets the alias's (or --target-domain's) domain
PROGRAM = "program"  # |command
FILE = "file"  # /path
ERROR_TARGET = "error"  # error:code text (sendmail)
BAD = "bad"  # unreadable include, nesting too deep …

NOT_IMPORTED = {
    PROGRAM: "program targets (|command) are not imported: use a filter or forward instead",
    FILE: "file targets (/path) are not imported: Mailroom delivers only to mailboxes",
    ERROR_TARGET: "error: targets are not imported (an unknown address is rejected anyway)",
}
MAX_INCLUDE_DEPTH = 5  # sendmail MaxAliasRecursion is 10; includes of includes are rare
MAX_INCLUDE_BYTES = 1024 * 1024
_ANGLE = re.compile(r"<([^<>]*)>\s*$")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    value: str
    where: str  # "line 12" or "/etc/mail/staff.txt:3"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AliasEntry:
    line: int
    name: str  # as written, quotes removed when they enclosed a plain name
    targets: tuple[Target, ...] = field(default=())


IncludeReader = Callable[[str], bytes]


def parse_aliases(
    data: bytes, *, read_include: IncludeReader | None = None
) -> tuple[list[AliasEntry], list[BadLine]]:
    """Parse an aliases file. Every target is kept with its kind, so the caller can import
    what it can and report the rest; syntax errors come back as BadLines."""
    lines, bad = logical_lines(data)
    entries: list[AliasEntry] = []
    for line in lines:
        name, sep, value = _split_name(line.text)
        if not sep:
            bad.append(BadLine(line.number, f"no ':' after the alias name in {line.text!r}"))
            continue
        if not name:
            bad.append(BadLine(line.number, "empty alias name"))
            continue
        if any(c in name for c in " \t") and not name.startswith('"'):
            bad.append(BadLine(line.number, f"alias name {name!r} contains white space"))
            continue
        targets = parse_targets(value, f"line {line.number}", read_include, depth=0)
        if not targets:
            bad.append(BadLine(line.number, f"alias {name!r} has no targets"))
            continue
        entries.append(AliasEntry(line.number, _unquote_name(name), tuple(targets)))
    return entries, bad


def _split_name(text: str) -> tuple[str, str, str]:
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return text[:i].strip(), ":", text[i + 1 :].strip()
    return text.strip(), "", ""


def _unquote_name(name: str) -> str:
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return name[1:-1] if '"' not in name[1:-1] else name
    return name


def parse_targets(
    value: str, where: str, read_include: IncludeReader | None, *, depth: int
) -> list[Target]:
    out: list[Target] = []
    for piece in split_unquoted(value, ","):
        out.extend(classify_target(piece, where, read_include, depth))
    seen: set[tuple[str, str]] = set()
    unique = []
    for t in out:
        if (t.kind, t.value.lower()) not in seen:
            seen.add((t.kind, t.value.lower()))
            unique.append(t)
    return unique


def classify_target(
    piece: str, where: str, read_include: IncludeReader | None, depth: int
) -> list[Target]:
    raw = piece.strip()
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and raw[1:2] in ("|", "/", ":"):
        raw = raw[1:-1].strip()  # "|/usr/bin/vacation joe", "/var/log/mail archive"
    lower = raw.lower()
    if raw.startswith("|"):
        return [Target(PROGRAM, raw, where, NOT_IMPORTED[PROGRAM])]
    if raw.startswith("/"):
        return [Target(FILE, raw, where, NOT_IMPORTED[FILE])]
    if lower.startswith(":include:"):
        return _include(raw[len(":include:") :].strip(), where, read_include, depth)
    if lower.startswith("error:"):
        return [Target(ERROR_TARGET, raw, where, NOT_IMPORTED[ERROR_TARGET])]
    angle = _ANGLE.search(raw)
    if angle:  # "Alice Example <alice@example.org>"
        raw = angle.group(1).strip()
    raw = raw.removeprefix("\\")  # \alice: the local user itself, not re-aliased
    if not raw:
        return []
    if any(c in raw for c in " \t") and not raw.startswith('"'):
        return [Target(BAD, raw, where, "unquoted white space inside an address")]
    return [Target(ADDRESS if "@" in raw else LOCAL, raw, where)]


def _include(path: str, where: str, read_include: IncludeReader | None, depth: int) -> list[Target]:
    shown = f":include:{path}"
    if read_include is None:
        return [Target(BAD, shown, where, "include files are not read here")]
    if depth >= MAX_INCLUDE_DEPTH:
        return [Target(BAD, shown, where, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")]
    try:
        data = read_include(path)
    except OSError as exc:
        return [Target(BAD, shown, where, f"cannot read include file: {exc.strerror or exc}")]
    if len(data) > MAX_INCLUDE_BYTES:
        return [Target(BAD, shown, where, f"include file larger than {MAX_INCLUDE_BYTES} bytes")]
    lines, bad = logical_lines(data, continuation=False)
    out = [Target(BAD, shown, f"{path}:{b.number}", b.reason) for b in bad]
    for line in lines:
        # An include file holds addresses separated by commas or new lines (sendmail).
        out.extend(
            parse_targets(
                strip_comment(line.text), f"{path}:{line.number}", read_include, depth=depth + 1
            )
        )
    return out
