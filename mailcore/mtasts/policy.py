"""MTA-STS wire formats, pure functions (no Django, no network): the `_mta-sts` TXT record,
the policy file (RFC 8461 §3.1-3.2), MX pattern matching (§4.1), and the policy we serve.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ENFORCE, TESTING, NONE = "enforce", "testing", "none"
MODES = (ENFORCE, TESTING, NONE)
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: max_age is at most one year
MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 §3.3: "SHOULD be less than 64 KB"
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
# RFC 8461 §3.2: an mx value is a domain name, optionally "*." + a domain name.
_MX = re.compile(
    r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
)


class PolicyError(ValueError):
    """A TXT record or policy file that is not valid MTA-STS."""


@dataclass(frozen=True, slots=True)
class Policy:
    mode: str
    mx: tuple[str, ...]
    max_age: int

    def matches(self, host: str) -> bool:
        return any(mx_matches(pattern, host) for pattern in self.mx)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What delivery to `domain` must honour. `policy` None: no policy (opportunistic TLS);
    a policy of mode none is returned as None too. `failure`: an RFC 8460 result type when
    discovery failed (the sessions are reported with it)."""

    domain: str
    policy: Policy | None = None
    policy_id: str = ""
    failure: str = ""


def parse_txt(records: list[str]) -> str | None:
    """The policy id of the `_mta-sts.<domain>` TXT records, None when there is no STS record.
    RFC 8461 §3.1: records not starting with v=STSv1 are ignored; more than one STS record,
    or one without a valid id, is treated as no record at all (PolicyError says why)."""
    sts = [r for r in records if re.match(r"v=STSv1\s*(;|$)", r)]
    if not sts:
        return None
    if len(sts) > 1:
        raise PolicyError("more than one v=STSv1 TXT record")
    fields: dict[str, str] = {}
    for part in sts[0].split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    policy_id = fields.get("id", "")
    if not _ID.fullmatch(policy_id):
        raise PolicyError(f"invalid id {policy_id[:40]!r} in the TXT record")
    return policy_id


def parse_policy(text: str) -> Policy:
    """RFC 8461 §3.2: `key: value` lines (CRLF or LF); version STSv1, mode, max_age, and one or
    more mx (none needed for mode none). Unknown keys are ignored; the first of a repeated
    key counts (mx repeats by design)."""
    fields: dict[str, str] = {}
    mx: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if line.strip():
                raise PolicyError(f"not a key: value line: {line[:60]!r}")
            continue
        key, value = key.strip(), value.strip()
        if key == "mx":
            host = value.lower().rstrip(".")
            if not _MX.fullmatch(host) or len(host) > 253:
                raise PolicyError(f"invalid mx {value[:80]!r}")
            mx.append(host)
        elif key not in fields:
            fields[key] = value
    if fields.get("version") != "STSv1":
        raise PolicyError("version is not STSv1")
    mode = fields.get("mode", "")
    if mode not in MODES:
        raise PolicyError(f"invalid mode {mode[:20]!r}")
    age = fields.get("max_age", "")
    if not age.isdigit() or len(age) > 10 or int(age) > MAX_AGE_LIMIT:
        raise PolicyError(f"invalid max_age {age[:20]!r}")
    if not mx and mode != NONE:
        raise PolicyError("no mx")
    return Policy(mode, tuple(dict.fromkeys(mx)), int(age))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: exact, or "*.example.com" matching exactly one more leftmost label."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


def policy_text(mode: str, mx: list[str], max_age: int) -> str:
    """The policy file we serve (CRLF line ends, RFC 8461 §3.2)."""
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return "".join(line + "\r\n" for line in lines)


def policy_id(text: str) -> str:
    """The id of our TXT record: it changes exactly when the served policy does (§3.1)."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def txt_record(text: str) -> str:
    return f"v=STSv1; id={policy_id(text)}"
