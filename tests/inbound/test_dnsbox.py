"""The sender checks' DNS answers kept in front of dnspython's cache (mailcore.inbound.dnsbox):
an answer is reused exactly as long as dnspython's cache holds it (its TTL; negative answers
too), never after, and a flush forgets both. Against a real loopback DNS server."""

from __future__ import annotations

from typing import Any

from mailcore.inbound import dnsbox
from tests.outbound.conftest import Zone


def txt_of(name: str) -> list[bytes]:
    return dnsbox.txt(name)


def test_a_cached_answer_is_kept_for_its_ttl_and_forgotten_by_a_flush(
    zone: Zone, settings: Any
) -> None:
    dnsbox._CACHE.flush()
    zone.add("kept.example", "TXT", "v=spf1 -all")
    assert txt_of("kept.example") == [b"v=spf1 -all"]
    assert ("kept.example", "TXT") in dnsbox._CACHE.answers
    with zone.lock:
        zone.rrs.clear()
    # Within the record's TTL (60 s) the answer stands, as dnspython's own cache would give it.
    assert txt_of("kept.example") == [b"v=spf1 -all"]
    assert txt_of("KEPT.example") == [b"v=spf1 -all"]  # DNS names ignore case
    dnsbox._CACHE.flush()
    assert dnsbox._CACHE.answers == {}
    assert txt_of("kept.example") == []  # asked again: the record is gone


def test_a_negative_answer_is_kept_as_dnspython_keeps_it(zone: Zone, settings: Any) -> None:
    dnsbox._CACHE.flush()
    assert txt_of("later.example") == []  # NXDOMAIN
    zone.add("later.example", "TXT", "v=DMARC1; p=none")
    kept = txt_of("later.example")
    dnsbox._CACHE.answers.clear()  # dnspython's own cache alone gives the same answer
    assert txt_of("later.example") == kept
    dnsbox._CACHE.flush()
    assert txt_of("later.example") == [b"v=DMARC1; p=none"]


def test_an_expired_answer_is_not_used(zone: Zone, settings: Any) -> None:
    dnsbox._CACHE.flush()
    zone.add("short.example", "TXT", "one")
    assert txt_of("short.example") == [b"one"]
    dnsbox._CACHE.answers[("short.example", "TXT")] = (0.0, [])  # stale, and wrong
    assert txt_of("short.example") == [b"one"]  # from the resolver (and kept again)
    assert dnsbox._CACHE.answers[("short.example", "TXT")][0] > 0
