"""The Verdict on one inbound message and the header block that records it on the stored copy:
Authentication-Results (RFC 8601, authserv-id = MAIL_HOSTNAME) and X-Spam-* (the names
SpamAssassin and rspamd's milter_headers use, so mutt, Thunderbird and procmail recipes read
them too).

A plain dataclass on purpose: the delivery worker files by it, user rules (Sieve) test it, and
it round-trips through JSON on the queue entry so a retried delivery stores the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from mailcore.mime.authresults import without_forged

_UNSAFE = re.compile(r"[^\x21-\x7e ]|[()\\;]")


def _clean(text: str, limit: int = 120) -> str:
    """Text safe inside an RFC 8601 comment or value: printable ASCII, no parens or ';'."""
    return _UNSAFE.sub("", text)[:limit].strip()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What examine() found. spf/dkim/dmarc/arc are RFC 8601 result words ("pass", "fail",
    "softfail", "neutral", "none", "temperror", "permerror"); dkim is the best over all
    signatures. spam_score is None when not scanned. `headers` is the block to put on top of
    the stored copy (CRLF lines, b'' when nothing was examined). `junk`: file into Junk."""

    spf: str = "none"
    dkim: str = "none"
    dmarc: str = "none"
    arc: str = "none"
    spam_score: float | None = None
    junk: bool = False
    headers: bytes = b""
    # Details for rules, logs and the UI.
    examined: bool = False  # False: our own users' mail, DSNs, forwards: nothing checked
    scanned: bool = False  # rspamd answered
    spam_action: str = ""
    spam_symbols: tuple[str, ...] = ()
    dmarc_policy: str = ""
    from_domain: str = ""
    reasons: tuple[str, ...] = field(default=())
    # DMARC failed with p=quarantine/reject and no trusted ARC sealer vouched: the owner's
    # policy applies (Junk at delivery; refused at SMTP time with SMTP_REJECT_DMARC and p=reject).
    dmarc_enforced: bool = False

    def stamp(self, data: bytes, authserv_id: str) -> bytes:
        """The stored copy: our headers on top of `data` without forged ones (S23/A9)."""
        return self.headers + without_forged(data, authserv_id)

    def to_json(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: every value is a scalar or a tuple of str,
        # and asdict's recursive deep copy cost more than the rest of the verdict's keeping.
        out = {name: getattr(self, name) for name in _FIELDS}
        out["headers"] = self.headers.decode("ascii", "replace")
        out["spam_symbols"] = list(self.spam_symbols)
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Verdict:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["headers"] = str(values.get("headers", "")).encode("ascii", "replace")
        values["spam_symbols"] = tuple(values.get("spam_symbols", ()))
        values["reasons"] = tuple(values.get("reasons", ()))
        return cls(**values)


_FIELDS = tuple(f.name for f in fields(Verdict))


@dataclass(slots=True)
class HeaderParts:
    """What goes into the headers, gathered by examine()."""

    authserv_id: str
    spf: str = "none"
    spf_domain: str = ""
    spf_helo: str = ""
    dkim: list[tuple[str, str, str, str]] = field(default_factory=list)  # result, d, s, a
    dmarc: str = "none"
    dmarc_policy: str = ""
    from_domain: str = ""
    arc: str = "none"
    arc_note: str = ""
    auth_checked: bool = True
    spam_asked: bool = False
    spam_score: float | None = None
    spam_required: float = 0.0
    spam_action: str = ""
    spam_symbols: tuple[str, ...] = ()
    junk: bool = False


def _fold(name: str, items: list[str], sep: str) -> bytes:
    """`Name: item1<sep>` with each further item on its own continuation line (RFC 5322
    §2.2.3), so no line nears the 998 limit whatever the item count."""
    if not items:
        return b""
    text = name + ": " + (sep + "\r\n\t").join(items) + "\r\n"
    return text.encode("ascii", "replace")


def render(parts: HeaderParts) -> bytes:
    """The header block for the stored copy (RFC 8601 §2.2 syntax)."""
    out = b""
    if parts.auth_checked:
        items = [_clean(parts.authserv_id, 253)]
        spf = f"spf={parts.spf}"
        if parts.spf_domain:
            spf += f" smtp.mailfrom={_clean(parts.spf_domain, 253)}"
        if parts.spf_helo:
            spf += f" smtp.helo={_clean(parts.spf_helo, 253)}"
        items.append(spf)
        for result, domain, selector, algo in parts.dkim or [("none", "", "", "")]:
            dk = f"dkim={result}"
            if domain:
                dk += f" header.d={_clean(domain, 253)}"
            if selector:
                dk += f" header.s={_clean(selector, 63)}"
            if algo:
                dk += f" header.a={_clean(algo, 32)}"
            items.append(dk)
        dm = f"dmarc={parts.dmarc}"
        if parts.dmarc_policy:
            dm += f" (p={_clean(parts.dmarc_policy, 12)})"
        if parts.from_domain:
            dm += f" header.from={_clean(parts.from_domain, 253)}"
        items.append(dm)
        arc = f"arc={parts.arc}"
        if parts.arc_note:
            arc += f" ({_clean(parts.arc_note)})"
        items.append(arc)
        out += _fold("Authentication-Results", items, ";")
    if parts.spam_asked:
        if parts.spam_score is None:
            out += b"X-Spam-Status: Unscanned (the spam filter did not answer)\r\n"
        else:
            score = f"{parts.spam_score:.2f}"
            out += f"X-Spam-Score: {score}\r\n".encode()
            out += f"X-Spam-Action: {_clean(parts.spam_action, 40)}\r\n".encode()
            out += f"X-Spam-Flag: {'YES' if parts.junk else 'NO'}\r\n".encode()
            status = [
                f"{'Yes' if parts.junk else 'No'}, score={score}",
                f"required={parts.spam_required:.2f}",
                *[_clean(s, 80) for s in parts.spam_symbols[:60]],
            ]
            out += _fold("X-Spam-Status", status, "")
    return out
