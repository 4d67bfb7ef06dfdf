"""The MTA-STS policy our local domains publish (RFC 8461 §3): its text, served at
https://mta-sts.<domain>/.well-known/mta-sts.txt, and the TXT records to publish beside it
(`_mta-sts.<domain>`, whose id follows the text, and the TLS-RPT `_smtp._tls.<domain>`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from mailcore.directory.models import Domain
from mailcore.errors import UserError
from mailcore.mtasts.models import DomainSts, StsMode
from mailcore.mtasts.policy import _MX, MAX_AGE_LIMIT, policy_id, policy_text, txt_record
from mailcore.mtasts.tlsrpt import report_address


@dataclass(frozen=True, slots=True)
class ServedPolicy:
    domain: str
    mode: str
    mx: list[str]
    max_age: int
    extra_mx: list[str]
    text: str
    policy_id: str
    sts_record: str  # value of the _mta-sts.<domain> TXT record
    tlsrpt_record: str  # value of the _smtp._tls.<domain> TXT record


def served_policy(domain: Domain) -> ServedPolicy:
    row = DomainSts.objects.filter(domain=domain).first()
    mode = row.mode if row else StsMode.TESTING
    max_age = row.max_age if row else int(settings.MTA_STS_MAX_AGE)
    extra = list(row.extra_mx) if row else []
    hostname = settings.MAIL_HOSTNAME.lower().rstrip(".")
    mx = list(dict.fromkeys([hostname, *extra]))
    text = policy_text(mode, mx, max_age)
    return ServedPolicy(
        domain=domain.name,
        mode=mode,
        mx=mx,
        max_age=max_age,
        extra_mx=extra,
        text=text,
        policy_id=policy_id(text),
        sts_record=txt_record(text),
        tlsrpt_record=f"v=TLSRPTv1; rua=mailto:{report_address(domain.name)}",
    )


@transaction.atomic(durable=True)
def do_set_domain_sts(
    domain: Domain, *, mode: str, max_age: int, extra_mx: list[str]
) -> ServedPolicy:
    """Change what `domain` publishes. Raises InvalidInputError. The TXT id changes with it:
    the admin must publish the new record (the DNS check says so), or remote senders keep
    the old policy until its max_age runs out."""
    if mode not in StsMode.values:
        raise UserError("mode must be none, testing or enforce")
    if not 0 <= max_age <= MAX_AGE_LIMIT:
        raise UserError(f"max_age must be 0 to {MAX_AGE_LIMIT} seconds")
    names = []
    for raw in extra_mx[:20]:
        name = raw.strip().lower().rstrip(".")
        if not _MX.fullmatch(name) or len(name) > 253:
            raise UserError(f"not an MX name or *.pattern: {raw[:80]!r}")
        names.append(name)
    DomainSts.objects.update_or_create(
        domain=domain, defaults={"mode": mode, "max_age": max_age, "extra_mx": names}
    )
    return served_policy(domain)
