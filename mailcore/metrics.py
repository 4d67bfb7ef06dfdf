"""Prometheus instruments of the serving processes (issue 15 item 4): SMTP sessions and
refusals by reply code, API latency, login failures. They live in each process; with
PROMETHEUS_MULTIPROC_DIR set (runall sets it when METRICS_LISTEN is on) prometheus_client
keeps them in files there and the maillog process's /metrics adds them up over every process.
Without it they are plain in-process counters (tests read them from the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SMTP_SESSIONS = Counter(
    "mailroom_smtp_sessions", "SMTP connections admitted, by the local port", ["port"]
)
SMTP_REFUSALS = Counter(
    "mailroom_smtp_rejections",
    "SMTP 4xx/5xx replies by code and enhanced status code (421 4.7.0 too many connections, "
    "550 5.1.1 unknown user, 554 5.7.1 relay denied, 535 5.7.8 bad password …)",
    ["code"],
)
API_LATENCY = Histogram(
    "mailroom_api_request_seconds",
    "REST API requests (not the event stream), by method and status",
    ["method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LOGIN_FAILURES = Counter(
    "mailroom_login_failures", "Wrong passwords counted by the limiter (web, API, SMTP, IMAP, POP3)"
)


def smtp_reply(status: str) -> None:
    """Count a reply when it refuses (4xx or 5xx): its code and enhanced code."""
    if status[:1] in {"4", "5"}:
        parts = status.split(" ", 2)
        code = " ".join(parts[:2]) if len(parts) > 1 and parts[1][:1].isdigit() else parts[0]
        SMTP_REFUSALS.labels(code[:12]).inc()
