"""Read-only views of TLS reporting for the admin console."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from mailcore.mtasts.models import TlsReport, TlsSessionCount


def list_tls_reports(domain: str, *, limit: int = 100) -> list[TlsReport]:
    """The reports received about `domain`, newest period first."""
    return list(TlsReport.objects.filter(domain=domain).order_by("-end", "-pk")[:limit])


def list_session_counts(since: date, domain: str = "") -> QuerySet[TlsSessionCount]:
    """Our outbound TLS session counts since `since` (UTC day), optionally one policy domain."""
    qs = TlsSessionCount.objects.filter(day__gte=since)
    if domain:
        qs = qs.filter(policy_domain=domain)
    return qs.order_by("-day", "policy_domain", "result_type", "receiving_mx")
