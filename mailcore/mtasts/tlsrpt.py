"""SMTP TLS reporting (RFC 8460): counting the TLS outcome of our outbound sessions per day and
policy domain, and taking in the aggregate reports other senders mail to our rua address.

Received reports are hostile input: the message, the gzip stream and the JSON are each
bounded (size, nesting, counts, string lengths) before they are stored; a report that fails
any check is refused (ReportError, logged) and the mail itself is delivered as any other.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mailcore.directory.models import Domain
from mailcore.mtasts.models import TlsReport, TlsSessionCount
from mailcore.mtasts.policy import Lookup

log = logging.getLogger("mailroom")

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_REPORT_BYTES = 5 * 1024 * 1024  # decompressed JSON
MAX_DEPTH = 12
MAX_POLICIES = 1000
MAX_FAILURES = 1000
MAX_STRING = 1000
REPORT_TYPES = ("application/tlsrpt+gzip", "application/tlsrpt+json")
MAX_COUNT = 2**53


class ReportError(ValueError):
    """A TLS report refused: too large, not gzip/JSON, or not RFC 8460's shape."""


# --- outbound session counts ------------------------------------------------------------------


def record_session(lookup: Lookup, result_type: str, mx: str, ip: str) -> None:
    """Count one outbound session's TLS outcome (result_type '' = success) for today (UTC).
    Best effort: a database error is logged, never raised into delivery."""
    policy_type = "sts" if lookup.policy is not None else "no-policy-found"
    if lookup.failure and policy_type == "no-policy-found":
        # RFC 8460 §4.3.2.3: a policy that could not be fetched or parsed fails the session's
        # policy validation whatever TLS did; reported under "sts".
        result_type, policy_type = lookup.failure, "sts"
    key = {
        "day": timezone.now().date(),
        "policy_domain": lookup.domain[:253],
        "policy_type": policy_type,
        "policy_id": lookup.policy_id[:32],
        "result_type": result_type[:40],
        "receiving_mx": mx[:253],
        "receiving_ip": ip[:45] if result_type else "",
    }
    try:
        if TlsSessionCount.objects.filter(**key).update(count=F("count") + 1):
            return
        try:
            with transaction.atomic():
                TlsSessionCount.objects.create(count=1, **key)
        except IntegrityError:  # created meanwhile by another worker
            TlsSessionCount.objects.filter(**key).update(count=F("count") + 1)
    except DatabaseError:
        log.exception("TLS-RPT: could not count a session to %s", lookup.domain)


# --- received reports -------------------------------------------------------------------------


def report_address(domain: str) -> str:
    """The rua mailbox of `domain`: TLSRPT_ADDRESS, else postmaster@<domain> (which every
    domain has, RFC 5321 §4.5.1)."""
    return settings.TLSRPT_ADDRESS or f"postmaster@{domain}"


def is_report_recipient(address: str) -> bool:
    address = address.lower()
    if settings.TLSRPT_ADDRESS:
        return address == settings.TLSRPT_ADDRESS.lower()
    return address.startswith("postmaster@")


def _gunzip(raw: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip only, output bounded (no bomb)
    try:
        out = d.decompress(raw, MAX_REPORT_BYTES + 1)
    except zlib.error as exc:
        raise ReportError(f"not a gzip stream: {exc}") from exc
    if len(out) > MAX_REPORT_BYTES or d.unconsumed_tail:
        raise ReportError("the report exceeds 5 MiB uncompressed")
    return out


def _depth(value: object, level: int = 0) -> None:
    if level > MAX_DEPTH:
        raise ReportError("the report JSON is nested too deeply")
    if isinstance(value, dict):
        for v in value.values():
            _depth(v, level + 1)
    elif isinstance(value, list):
        for v in value:
            _depth(v, level + 1)


def _str(obj: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ReportError(f"{key} must be a {'non-empty ' if required else ''}string")
    return value.strip()[:MAX_STRING]


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_COUNT:
        raise ReportError(f"{key} must be a count")
    return value


def _dict(obj: object, what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ReportError(f"{what} must be an object")
    return obj


def _when(value: str, key: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise ReportError(f"{key} is not an RFC 3339 date-time")
    return parsed


@dataclass(frozen=True, slots=True)
class ParsedReport:
    organization: str
    contact: str
    report_id: str
    start: datetime
    end: datetime
    policies: list[dict[str, Any]]  # normalised, see TlsReport.policies


def parse_report(data: bytes, *, gzipped: bool) -> ParsedReport:
    """RFC 8460 §4.4 JSON (gzip when `gzipped`) → ParsedReport. Raises ReportError."""
    raw = _gunzip(data) if gzipped else data
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError("the report exceeds 5 MiB")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportError(f"not JSON: {str(exc)[:100]}") from exc
    _depth(doc)
    top = _dict(doc, "the report")
    dates = _dict(top.get("date-range"), "date-range")
    start = _when(_str(dates, "start-datetime", required=True), "start-datetime")
    end = _when(_str(dates, "end-datetime", required=True), "end-datetime")
    items = top.get("policies")
    if not isinstance(items, list) or not items or len(items) > MAX_POLICIES:
        raise ReportError(f"policies must be a list of 1 to {MAX_POLICIES}")
    policies = []
    for item in items:
        entry = _dict(item, "a policy entry")
        pol = _dict(entry.get("policy"), "policy")
        summary = _dict(entry.get("summary"), "summary")
        details = entry.get("failure-details", [])
        if not isinstance(details, list) or len(details) > MAX_FAILURES:
            raise ReportError(f"failure-details must be a list of at most {MAX_FAILURES}")
        mx = pol.get("mx-host", [])
        if isinstance(mx, str):
            mx = [mx]
        if not isinstance(mx, list) or not all(isinstance(m, str) for m in mx):
            raise ReportError("mx-host must be a list of strings")
        failures = []
        for d in details:
            d = _dict(d, "a failure detail")
            failures.append(
                {
                    "result_type": _str(d, "result-type", required=True)[:40],
                    "sending_mta_ip": _str(d, "sending-mta-ip")[:45],
                    "receiving_mx_hostname": _str(d, "receiving-mx-hostname")[:253],
                    "receiving_ip": _str(d, "receiving-ip")[:45],
                    "failed_session_count": _int(d, "failed-session-count"),
                    "additional_information": _str(d, "additional-information")[:300],
                    "failure_reason_code": _str(d, "failure-reason-code")[:100],
                }
            )
        policies.append(
            {
                "policy_type": _str(pol, "policy-type", required=True)[:20],
                "policy_domain": _str(pol, "policy-domain", required=True).lower().rstrip("."),
                "mx_host": [m[:253] for m in mx[:20]],
                "successful": _int(summary, "total-successful-session-count"),
                "failed": _int(summary, "total-failure-session-count"),
                "failures": failures,
            }
        )
    return ParsedReport(
        organization=_str(top, "organization-name", required=True)[:200],
        contact=_str(top, "contact-info")[:200],
        report_id=_str(top, "report-id", required=True)[:200],
        start=start,
        end=end,
        policies=policies,
    )


def report_parts(data: bytes) -> list[tuple[bytes, bool]]:
    """The TLS-RPT attachments of a mail, (payload, gzipped) each: application/tlsrpt+gzip or
    +json (RFC 8460 §5.3), also plain application/json or gzip named *.json(.gz)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ReportError("the report mail exceeds 10 MiB")
    msg: Message = BytesParser(policy=compat32).parsebytes(data)
    out: list[tuple[bytes, bool]] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = (part.get_filename() or "").lower()
        gz = ctype == "application/tlsrpt+gzip" or (
            ctype in ("application/gzip", "application/x-gzip") and name.endswith(".json.gz")
        )
        js = ctype == "application/tlsrpt+json" or (
            ctype == "application/json" and name.endswith(".json")
        )
        if not (gz or js):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            out.append((payload, gz))
    return out


def do_ingest_report(data: bytes, *, queue_id: str = "") -> list[TlsReport]:
    """Store the reports of one mail, one row per local policy domain they cover (policies of
    other domains are dropped). Raises ReportError when the mail holds no valid report.
    Idempotent: a report seen before (organization, report-id, domain) is not stored again."""
    parts = report_parts(data)
    if not parts:
        raise ReportError("no application/tlsrpt+gzip or +json attachment")
    stored: list[TlsReport] = []
    for payload, gz in parts[:5]:
        report = parse_report(payload, gzipped=gz)
        stored += _store(report, queue_id)
    return stored


def _store(report: ParsedReport, queue_id: str) -> list[TlsReport]:
    named = {p["policy_domain"] for p in report.policies}
    local = set(Domain.objects.filter(name__in=named).values_list("name", flat=True))
    if not local:
        raise ReportError(f"the report is about no local domain ({', '.join(sorted(named)[:3])})")
    out = []
    for domain in sorted(local):
        mine = [p for p in report.policies if p["policy_domain"] == domain]
        try:
            with transaction.atomic():
                row, _ = TlsReport.objects.get_or_create(
                    organization=report.organization,
                    report_id=report.report_id,
                    domain=domain,
                    defaults={
                        "contact": report.contact,
                        "start": report.start,
                        "end": report.end,
                        "successful": sum(p["successful"] for p in mine),
                        "failed": sum(p["failed"] for p in mine),
                        "policies": mine,
                        "received_at": timezone.now(),
                        "queue_id": queue_id[:32],
                    },
                )
        except IntegrityError:
            row = TlsReport.objects.get(
                organization=report.organization, report_id=report.report_id, domain=domain
            )
        out.append(row)
    log.info(
        "TLS-RPT report %s from %s for %s stored",
        report.report_id,
        report.organization,
        ", ".join(sorted(local)),
    )
    return out


def take_reports(recipients: Sequence[str], data: bytes, *, queue_id: str) -> int:
    """Called for each inbound message before local delivery: when one of `recipients` is a
    rua address, store the TLS reports the message holds. Never raises; the message is
    delivered either way. Returns how many report rows now hold it."""
    if not any(is_report_recipient(r) for r in recipients):
        return 0
    if b"tlsrpt" not in data and b"json" not in data:
        return 0
    try:
        return len(do_ingest_report(data, queue_id=queue_id))
    except ReportError as exc:
        log.info("%s: TLS-RPT report refused: %s", queue_id, exc)
    except Exception:
        log.exception("%s: TLS-RPT report could not be stored", queue_id)
    return 0


def gzip_json(doc: object) -> bytes:
    """A report as senders mail it (tests and tools)."""
    return gzip.compress(json.dumps(doc).encode())
