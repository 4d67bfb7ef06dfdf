"""The client address of a web request: the one definition every part of webmail uses (login
limiter, throttles, audit log). Nothing else reads REMOTE_ADDR or X-Forwarded-For.

X-Forwarded-For is believed only when the socket peer is one of settings.TRUSTED_PROXIES
(empty by default), and then only as far as trusted proxies vouch for it: the right-most
address that is not itself a trusted proxy wins (nginx `real_ip_recursive on`). Whatever a
client writes to the left of that is ignored, so rotating the header buys nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from mailcore.directory.queries import client_ip as parse_ip

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A proxy chain longer than this is not a chain; bounds the work an untrusted header can cause.
MAX_FORWARDED_HOPS = 20
MAX_FORWARDED_CHARS = 4096


UNIX_PEER = "unix:"  # nginx's `set_real_ip_from unix:`: a proxy on a Unix socket (no address)


def parse_trusted_proxies(entries: Sequence[str]) -> tuple[Network, ...]:
    """IPs or CIDRs (`10.0.0.0/8`, `::1`), or `unix:`; a bad entry is a configuration error at
    startup."""
    networks: list[Network] = []
    for entry in entries:
        if entry.strip() == UNIX_PEER:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {entry!r} is not an IP or CIDR") from exc
    return tuple(networks)


@functools.lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_trusted_proxies(entries)


def _is_trusted(addr: Address, networks: tuple[Network, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def _hop(text: str) -> Address | None:
    """One X-Forwarded-For entry: `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:443`, `1.2.3.4:80`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    return parse_ip(text) if text else None


def client_address(remote_addr: str, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client of a request whose socket peer is `remote_addr` (pure; see client_ip)."""
    peer = parse_ip(remote_addr or "")
    networks = _trusted_networks(tuple(trusted))
    if peer is None:
        # No address: a Unix socket. Its proxy is believed only when `unix:` is listed.
        if remote_addr or not forwarded_for or UNIX_PEER not in trusted:
            return remote_addr or ""
    elif not networks or not forwarded_for or not _is_trusted(peer, networks):
        return str(peer)
    # Walk from the right: each trusted proxy vouches for the hop to its left.
    client: Address | None = peer
    hops = forwarded_for[-MAX_FORWARDED_CHARS:].split(",")[-MAX_FORWARDED_HOPS:]
    for text in reversed(hops):
        hop = _hop(text)
        if hop is None:
            break  # garbage a trusted proxy would never write: the client made it up
        client = hop
        if not _is_trusted(hop, networks):
            break
    return str(client) if client is not None else ""


def client_ip(request: HttpRequest) -> str:
    """The client address of `request` (normalised; IPv4-mapped IPv6 becomes IPv4)."""
    return client_address(
        request.META.get("REMOTE_ADDR", "") or "",
        request.META.get("HTTP_X_FORWARDED_FOR"),
        settings.TRUSTED_PROXIES,
    )
