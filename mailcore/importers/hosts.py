"""sendmail's /etc/mail/local-host-names (also a Postfix mydestination or
virtual_mailbox_domains value pasted into a file), or Postfix's main.cf itself → domain names.
Pure; no Django.

One or more names per line, separated by blanks or commas; '#' comments. A file with
`name = value` lines is read as main.cf: only its mydestination is used (Postfix's default
when it has none), with $parameters expanded from the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailcore.importers.textmap import BadLine, logical_lines, split_unquoted

# Names that only ever mean "this machine": a Mailroom domain for them would be noise.
MACHINE_NAMES = {"localhost", "localhost.localdomain", "localhost4", "localhost6"}


@dataclass(frozen=True, slots=True)
class HostName:
    line: int
    name: str


@dataclass(frozen=True, slots=True)
class HostSkip:
    line: int
    name: str
    reason: str


def parse_local_host_names(data: bytes) -> tuple[list[HostName], list[HostSkip], list[BadLine]]:
    if looks_like_main_cf(data):
        return parse_main_cf_mydestination(data)
    lines, bad = logical_lines(data, continuation=False)
    names: list[HostName] = []
    skips: list[HostSkip] = []
    for line in lines:
        _classify(line.number, line.text, names, skips)
    return names, skips, bad


def _classify(number: int, text: str, names: list[HostName], skips: list[HostSkip]) -> None:
    """Sort the names of one line (or of one mydestination value) into names and skips."""
    for token in split_unquoted(text, " \t,"):
        name = token.rstrip(".")
        if name.startswith("$"):
            skips.append(HostSkip(number, token, "parameter references are not expanded"))
        elif name.startswith("[") or re.fullmatch(r"[\d.]+|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*", name):
            skips.append(HostSkip(number, token, "address literals are not domains; not imported"))
        elif name.lower() in MACHINE_NAMES or name.lower().startswith("localhost."):
            skips.append(HostSkip(number, token, "names of the machine itself are not imported"))
        elif "/" in name or ":" in name:
            skips.append(HostSkip(number, token, "lookup tables and files are not read"))
        else:
            names.append(HostName(number, name))


# --- Postfix main.cf ----------------------------------------------------------------------------

# postconf(5): mydestination's default; mydomain's is myhostname minus its first label.
DEFAULT_MYDESTINATION = "$myhostname, localhost.$mydomain, localhost"
MAX_EXPANSION_DEPTH = 8
_PARAMETER_LINE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*=(?P<value>.*)$")
_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|\((?P<paren>[^)]*)\)|(?P<bare>[A-Za-z0-9_]+))")


def looks_like_main_cf(data: bytes) -> bool:
    """main.cf (or `postconf` output): `name = value` lines, which local-host-names never has."""
    lines, _ = logical_lines(data)
    return any(_PARAMETER_LINE.match(line.text) for line in lines)


def main_cf_parameters(data: bytes) -> tuple[dict[str, tuple[int, str]], list[BadLine]]:
    """Every `name = value` of a main.cf with the number of its line; a later definition
    wins, as in Postfix."""
    lines, bad = logical_lines(data)
    params: dict[str, tuple[int, str]] = {}
    for line in lines:
        m = _PARAMETER_LINE.match(line.text)
        if m is None:
            bad.append(BadLine(line.number, f"not a 'name = value' line: {line.text[:60]!r}"))
            continue
        params[m.group("name")] = (line.number, m.group("value").strip())
    return params, bad


def expand_parameters(value: str, params: dict[str, str]) -> tuple[str, list[str]]:
    """`value` with $name, ${name} and $(name) replaced from `params` (recursively, as
    Postfix does), and the references it could not expand."""
    missing: list[str] = []

    def expand(text: str, depth: int) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group("braced") or m.group("paren") or m.group("bare") or ""
            if depth >= MAX_EXPANSION_DEPTH or name not in params:
                missing.append(m.group(0))
                return m.group(0)
            return expand(params[name], depth + 1)

        return _REFERENCE.sub(one, text)

    return expand(value, 0), missing


def parse_main_cf_mydestination(
    data: bytes,
) -> tuple[list[HostName], list[HostSkip], list[BadLine]]:
    """The domains of main.cf's mydestination. $myhostname and $mydomain are expanded from the
    file (mydomain defaults to myhostname without its first label), localhost and
    localhost.$mydomain are reported as names of the machine."""
    found, bad = main_cf_parameters(data)
    params = {name: value for name, (_, value) in found.items()}
    if "mydomain" not in params and "." in params.get("myhostname", ""):
        params["mydomain"] = params["myhostname"].split(".", 1)[1]
    number, value = found.get("mydestination", (0, DEFAULT_MYDESTINATION))
    names: list[HostName] = []
    skips: list[HostSkip] = []
    if number == 0:
        skips.append(
            HostSkip(
                0,
                "mydestination",
                f"not set in this main.cf; Postfix's default is used: {DEFAULT_MYDESTINATION}",
            )
        )
    for token in split_unquoted(value, " \t,"):
        expanded, missing = expand_parameters(token, params)
        if missing:
            skips.append(
                HostSkip(
                    number,
                    token,
                    f"{', '.join(missing)} is not set in this main.cf (Postfix would use the "
                    "machine's host name); set it there or add the domain with `domain add`",
                )
            )
            continue
        _classify(number, expanded, names, skips)
    return names, skips, bad
