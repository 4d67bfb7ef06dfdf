"""Times each REST API request for Prometheus (issue 15 item 4; mailcore.metrics). The event
stream is left out: it is open for minutes by design."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from mailcore.metrics import API_LATENCY


class ApiLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path.startswith("/api/") or request.path == "/api/v1/events":
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        API_LATENCY.labels(request.method or "?", str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response
