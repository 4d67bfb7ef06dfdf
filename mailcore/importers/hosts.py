"""sendmail's /etc/mail/local-host-names (also a Postfix mydestination or
virtual_mailbox_domains value pasted into a file) → domain names. Pure; no Django.

One or more names per line, separated by blanks or commas; '#' comments.
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
    lines, bad = logical_lines(data, continuation=False)
    names: list[HostName] = []
    skips: list[HostSkip] = []
    for line in lines:
        for token in split_unquoted(line.text, " \t,"):
            name = token.rstrip(".")
            if name.startswith("$"):
                skips.append(HostSkip(line.number, token, "parameter references are not expanded"))
            elif name.startswith("[") or re.fullmatch(r"[\d.]+|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*", name):
                skips.append(
                    HostSkip(line.number, token, "address literals are not domains; not imported")
                )
            elif name.lower() in MACHINE_NAMES:
                skips.append(
                    HostSkip(line.number, token, "names of the machine itself are not imported")
                )
            elif "/" in name or ":" in name:
                skips.append(HostSkip(line.number, token, "lookup tables and files are not read"))
            else:
                names.append(HostName(line.number, name))
    return names, skips, bad
