"""Our own trust headers on a stored message: removing the forged ones that came with it, and
reading back the ones we prepended (RFC 8601 Authentication-Results, X-Spam-*), so the index can
be rebuilt from the Maildir file like every other listing field.

Pure functions over bytes and header items: no I/O, no Django. Writing the headers is
mailcore.inbound's job; only the top copy carrying our authserv-id is ever believed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Final

from mailcore.mime.headers import find_header_block, header_lines

# Header fields only the receiving host may write. Any copy that arrives with the message is
# dropped before ours go on top (security.md S23/A9; RFC 8601 §5 says "MUST be removed" only for
# our authserv-id, but an X-Spam-* of a stranger's filter is noise the UI must not mistake for
# ours, so they go too, as rspamd's milter_headers `remove` does).
_SPAM_PREFIX: Final = b"x-spam-"
_AR: Final = b"authentication-results"
_FIELD_NAME: Final = re.compile(rb"([^\s:]++)[ \t]*+:")
# authserv-id: the first token of the value (RFC 8601 §2.2), before ';' or a version number.
_AUTHSERV: Final = re.compile(rb"\s*(?:\([^)]*\)\s*)*([^\s;()]+)")
_RESULT: Final = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.IGNORECASE)

RESULTS: Final = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy")


def authserv_id(value: bytes) -> str:
    """The authserv-id of an Authentication-Results value (lower-cased), '' if none."""
    match = _AUTHSERV.match(value)
    return match.group(1).decode("ascii", "replace").lower() if match else ""


def without_forged(data: bytes, own_id: str, *, spam: bool = True) -> bytes:
    """`data` without the Authentication-Results fields that claim `own_id` (any case) and,
    with `spam`, without any X-Spam-* field: only the receiving host may write those. A
    header block that does not end within the cap is returned unchanged (nothing can be
    judged of it)."""
    block = find_header_block(data)
    if block.truncated:
        return data
    own = own_id.lower()
    lines = header_lines(data[: block.end])
    kept: list[bytes] = []
    dropping = False
    changed = False
    for n, line in enumerate(lines):
        if line[:1] in (b" ", b"\t"):
            if dropping:
                continue
            kept.append(line)
            continue
        dropping = _is_ours(line, lines[n + 1 : n + 2], own, spam)
        changed = changed or dropping
        if not dropping:
            kept.append(line)
    if not changed:
        return data
    head = b"".join(line + b"\r\n" for line in kept)
    return head + data[block.end :]


def _is_ours(line: bytes, following: list[bytes], own: str, spam: bool = True) -> bool:
    match = _FIELD_NAME.match(line)
    if match is None:
        return False
    name = match.group(1).lower()
    if name.startswith(_SPAM_PREFIX):
        return spam
    if name != _AR:
        return False
    # The authserv-id is on the field's first line in every real header; a value that starts
    # on a continuation line is read from there.
    value = line[match.end() :]
    if not value.strip() and following:
        value = following[0]
    return authserv_id(value) == own


def trust_fields(headers: Iterable[tuple[str, str]], own_id: str) -> dict[str, object]:
    """The index columns of our verdict, read from a message's top-level header items
    (ParsedMessage.header_items): auth_spf/auth_dkim/auth_dmarc ('' = not examined), spam_score
    (None = not scanned) and spam_unscanned (the filter was asked and did not answer).

    Only the first Authentication-Results field with our authserv-id counts: ours is on top of
    the copy we store, and forged ones were removed before it went on."""
    out: dict[str, object] = {
        "auth_spf": "",
        "auth_dkim": "",
        "auth_dmarc": "",
        "spam_score": None,
        "spam_unscanned": False,
    }
    seen_ar = False
    own = own_id.lower()
    for name, value in headers:
        key = name.lower()
        if key == "authentication-results" and not seen_ar:
            if authserv_id(value.encode("utf-8", "replace")) != own:
                continue
            seen_ar = True
            out.update(_results(value))
        elif key == "x-spam-score" and out["spam_score"] is None:
            with contextlib.suppress(ValueError):
                out["spam_score"] = round(float(value.strip()), 2)
        elif key == "x-spam-status" and value.strip().lower().startswith("unscanned"):
            out["spam_unscanned"] = True
    return out


def _results(value: str) -> dict[str, str]:
    """method → result of one A-R value. Several dkim results (one per signature): any pass
    wins, as DMARC reads them (RFC 7489 §4.2)."""
    found: dict[str, str] = {}
    for method, result in _RESULT.findall(value):
        key, res = "auth_" + method.lower(), result.lower()
        if res not in RESULTS:
            continue
        if key not in found or res == "pass":
            found[key] = res
    found.pop("auth_arc", None)  # ARC is shown through DMARC's override, not on its own
    return found
