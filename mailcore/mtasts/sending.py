"""Our daily TLS reports (RFC 8460 §4-5) to the domains we sent mail to: for each
destination with session counts on a finished UTC day and a `_smtp._tls` record naming a
mailto: rua, one gzip'd JSON report queued as an outbound message from TLSRPT_FROM ('' = no
reports are sent). The queue entry's origin says which (day, domain) it covers, so a second
run never sends the same report twice. https: rua addresses are not served (logged).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import dns.exception
import dns.resolver
from django.conf import settings
from django.utils import timezone

from mailcore.delivery.entries import do_enqueue
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.delivery.relay import RelayConfig, make_resolver, relay_config
from mailcore.mtasts.models import RemotePolicy, TlsSessionCount

log = logging.getLogger("mailroom")

_ADDRESS = re.compile(r"[^\s<>@,;\"\\]{1,64}@[A-Za-z0-9.-]{1,253}")
MAX_RUA = 5


def rua_mailto(domain: str, cfg: RelayConfig) -> list[str]:
    """The mailto: addresses of `domain`'s TLS-RPT record (RFC 8460 §3); [] without one."""
    try:
        answer = make_resolver(cfg).resolve(f"_smtp._tls.{domain}", "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        log.info("TLS-RPT %s: TXT lookup failed: %s", domain, exc)
        return []
    records = [b"".join(getattr(rd, "strings", ())).decode("utf-8", "replace") for rd in answer]
    records = [r for r in records if re.match(r"v=TLSRPTv1\s*(;|$)", r)]
    if len(records) != 1:
        return []
    out = []
    for part in records[0].split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() != "rua":
            continue
        for uri in value.split(","):
            uri = uri.strip()
            if uri.lower().startswith("mailto:") and _ADDRESS.fullmatch(uri[7:]):
                out.append(uri[7:])
            elif uri:
                log.info("TLS-RPT %s: rua %s not used (only mailto: is sent)", domain, uri[:80])
    return out[:MAX_RUA]


@dataclass
class _Tally:
    ok: int = 0
    failed: int = 0
    details: dict[tuple[str, str, str], int] = field(default_factory=dict)


def build_report(domain: str, day: date, rows: list[TlsSessionCount]) -> dict[str, object]:
    """The RFC 8460 §4.4 JSON of `rows` (one domain, one day)."""
    submitter = settings.MAIL_HOSTNAME.lower().rstrip(".")
    tallies: dict[tuple[str, str], _Tally] = {}
    for row in rows:
        tally = tallies.setdefault((row.policy_type, row.policy_id), _Tally())
        if not row.result_type:
            tally.ok += row.count
            continue
        tally.failed += row.count
        key = (row.result_type, row.receiving_mx, row.receiving_ip)
        tally.details[key] = tally.details.get(key, 0) + row.count
    cached = RemotePolicy.objects.filter(domain=domain).first()
    out = []
    for (policy_type, policy_id), tally in sorted(tallies.items()):
        policy: dict[str, object] = {"policy-type": policy_type, "policy-domain": domain}
        if policy_type == "sts" and cached is not None and cached.policy_id == policy_id:
            policy["policy-string"] = [line for line in cached.text.splitlines() if line]
            policy["mx-host"] = list(cached.mx)
        out.append(
            {
                "policy": policy,
                "summary": {
                    "total-successful-session-count": tally.ok,
                    "total-failure-session-count": tally.failed,
                },
                "failure-details": [
                    {
                        "result-type": result,
                        "receiving-mx-hostname": mx,
                        **({"receiving-ip": ip} if ip else {}),
                        "failed-session-count": count,
                    }
                    for (result, mx, ip), count in sorted(tally.details.items())
                ],
            }
        )
    return {
        "organization-name": submitter,
        "date-range": {
            "start-datetime": f"{day.isoformat()}T00:00:00Z",
            "end-datetime": f"{day.isoformat()}T23:59:59Z",
        },
        "contact-info": settings.TLSRPT_FROM,
        "report-id": f"{day.isoformat()}_{domain}@{submitter}",
        "policies": out,
    }


def report_message(domain: str, day: date, report: dict[str, object], to: list[str]) -> bytes:
    """RFC 8460 §5.3: multipart/report; report-type="tlsrpt" with the gzip'd JSON."""
    submitter = settings.MAIL_HOSTNAME.lower().rstrip(".")
    msg = EmailMessage()
    msg["From"] = settings.TLSRPT_FROM
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain=submitter)
    msg["Subject"] = (
        f"Report Domain: {domain} Submitter: {submitter} Report-ID: <{report['report-id']}>"
    )
    msg["TLS-Report-Domain"] = domain
    msg["TLS-Report-Submitter"] = submitter
    msg.set_content(f"This is an aggregate TLS report from {submitter} for {domain} ({day}).\n")
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    name = f"{submitter}!{domain}!{start}!{start + 86399}!{report['report-id']}.json.gz"
    payload = gzip.compress(json.dumps(report).encode(), mtime=0)
    msg.add_attachment(payload, maintype="application", subtype="tlsrpt+gzip", filename=name)
    msg.set_type("multipart/report")
    msg.set_param("report-type", "tlsrpt")
    return msg.as_bytes()


def origin_of(domain: str, day: date) -> str:
    return f"tlsrpt:{day.isoformat()}:{hashlib.sha256(domain.encode()).hexdigest()[:32]}"


def do_send_reports(day: date | None = None) -> int:
    """Queue the reports of `day` (default yesterday, UTC) not queued before. Returns how
    many were queued. Nothing when TLSRPT_FROM is empty."""
    if not settings.TLSRPT_FROM:
        return 0
    day = day or timezone.now().date() - timedelta(days=1)
    cfg = relay_config()
    rows: dict[str, list[TlsSessionCount]] = {}
    for row in TlsSessionCount.objects.filter(day=day).order_by("policy_domain", "pk"):
        rows.setdefault(row.policy_domain, []).append(row)
    queued = 0
    for domain, domain_rows in rows.items():
        origin = origin_of(domain, day)
        if QueueEntry.objects.filter(origin=origin).exists():
            continue
        to = rua_mailto(domain, cfg)
        if not to:
            continue
        data = report_message(domain, day, build_report(domain, day, domain_rows), to)
        do_enqueue(
            sender=settings.TLSRPT_FROM,
            recipients=to,
            data=data,
            direction=Direction.OUTBOUND,
            origin=origin,
        )
        queued += 1
    if queued:
        log.info("TLS-RPT: %d report(s) for %s queued", queued, day)
    return queued
