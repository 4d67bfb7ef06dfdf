"""DNS for the sender checks: the relay's resolvers (RELAY_NAMESERVERS, else /etc/resolv.conf),
one process-wide answer cache, and a time budget per message so a slow or hostile zone costs
at most INBOUND_AUTH_TIMEOUT seconds of a delivery, never a stuck worker (RFC 7208 §4.6.4).

The adapters give dkimpy and pyspf what they expect (bytes TXT for dkimpy's `dnsfunc`, pyspf's
DNSLookup tuples) without touching dnspython's global default resolver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from django.conf import settings

from mailcore.delivery.relay import make_resolver, relay_config

MAX_ANSWERS = 20_000


class _Cache(dns.resolver.LRUCache):
    """dnspython's cache, and in front of it our own answers by (name, type), each kept until
    the cached DNS answer it came from expires (its TTL; a negative answer's SOA minimum):
    a cached answer costs a dict look-up, where dnspython's resolve() of it (a resolution,
    name parsing, an exception for an empty answer) cost about 0.1 ms, two to four times
    a message. flush() forgets both."""

    def __init__(self, max_size: int) -> None:
        super().__init__(max_size=max_size)
        self.answers: dict[tuple[str, str], tuple[float, list[Any]]] = {}

    def flush(self, key: Any = None) -> None:
        super().flush(key)
        self.answers.clear()

    def answered(self, name: str, rtype: str) -> list[Any] | None:
        hit = self.answers.get((name.lower(), rtype))
        if hit is None or hit[0] <= time.time():
            return None
        return list(hit[1])

    def keep(self, name: str, rtype: str, records: list[Any], *, negative: bool) -> None:
        """Keep `records` as the answer to (name, rtype) until the entry dnspython cached for
        them expires (NXDOMAIN is cached under type ANY); nothing when it cached none."""
        qname = dns.name.from_text(name)
        rdtype = dns.rdatatype.from_text(rtype)
        cached = self.get((qname, rdtype, dns.rdataclass.IN))
        if cached is None and negative:
            cached = self.get((qname, dns.rdatatype.ANY, dns.rdataclass.IN))
        if cached is None:
            return
        if len(self.answers) >= MAX_ANSWERS:
            self.answers.clear()
        self.answers[(name.lower(), rtype)] = (cached.expiration, list(records))


# Shared by every resolver we make: dnspython honours TTLs; size bounds memory.
_CACHE = _Cache(max_size=20_000)
_lock = threading.Lock()
_resolver_key: tuple[object, ...] | None = None
_resolver: dns.resolver.Resolver | None = None


class DnsTempError(Exception):
    """A lookup timed out, the budget ran out or no server answered: a temperror."""


class Budget:
    """The DNS time one message may still spend."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


_budget: ContextVar[Budget | None] = ContextVar("inbound_dns_budget", default=None)


def resolver() -> dns.resolver.Resolver:
    """The resolver of the current settings (rebuilt when RELAY_NAMESERVERS changes)."""
    global _resolver, _resolver_key
    key = (settings.RELAY_NAMESERVERS, settings.RELAY_DNS_TIMEOUT)
    with _lock:
        if _resolver is None or key != _resolver_key:
            r = make_resolver(relay_config())
            _CACHE.flush()  # answers of other resolvers are not these resolvers' answers
            r.cache = _CACHE
            _resolver, _resolver_key = r, key
        return _resolver


@contextmanager
def budget(seconds: float) -> Iterator[Budget]:
    """Lookups inside the block share `seconds` in all."""
    b = Budget(seconds)
    token = _budget.set(b)
    try:
        yield b
    finally:
        _budget.reset(token)


def lookup(name: str, rtype: str) -> list[Any]:
    """The records of `name`: [] for NXDOMAIN or no answer; DnsTempError on timeout, SERVFAIL
    or an exhausted budget."""
    b = _budget.get()
    left = b.left() if b is not None else float(settings.RELAY_DNS_TIMEOUT)
    if left <= 0:
        raise DnsTempError(f"DNS time budget spent before {rtype} {name}")
    r = resolver()
    known = _CACHE.answered(name, rtype)
    if known is not None:
        return known
    try:
        answer = r.resolve(name, rtype, lifetime=min(left, r.lifetime), search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        _CACHE.keep(name, rtype, [], negative=True)
        return []
    except dns.resolver.LifetimeTimeout as exc:
        raise DnsTempError(f"DNS timeout for {rtype} {name}") from exc
    except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
        raise DnsTempError(f"DNS failure for {rtype} {name}: {exc}") from exc
    records = list(answer)
    _CACHE.keep(name, rtype, records, negative=False)
    return records


def txt(name: str) -> list[bytes]:
    """TXT records of `name`, each one's strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2)."""
    return [b"".join(rr.strings) for rr in lookup(name, "TXT")]


def dkim_dnsfunc(name: bytes, timeout: int = 5) -> bytes:
    """dkimpy's `dnsfunc`: the joined TXT of a key record, b'' when absent. A temporary
    failure raises, which dkimpy reports as a temporary verification failure."""
    del timeout  # the message budget bounds it
    records = txt(name.decode("ascii", "replace").rstrip("."))
    return records[0] if records else b""


def spf_dnslookup(name: str, qtype: str, strict: bool = True, timeout: float = 20) -> list[Any]:
    """pyspf's DNSLookup (spf.DNSLookup), answering from our resolver: a list of
    ((name, type), data) with data as pyspf's own dnspython driver gives it."""
    import spf

    del strict, timeout
    try:
        records = lookup(name, qtype)
    except DnsTempError as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    out: list[Any] = []
    for rr in records:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), rr.address))
        elif qtype == "MX":
            out.append(((name, qtype), (rr.preference, rr.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), rr.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), rr.strings))
    return out
