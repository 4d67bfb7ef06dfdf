"""What the reading pane shows about a message's sender (issue 13 §1): the verified mark and
the warnings, from the index row (our verdict at delivery) and the real From address.

Read-only; one query (our domains) per call. Warnings are computed when read, not stored, so
a domain added later is protected for mail already in the mailbox too.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from mailcore.directory.models import Domain
from mailcore.inbound.lookalike import lookalike_of
from mailcore.store.models import Message


@dataclass(frozen=True, slots=True)
class SenderTrust:
    spf: str
    dkim: str
    dmarc: str
    spam_score: float | None
    spam_unscanned: bool
    verified: bool  # DMARC pass for the From domain
    lookalike: str  # the one of our domains the From domain imitates ('' if none)
    # dmarc_fail | lookalike_domain | display_name_address | spam_unscanned
    warnings: tuple[str, ...] = field(default=())


def display_name_address(name: str, address: str) -> bool:
    """The display name carries an address other than the real one (security.md A4), with
    full-width ＠ and the like folded first (NFKC)."""
    folded = unicodedata.normalize("NFKC", name).casefold().strip().strip("\"'<> ")
    return "@" in folded and folded != address.casefold()


def get_sender_trust(message: Message, from_name: str, from_addr: str) -> SenderTrust:
    """The trust summary of `message`; `from_name`/`from_addr` are the whole parsed From (the
    row's copies may be cut)."""
    warnings: list[str] = []
    if message.auth_dmarc == "fail":
        warnings.append("dmarc_fail")
    domain = from_addr.rpartition("@")[2]
    ours = Domain.objects.values_list("name", flat=True)
    lookalike = lookalike_of(domain, ours) if domain else ""
    if lookalike:
        warnings.append("lookalike_domain")
    if display_name_address(from_name, from_addr):
        warnings.append("display_name_address")
    if message.spam_unscanned:
        warnings.append("spam_unscanned")
    return SenderTrust(
        spf=message.auth_spf,
        dkim=message.auth_dkim,
        dmarc=message.auth_dmarc,
        spam_score=message.spam_score,
        spam_unscanned=message.spam_unscanned,
        verified=message.auth_dmarc == "pass" and not lookalike,
        lookalike=lookalike,
        warnings=tuple(warnings),
    )
