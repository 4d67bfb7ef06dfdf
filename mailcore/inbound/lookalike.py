"""Look-alike sender domains (security.md S24/A4): a From domain that is not one of ours but
reads like one — an IDN homograph (Cyrillic а in "exаmple.com"), full-width letters, 0 for o.

The skeleton follows the idea of Unicode TS #39 §4 (confusable skeletons): NFKC, case fold,
then map each character that looks like a Latin letter or digit to that letter. The table is
the Cyrillic, Greek and Armenian letters that are pixel-identical to Latin ones in common
fonts, plus the digit/letter swaps phishing uses; it is small on purpose (no data file to keep
current) and covers what browsers' IDN display policies flag as whole-script confusables.
Pure functions; the caller supplies our domains.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable

import idna

_TABLE = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ѕ": "s", "т": "t",
        "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ү": "y",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j",
        # Armenian and Latin extensions
        "օ": "o", "ս": "u", "ց": "g", "ı": "i", "ȷ": "j", "ł": "l", "ø": "o",
        # digits and letter pairs
        "0": "o", "1": "l", "|": "l",
    }
)  # fmt: skip


def unicode_domain(domain: str) -> str:
    """`domain` with A-labels (xn--) decoded; undecodable labels stay as they are."""
    labels = []
    for label in domain.lower().rstrip(".").split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(idna.IDNAError):
                label = idna.decode(label)
        labels.append(label)
    return ".".join(labels)


def skeleton(domain: str) -> str:
    """What `domain` looks like: NFKC, case folded, confusables mapped, "rn" read as "m"."""
    text = unicodedata.normalize("NFKC", unicode_domain(domain)).casefold()
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")  # accents: é → e
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.translate(_TABLE).replace("rn", "m").replace("vv", "w")


def lookalike_of(domain: str, ours: Iterable[str]) -> str:
    """The one of `ours` that `domain` (or a parent of it) imitates, '' if none. Our own
    domains and their subdomains never count."""
    domain = unicode_domain(domain)
    own = [unicode_domain(d) for d in ours]
    if not domain or any(domain == d or domain.endswith("." + d) for d in own):
        return ""
    labels = domain.split(".")
    candidates = {skeleton(".".join(labels[i:])) for i in range(len(labels) - 1)}
    for d in own:
        if skeleton(d) in candidates:
            return d
    return ""
