"""Mail address canonicalisation: the one place addresses get their stored form.

Domains become lower-case IDNA A-labels; local parts are NFC-normalised and lower-cased (as
Postfix lookup tables and Gmail treat them). Pure functions, no Django.
"""

from __future__ import annotations

import re
import unicodedata

import idna

from mailcore.errors import InvalidAddressError

# RFC 5321 §4.5.3.1: local part 64 octets, domain 255, path 256.
MAX_LOCAL_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5322 atext, plus UTF-8 (RFC 6531) for local parts.
_DOT_ATOM_LOCAL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
    r"(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*$"
)
_SAFE_DIR = re.compile(r"^[a-z0-9][a-z0-9_+-]*(\.[a-z0-9_+-]+)*$")


def canonical_domain(domain: str) -> str:
    """Return the A-label form of `domain`; raise InvalidAddressError if it is not a host name."""
    value = domain.strip()
    if not value or value.endswith(".") or value.startswith("[") or len(value) > 255:
        raise InvalidAddressError(f"invalid domain {domain!r}")
    try:
        if value.isascii():
            alabel = value.lower()
        else:
            # IDNA 2008 with UTS #46 mapping (case folding, width mapping) as browsers do.
            alabel = idna.encode(value, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidAddressError(f"invalid domain {domain!r}: {exc}") from exc
    labels = alabel.split(".")
    if (
        len(alabel) > MAX_DOMAIN_OCTETS
        or len(labels) < 1
        or not all(_LABEL.match(x) for x in labels)
    ):
        raise InvalidAddressError(f"invalid domain {domain!r}")
    return alabel


def unicode_domain(alabel: str) -> str:
    """The U-label form for display; falls back to the A-label."""
    try:
        return idna.decode(alabel)
    except idna.IDNAError:
        return alabel


def canonical_local(local: str) -> str:
    """Return the stored form of a local part, or raise InvalidAddressError."""
    value = local
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        # A quoted local part that is a plain dot-atom inside ("alice") means the same mailbox.
        inner = value[1:-1]
        if _DOT_ATOM_LOCAL.match(inner):
            value = inner
        else:
            raise InvalidAddressError("quoted local parts are not supported")
    value = unicodedata.normalize("NFC", value).lower()
    if (
        not value
        or len(value.encode("utf-8")) > MAX_LOCAL_OCTETS
        or not _DOT_ATOM_LOCAL.match(value)
    ):
        raise InvalidAddressError(f"invalid local part {local!r}")
    return value


def split_address(address: str) -> tuple[str, str]:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddressError(f"invalid address {address!r}")
    return local, domain


def canonical_address(address: str) -> str:
    """`Alice@Bücher.Example` → `alice@xn--bcher-kva.example`."""
    local, domain = split_address(address)
    return f"{canonical_local(local)}@{canonical_domain(domain)}"


def storage_name(local: str) -> str:
    """Directory name for a canonical local part: itself when plainly safe, else a hex form.

    The result never contains '/', never starts with '.', and is unique per local part.
    """
    if _SAFE_DIR.match(local) and len(local) <= MAX_LOCAL_OCTETS:
        return local
    return "_" + local.encode("utf-8").hex()


def local_from_storage_name(name: str) -> str | None:
    """Inverse of storage_name, for rediscovering accounts from MAIL_ROOT; None if foreign."""
    if name.startswith("_"):
        try:
            local = bytes.fromhex(name[1:]).decode("utf-8")
        except ValueError:
            return None
    else:
        local = name
    try:
        return local if storage_name(canonical_local(local)) == name else None
    except InvalidAddressError:
        return None
