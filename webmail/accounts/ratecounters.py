"""Request counters shared by every web process, for the API throttles: Redis when REDIS_URL
is set, the RateCounter table otherwise (the embedded default), never process memory, so N
gunicorn workers allow the limit once, not N times.

A sliding window approximated from two fixed windows (the previous window's count weighs what
is left of it), so a client cannot double its rate at a window boundary. Refused requests are
not counted: a client that waits for Retry-After gets its turn.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from webmail.accounts.models import RateCounter

log = logging.getLogger(__name__)

REDIS_PREFIX = "mailroom:rate:"
_local = threading.local()


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    wait: float = 0.0  # seconds until a request would be allowed again


def _redis() -> Any:
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "url", None) != settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        _local.client, _local.url = client, settings.REDIS_URL
    return client


def _estimate(previous: int, current: int, fraction: float) -> float:
    return previous * (1.0 - fraction) + current


def _wait(previous: int, current_before: int, limit: int, now: float, period: int) -> float:
    """Seconds until one more request fits (advisory, for Retry-After)."""
    into = now % period
    if current_before + 1 > limit or previous == 0:
        return period - into  # the current window alone is full: wait for the next one
    # previous * (1 - f) + current_before + 1 <= limit  ⇔  f >= 1 - (limit - 1 - cb) / previous
    needed = 1.0 - (limit - 1 - current_before) / previous
    return max(1.0, needed * period - into)


def _hit_redis(key: str, limit: int, period: int, now: float) -> RateDecision:
    window = int(now // period)
    current_key, previous_key = f"{REDIS_PREFIX}{key}:{window}", f"{REDIS_PREFIX}{key}:{window - 1}"
    client = _redis()
    pipe = client.pipeline(transaction=True)
    pipe.incr(current_key)
    pipe.expire(current_key, 2 * period)
    pipe.get(previous_key)
    current, _, previous_raw = pipe.execute()
    previous = int(previous_raw or 0)
    if _estimate(previous, int(current), (now % period) / period) <= limit:
        return RateDecision(True)
    client.decr(current_key)  # refused requests do not count
    return RateDecision(False, _wait(previous, int(current) - 1, limit, now, period))


def _hit_database(key: str, limit: int, period: int, now: float) -> RateDecision:
    window = int(now // period)
    moment = datetime.fromtimestamp(now, tz=UTC)
    RateCounter.objects.filter(expires_at__lt=moment).delete()
    expires = datetime.fromtimestamp((window + 2) * period, tz=UTC)
    with transaction.atomic():
        # UPDATE first: it takes the row lock, so the count read back below is exact even with
        # other processes counting the same client at the same moment.
        row = RateCounter.objects.filter(key=key, window=window)
        if not row.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, window=window, count=1, expires_at=expires)
            except IntegrityError:  # another process created it first
                row.update(count=F("count") + 1)
        current = row.values_list("count", flat=True).get()
        previous = (
            RateCounter.objects.filter(key=key, window=window - 1)
            .values_list("count", flat=True)
            .first()
        ) or 0
        if _estimate(previous, current, (now % period) / period) <= limit:
            return RateDecision(True)
        row.update(count=F("count") - 1)
    return RateDecision(False, _wait(previous, current - 1, limit, now, period))


def hit(key: str, *, limit: int, period: int) -> RateDecision:
    """Count one request for `key` ("scope:client") unless `limit` per `period` seconds is
    already used up. Redis errors fall back to the database, so the limit still holds."""
    now = time.time()
    if settings.REDIS_URL:
        try:
            return _hit_redis(key, limit, period, now)
        except Exception:  # any Redis failure: count in the database instead
            log.warning("rate counter: Redis unavailable, counting in the database", exc_info=True)
    return _hit_database(key, limit, period, now)


def clear(*, database: bool = True) -> None:
    """Forget every count (tests, and an operator lifting a throttle by hand)."""
    if database:
        RateCounter.objects.all().delete()
    if settings.REDIS_URL:
        client = _redis()
        keys = list(client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
