"""Postfix virtual(5) alias maps → domains and aliases. Pure; no Django.

    example.com            anything          (a virtual alias domain: becomes a local domain)
    info@example.com       joe, jane@example.net
    @example.com           catchall@example.com
    joe                    joe@example.com   (bare name: for the --domain domains)
    @example.org           @example.com      (domain rewrite: reported, not imported)

Regular-expression tables (lines starting with '/') are reported, not interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcore.importers.aliases import Target, classify_target
from mailcore.importers.textmap import BadLine, key_and_value, logical_lines, split_unquoted


@dataclass(frozen=True, slots=True)
class VirtualDomain:
    line: int
    domain: str


@dataclass(frozen=True, slots=True)
class VirtualAlias:
    line: int
    key: str  # 'user@domain', '@domain' (catch-all) or a bare 'user'
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class VirtualSkip:
    line: int
    key: str
    reason: str


def parse_virtual(
    data: bytes,
) -> tuple[list[VirtualDomain], list[VirtualAlias], list[VirtualSkip], list[BadLine]]:
    lines, bad = logical_lines(data)
    domains: list[VirtualDomain] = []
    aliases: list[VirtualAlias] = []
    skips: list[VirtualSkip] = []
    for line in lines:
        if line.text.startswith("/"):
            skips.append(
                VirtualSkip(line.number, line.text[:60], "regexp/pcre tables are not interpreted")
            )
            continue
        key, value = key_and_value(line.text)
        if not value:
            bad.append(BadLine(line.number, f"{key!r} has no value"))
            continue
        pieces = split_unquoted(value, " \t,")
        if "@" not in key and "." in key and not any("@" in p for p in pieces):
            # virtual(5): "example.com anything" declares a virtual alias domain.
            domains.append(VirtualDomain(line.number, key.rstrip(".")))
            continue
        targets: list[Target] = []
        for piece in pieces:
            if key.startswith("@") and piece.startswith("@"):
                skips.append(
                    VirtualSkip(
                        line.number,
                        f"{key} {piece}",
                        "domain rewriting (@a → @b) is not supported; "
                        "add aliases for each address, or a catch-all to one mailbox",
                    )
                )
                continue
            targets.extend(classify_target(piece, f"line {line.number}", None, 0))
        if targets:
            aliases.append(VirtualAlias(line.number, key, tuple(targets)))
    return domains, aliases, skips, bad
