"""sendmail's /etc/mail/access and Postfix's mynetworks → relay rules. Pure; no Django.

access(5) as sendmail reads it (makemap input): `LHS<white space>RHS`, the LHS optionally
tagged `Connect:`, `From:` or `To:`, the RHS one of RELAY, OK, REJECT, DISCARD, SKIP or
ERROR:[D.S.N:]NNN text. Client addresses may be partial (`192.168.1` is 192.168.1.0/24) or
`IPv6:`-prefixed. What maps onto Mailroom's rules (network [+ sender domain] [+ recipient
domain] → action) becomes an AccessRecord; everything else a Skip with the reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from mailcore.importers.textmap import BadLine, key_and_value, logical_lines, split_unquoted

ANY_NETWORKS = ("0.0.0.0/0", "::/0")
ACTIONS = ("RELAY", "OK", "REJECT", "DISCARD")
_ERROR = re.compile(
    r'^ERROR:\s*"?\s*(?:(?P<dsn>[245]\.\d{1,3}\.\d{1,3}):)?\s*(?P<code>[45]\d\d)?[\s:]*'
    r'(?P<text>.*?)"?\s*$',
    re.IGNORECASE,
)
_TAG = re.compile(r"^(?P<tag>[A-Za-z_]+):(?P<rest>.*)$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[^\s@\[\]/:]+(\.[^\s@\[\]/:]+)*$")


@dataclass(frozen=True, slots=True)
class AccessRecord:
    line: int
    key: str  # the left side as written
    networks: tuple[str, ...]  # CIDRs the rule applies to
    action: str  # RELAY | OK | REJECT | DISCARD
    sender_domain: str = ""
    recipient_domain: str = ""
    comment: str = ""
    domain_rule: bool = False  # keyed on a domain, over any network (wide is fine)
    note: str = ""  # what the admin should know about the mapping


@dataclass(frozen=True, slots=True)
class Skip:
    line: int
    key: str
    reason: str


def parse_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A client address in any of the spellings found in these files, or None.

    '192.0.2.1', '192.168.1' (sendmail partial: /24), '10.0.0.0/8', 'IPv6:2001:db8::1',
    'IPv6:2001:db8' (partial: /32), '[2001:db8::]/32', '[IPv6:::1]', '[::ffff:127.0.0.0]/104'.
    """
    value = text.strip()
    prefix = ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        value, prefix = value[1:end], value[end + 1 :]
        if prefix and not prefix.startswith("/"):
            return None
    if value.lower().startswith("ipv6:"):
        value = value[5:]
    if "/" in value and not prefix:
        value, _, bits = value.partition("/")
        prefix = "/" + bits
    if prefix and not prefix[1:].isdigit():
        return None
    try:
        if prefix:
            return ipaddress.ip_network(value + prefix, strict=False)
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        pass
    if prefix:
        return None
    # sendmail partial addresses: whole octets (IPv4) or whole 16-bit groups (IPv6).
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){0,2}", value):
        octets = value.split(".")
        if all(int(o) <= 255 for o in octets):
            padded = ".".join(octets + ["0"] * (4 - len(octets)))
            return ipaddress.ip_network(f"{padded}/{8 * len(octets)}")
    if (
        ":" in value
        and "::" not in value
        and re.fullmatch(r"[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){0,6}", value)
    ):
        groups = value.split(":")
        padded = ":".join(groups + ["0"] * (8 - len(groups)))
        return ipaddress.ip_network(f"{padded}/{16 * len(groups)}")
    return None


def parse_action(rhs: str) -> tuple[str | None, str, str]:
    """(action or None, comment, note or skip reason)."""
    value = rhs.strip()
    upper = value.upper()
    if upper in ACTIONS:
        return upper, "", ""
    if upper.startswith("ERROR:"):
        m = _ERROR.match(value)
        code = (m.group("code") if m else "") or ""
        text = (m.group("text") if m else value) or ""
        note = "ERROR mapped to REJECT"
        if code.startswith("4") or (m and (m.group("dsn") or "").startswith("4")):
            note = "temporary ERROR (4xx) mapped to a permanent REJECT"
        if text:
            note += f"; its text {text!r} is kept as the rule's comment"
        return "REJECT", value[:200], note
    if upper == "SKIP":
        return None, "", "SKIP only stops sendmail's lookup; there is nothing to import"
    if upper.startswith("QUARANTINE"):
        return None, "", "QUARANTINE is not supported"
    if upper in ("FRIEND", "HATER"):
        return None, "", f"{upper} (Spam: tag) is not supported"
    return None, "", f"unknown action {value!r}"


def parse_access(data: bytes) -> tuple[list[AccessRecord], list[Skip], list[BadLine]]:
    """Parse a sendmail access file (the text makemap reads, not the .db)."""
    lines, bad = logical_lines(data, continuation=False)
    records: list[AccessRecord] = []
    skips: list[Skip] = []
    for line in lines:
        key, rhs = key_and_value(line.text)
        if not rhs:
            bad.append(BadLine(line.number, f"{key!r} has no action"))
            continue
        tag, value = "", key
        if parse_network(key) is None:
            m = _TAG.match(key)
            if m and m.group("tag").lower() != "ipv6":
                tag, value = m.group("tag").lower(), m.group("rest").strip()
        if tag not in ("", "connect", "from", "to"):
            skips.append(
                Skip(line.number, key, f"the {key.split(':', 1)[0]}: tag is not supported")
            )
            continue
        action, comment, note = parse_action(rhs)
        if action is None:
            skips.append(Skip(line.number, key, note))
            continue
        made = _record(line.number, key, tag, value, action, comment, note)
        if isinstance(made, Skip):
            skips.append(made)
        else:
            records.append(made)
    return records, skips, bad


def _record(
    number: int, key: str, tag: str, value: str, action: str, comment: str, note: str
) -> AccessRecord | Skip:
    if tag in ("", "connect"):
        network = parse_network(value)
        if network is not None:
            return AccessRecord(number, key, (str(network),), action, comment=comment, note=note)
        if tag == "connect":
            return Skip(
                number,
                key,
                "client host names (reverse DNS) are not matched; add the client's network",
            )
    # A domain or an address (From:, To: or a bare domain).
    if value in ("<>", ""):
        return Skip(number, key, "rules for the null sender <> are not supported")
    local, at, domain = value.rpartition("@")
    if at and local:
        return Skip(number, key, "rules for single addresses are not supported (only domains)")
    if at and not domain:
        return Skip(number, key, "rules for a local part in every domain are not supported")
    domain = domain.strip().rstrip(".")
    if not _DOMAIN.match(domain):
        return Skip(number, key, f"{value!r} is neither a network nor a domain")
    if tag == "from" or (tag == "" and action != "RELAY"):
        if action == "RELAY":
            return Skip(
                number,
                key,
                "relaying by envelope sender is forgeable and not imported; "
                "use SMTP AUTH or the client's network",
            )
        extra = "" if tag else "bare domain taken as the envelope sender's domain (From:)"
        return AccessRecord(
            number,
            key,
            ANY_NETWORKS,
            action,
            sender_domain=domain,
            comment=comment,
            domain_rule=True,
            note="; ".join(x for x in (note, extra) if x),
        )
    extra = "" if tag else "bare domain with RELAY taken as relaying to that domain (To:)"
    return AccessRecord(
        number,
        key,
        ANY_NETWORKS,
        action,
        recipient_domain=domain,
        comment=comment,
        domain_rule=True,
        note="; ".join(x for x in (note, extra) if x),
    )


# --- Postfix mynetworks ---------------------------------------------------------------------

FileReader = Callable[[str], bytes]
MAX_NESTED_FILES = 3


def mynetworks_value(text: bytes) -> tuple[str, int]:
    """The mynetworks value of a main.cf (or `postconf mynetworks` output), or the whole text
    when it has no `mynetworks =` line; with the number of its first line."""
    lines, _ = logical_lines(text)
    for line in lines:
        name, eq, value = line.text.partition("=")
        if eq and name.strip() == "mynetworks":
            return value.strip(), line.number
    return " ".join(line.text for line in lines), (lines[0].number if lines else 1)


def parse_mynetworks(
    text: bytes, *, read_file: FileReader | None = None, _depth: int = 0
) -> tuple[list[AccessRecord], list[Skip]]:
    """Each network of a mynetworks value becomes a RELAY record ('!net' an OK record: the
    longer prefix wins, so the excluded clients may not relay)."""
    value, number = mynetworks_value(text)
    records: list[AccessRecord] = []
    skips: list[Skip] = []
    for token in split_unquoted(value, " \t,"):
        if token.startswith("/"):
            if read_file is None or _depth >= MAX_NESTED_FILES:
                skips.append(Skip(number, token, "nested file lists are not read here"))
                continue
            try:
                inner = read_file(token)
            except OSError as exc:
                skips.append(Skip(number, token, f"cannot read {token}: {exc.strerror or exc}"))
                continue
            r, s = parse_mynetworks(inner, read_file=read_file, _depth=_depth + 1)
            records.extend(r)
            skips.extend(s)
            continue
        if token.startswith("$"):
            skips.append(
                Skip(number, token, "parameter references are not expanded; paste the value")
            )
            continue
        negated = token.startswith("!")
        body = token[1:] if negated else token
        if re.match(r"^[a-z][a-z0-9_]*:", body) and parse_network(body) is None:
            skips.append(Skip(number, token, "lookup tables are not read; list the networks"))
            continue
        network = parse_network(body)
        if network is None:
            skips.append(Skip(number, token, "not a network (host names are not supported)"))
            continue
        records.append(
            AccessRecord(
                number,
                token,
                (str(network),),
                "OK" if negated else "RELAY",
                comment="mynetworks",
                note="'!' exclusion imported as an OK rule (no relaying)" if negated else "",
            )
        )
    return records, skips
