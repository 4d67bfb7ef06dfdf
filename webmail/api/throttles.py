"""API throttles whose counts every web process shares (webmail.accounts.ratecounters), keyed
by the one client address of webmail.api.clientip. DRF's own throttles count in each process's
memory and trust any X-Forwarded-For; none of them is used here."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from mailcore.ratelimit import ip_key
from webmail.accounts.ratecounters import hit, retry_after
from webmail.api.clientip import client_ip

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'20/min' → (20, 60), DRF's format: the unit's first letter counts."""
    count, _, unit = rate.partition("/")
    return int(count), _PERIODS[unit.strip()[0].lower()]


class SharedRateThrottle(BaseThrottle):
    """`view.throttle_scope`'s rate from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], per client
    IP (IPv6 per /64, like the login limiter)."""

    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request: Request, view: APIView) -> bool:
        scope = getattr(view, "throttle_scope", None)
        rates: dict[str, str | None] = getattr(settings, "REST_FRAMEWORK", {}).get(
            "DEFAULT_THROTTLE_RATES", {}
        )
        rate = rates.get(scope) if scope else None
        if not rate:
            return True
        limit, period = parse_rate(rate)
        decision = hit(f"{scope}:{ip_key(client_ip(request))}", limit=limit, period=period)
        self._wait = decision.wait
        return decision.allowed

    def wait(self) -> float | None:
        return retry_after(self._wait) if self._wait else None
