"""rspamd over its HTTP protocol (https://rspamd.com/doc/developers/protocol.html): /checkv2 on
the normal worker (RSPAMD_URL) to scan, /learnspam and /learnham on the controller
(RSPAMD_CONTROLLER_URL) to teach Bayes. Off when RSPAMD_URL is empty.

Never raises for rspamd's sake: a scan that fails or times out returns None (the caller delivers
unscanned and says so), a learn that fails is logged. stdlib http.client: one request per call,
no extra dependency.
"""

from __future__ import annotations

import http.client
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

log = logging.getLogger("mailroom")

# rspamd's actions that mean "not for the inbox" (reject at SMTP is the admin's business; here
# it is filed as Junk like the rest). "soft reject" is greylisting and "no action" clean.
JUNK_ACTIONS = frozenset({"reject", "add header", "rewrite subject"})


@dataclass(frozen=True, slots=True)
class Scan:
    score: float
    required: float
    action: str
    symbols: tuple[str, ...]


class RspamdError(Exception):
    pass


def enabled() -> bool:
    return bool(settings.RSPAMD_URL)


def learning_enabled() -> bool:
    return bool(settings.RSPAMD_CONTROLLER_URL)


def _post(base: str, path: str, data: bytes, headers: dict[str, str], timeout: float) -> Any:
    url = urlsplit(base)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise RspamdError(f"bad rspamd URL {base!r}")
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = cls(url.hostname, url.port, timeout=timeout)
    try:
        conn.request("POST", url.path.rstrip("/") + path, body=data, headers=headers)
        response = conn.getresponse()
        body = response.read(1_000_000)
    except (OSError, http.client.HTTPException) as exc:
        raise RspamdError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    try:
        parsed = json.loads(body or b"{}")
    except ValueError as exc:
        raise RspamdError(f"HTTP {response.status}: not JSON") from exc
    if response.status != 200:
        raise RspamdError(f"HTTP {response.status}: {str(parsed.get('error', ''))[:200]}")
    return parsed


def scan(
    data: bytes, *, ip: str | None, helo: str, mail_from: str, rcpts: list[str], hostname: str
) -> Scan | None:
    """rspamd's verdict on `data`, or None when it is off, down, slow or answers nonsense."""
    if not enabled():
        return None
    headers = {"Content-Type": "message/rfc822", "Hostname": hostname, "Pass": "all"}
    if ip:
        headers["IP"] = ip
    if helo:
        headers["Helo"] = helo
    headers["From"] = mail_from or "<>"
    # Header values stay ASCII; an SMTPUTF8 address goes as UTF-8 is not safe for http.client.
    rcpt = [r for r in rcpts if r.isascii()]
    if rcpt:
        headers["Rcpt"] = rcpt[0]  # one is enough for per-user settings; more is not needed
    if not headers["From"].isascii():
        headers["From"] = "<>"
    try:
        answer = _post(
            settings.RSPAMD_URL, "/checkv2", data, headers, float(settings.RSPAMD_TIMEOUT)
        )
        return Scan(
            score=float(answer.get("score", 0.0)),
            required=float(answer.get("required_score", 0.0)),
            action=str(answer.get("action", "no action")),
            symbols=tuple(sorted(str(s) for s in (answer.get("symbols") or {}))),
        )
    except (RspamdError, TypeError, ValueError, AttributeError) as exc:
        log.warning("rspamd scan failed (%s): delivering unscanned", exc)
        return None


def learn(data: bytes, *, spam: bool, user: str = "") -> bool:
    """Teach rspamd's Bayes this message as spam or ham (the 스팸 신고 / 스팸 아님 buttons).
    `user` goes as the Deliver-To header, which per-user Bayes (statistic `per_user`) keys on.
    True when rspamd took it; False when off or failed (logged, never raised)."""
    base = settings.RSPAMD_CONTROLLER_URL
    if not base:
        return False
    headers = {"Content-Type": "message/rfc822"}
    if settings.RSPAMD_PASSWORD:
        headers["Password"] = settings.RSPAMD_PASSWORD
    if user and user.isascii():
        headers["Deliver-To"] = user
    path = "/learnspam" if spam else "/learnham"
    try:
        answer = _post(base, path, data, headers, float(settings.RSPAMD_TIMEOUT))
    except RspamdError as exc:
        # "already learned" comes back as an error (HTTP 208): taught before is taught.
        if "208" in str(exc):
            return True
        log.warning("rspamd %s failed: %s", path, exc)
        return False
    return bool(answer.get("success", False))
