"""Sender authentication of one inbound message: SPF (RFC 7208, pyspf), every DKIM signature
(RFC 6376/8463, dkimpy: RSA and ed25519), ARC (RFC 8617, dkimpy's arc_verify) and DMARC
(RFC 7489, here: the policy lookup and alignment, with the organisational domain from the
packaged Public Suffix List of `publicsuffixlist`; no network).

Why these libraries: docs/inbound-trust.md. All DNS goes through mailcore.inbound.dnsbox.
No Django models here: the caller decides what the results mean for the mailbox.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from mailcore.inbound import dnsbox
from mailcore.mime.headers import header_fields

log = logging.getLogger("mailroom")

MAX_DKIM_SIGNATURES: Final = 10  # more is an attack on our CPU, not a real mail (rspamd: 5..)
MIN_RSA_BITS: Final = 1024  # RFC 8301 §3.2


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: str  # pass | fail | neutral | temperror | permerror
    domain: str  # d=
    selector: str  # s=
    algorithm: str = ""
    reason: str = ""


@dataclass(slots=True)
class AuthResults:
    spf: str = "none"
    spf_domain: str = ""  # the domain SPF was checked for (MAIL FROM, else HELO)
    spf_reason: str = ""
    dkim: list[DkimResult] = field(default_factory=list)
    arc: str = "none"
    arc_reason: str = ""
    dmarc: str = "none"
    dmarc_policy: str = ""  # none | quarantine | reject ('' when there is no record)
    dmarc_reason: str = ""
    from_domain: str = ""

    @property
    def dkim_summary(self) -> str:
        """One word for all signatures: pass if any passes (what DMARC and the UI care for)."""
        if not self.dkim:
            return "none"
        results = [d.result for d in self.dkim]
        for word in ("pass", "fail", "temperror", "permerror", "neutral"):
            if word in results:
                return word
        return results[0]


# --- SPF --------------------------------------------------------------------------------------


def check_spf(ip: str | None, mail_from: str, helo: str) -> tuple[str, str, str]:
    """(result, domain checked, reason). No client IP (mail not from SMTP) → none."""
    import spf

    domain = mail_from.rpartition("@")[2].lower() if mail_from else helo.lower()
    if not ip or not domain:
        return "none", domain, "no client IP or identity"
    sender = mail_from or f"postmaster@{helo}"
    spf.DNSLookup = dnsbox.spf_dnslookup  # pyspf's documented hook; idempotent
    try:
        result, explanation = spf.check2(i=ip, s=sender, h=helo or domain, querytime=0)
    except Exception as exc:  # a pyspf bug must not cost a delivery
        log.warning("SPF check of %s from %s failed: %s", sender, ip, exc)
        return "temperror", domain, str(exc)[:200]
    return str(result), domain, str(explanation)[:200]


# --- DKIM and ARC -----------------------------------------------------------------------------

_TAG: Final = re.compile(rb"([a-z]+)\s*=\s*([^;]*)")


def _tags(value: bytes) -> dict[bytes, bytes]:
    return {k: re.sub(rb"\s+", b"", v) for k, v in _TAG.findall(value)}


def check_dkim(data: bytes) -> list[DkimResult]:
    """One result per DKIM-Signature (top first, at most MAX_DKIM_SIGNATURES)."""
    import dkim

    signatures = [v for n, v in header_fields(data) if n.lower() == b"dkim-signature"]
    out: list[DkimResult] = []
    # One verifier for all signatures: the message is parsed once (dkimverify does the same).
    verifier = dkim.DKIM(data, minkey=MIN_RSA_BITS, timeout=5) if signatures else None
    for idx, value in enumerate(signatures[:MAX_DKIM_SIGNATURES]):
        tags = _tags(value)
        domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
        selector = tags.get(b"s", b"").decode("ascii", "replace")
        algorithm = tags.get(b"a", b"").decode("ascii", "replace").lower()
        if algorithm == "rsa-sha1":  # RFC 8301 §3.1: MUST NOT be used for verifying
            out.append(DkimResult("fail", domain, selector, algorithm, "rsa-sha1 refused"))
            continue
        assert verifier is not None
        try:
            ok = verifier.verify(idx=idx, dnsfunc=_dnsfunc)
            reason = "" if ok else "signature did not verify"
            result = "pass" if ok else "fail"
        except dnsbox.DnsTempError as exc:
            result, reason = "temperror", str(exc)
        except dkim.KeyFormatError as exc:
            result, reason = "permerror", f"key: {exc}"
        except dkim.ValidationError as exc:
            # A body changed after signing is a failed signature (RFC 8601 §2.7.1 "fail"); a
            # malformed or unusable signature is a permerror.
            result = "fail" if "body hash mismatch" in str(exc) else "permerror"
            reason = str(exc)
        except dkim.DKIMException as exc:
            result, reason = "fail", str(exc)
        except Exception as exc:  # dkimpy on hostile input: never a lost delivery
            log.warning("DKIM verification error (d=%s): %s", domain, exc)
            result, reason = "permerror", type(exc).__name__
        if result == "pass" and b"l" in tags:
            # security.md A1: a body length limit lets anyone append content; not a pass.
            result, reason = "neutral", "l= body length limit"
        out.append(DkimResult(result, domain, selector, algorithm, reason[:200]))
    return out


def _dnsfunc(name: bytes, timeout: int = 5) -> bytes:
    return dnsbox.dkim_dnsfunc(name, timeout)


def check_arc(data: bytes) -> tuple[str, str]:
    """(pass | fail | none, reason) of the ARC chain (RFC 8617 §5.2). The chain is reported;
    a DMARC override from it needs a trusted sealer (INBOUND_ARC_TRUSTED_SEALERS)."""
    import dkim

    if not any(n.lower() == b"arc-seal" for n, _ in header_fields(data)):
        return "none", ""
    try:
        cv, _results, reason = dkim.arc_verify(data, dnsfunc=_dnsfunc, minkey=MIN_RSA_BITS)
    except dnsbox.DnsTempError as exc:
        return "temperror", str(exc)[:200]
    except Exception as exc:  # dkimpy on hostile input
        return "fail", f"{type(exc).__name__}: {exc}"[:200]
    word = cv.decode() if isinstance(cv, bytes) else str(cv)
    return word.lower(), str(reason)[:200]


def arc_sealer(data: bytes) -> str:
    """d= of the newest ARC-Seal (the highest i=), '' if none."""
    best, domain = -1, ""
    for name, value in header_fields(data):
        if name.lower() != b"arc-seal":
            continue
        tags = _tags(value)
        try:
            i = int(tags.get(b"i", b"0"))
        except ValueError:
            continue
        if i > best:
            best, domain = i, tags.get(b"d", b"").decode("ascii", "replace").lower()
    return domain


# --- DMARC ------------------------------------------------------------------------------------


@cache
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list bundled with the package: no download


def org_domain(domain: str) -> str:
    """The organisational domain (RFC 7489 §3.2): one label below the public suffix."""
    domain = domain.lower().rstrip(".")
    return _psl().privatesuffix(domain) or domain


def aligned(a: str, b: str, mode: str) -> bool:
    """RFC 7489 §3.1: strict = same domain; relaxed = same organisational domain."""
    if not a or not b:
        return False
    if mode == "s":
        return a == b
    return org_domain(a) == org_domain(b)


def dmarc_record(domain: str) -> tuple[dict[str, str], str]:
    """(tags, domain where found) of the DMARC record for `domain`, trying the organisational
    domain when the From domain has none (RFC 7489 §6.6.3); ({}, '') if none."""
    for where in dict.fromkeys([domain, org_domain(domain)]):
        records = [r for r in dnsbox.txt(f"_dmarc.{where}") if r.lower().startswith(b"v=dmarc1")]
        if len(records) == 1:  # several records: as if none (§6.6.3 step 5)
            text = records[0].decode("ascii", "replace")
            tags = {}
            for part in text.split(";"):
                key, _, value = part.partition("=")
                if key.strip():
                    tags[key.strip().lower()] = value.strip()
            return tags, where
    return {}, ""


def check_dmarc(res: AuthResults, from_domains: list[str]) -> None:
    """Fill res.dmarc/dmarc_policy/from_domain. Exactly one From domain is required (security.md
    A2: the address DMARC judges must be the one the UI shows); anything else is a fail."""
    if len(from_domains) != 1 or not from_domains[0]:
        res.dmarc, res.dmarc_reason = "fail", "not exactly one From address"
        return
    domain = res.from_domain = from_domains[0].lower().rstrip(".")
    try:
        tags, where = dmarc_record(domain)
    except dnsbox.DnsTempError as exc:
        res.dmarc, res.dmarc_reason = "temperror", str(exc)
        return
    if not tags:
        res.dmarc, res.dmarc_reason = "none", "no DMARC record"
        return
    policy = tags.get("p", "none").lower()
    if where != domain and "sp" in tags:
        policy = tags["sp"].lower()
    res.dmarc_policy = policy if policy in ("none", "quarantine", "reject") else "none"
    spf_ok = res.spf == "pass" and aligned(res.spf_domain, domain, tags.get("aspf", "r"))
    dkim_ok = any(
        d.result == "pass" and aligned(d.domain, domain, tags.get("adkim", "r")) for d in res.dkim
    )
    if spf_ok or dkim_ok:
        res.dmarc = "pass"
        res.dmarc_reason = "aligned " + ("DKIM" if dkim_ok else "SPF")
    else:
        res.dmarc, res.dmarc_reason = "fail", "no aligned SPF or DKIM pass"
