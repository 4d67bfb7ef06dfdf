"""Remote domains' MTA-STS policies (RFC 8461 §3-5): the `_mta-sts` TXT lookup with the relay's
resolvers, the HTTPS fetch (certificate validated against MTA_STS_CA_FILE or the system store,
size and time bounded, redirects not followed) and the cache in RemotePolicy.

Called by mailcore.delivery.outbound once per destination domain and attempt; never raises
for remote trouble: a failed refresh keeps an unexpired cached policy (§5.1), and without one
the domain is treated as having no policy (today's opportunistic TLS) with the failure
recorded for TLS-RPT.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
from datetime import timedelta

import dns.exception
import dns.resolver
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailcore.delivery.relay import RelayConfig, _addresses, _is_public, make_resolver
from mailcore.mtasts.models import RemotePolicy
from mailcore.mtasts.policy import (
    MAX_POLICY_BYTES,
    NONE,
    Lookup,
    Policy,
    PolicyError,
    parse_policy,
    parse_txt,
)

log = logging.getLogger("mailroom")

# RFC 8460 §4.3.2: result types of policy discovery.
FETCH_ERROR, POLICY_INVALID, WEBPKI_INVALID = (
    "sts-policy-fetch-error",
    "sts-policy-invalid",
    "sts-webpki-invalid",
)


class FetchError(Exception):
    def __init__(self, result_type: str, text: str) -> None:
        super().__init__(text)
        self.result_type = result_type


def _txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    try:
        answer = resolver.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(getattr(rd, "strings", ())).decode("utf-8", "replace") for rd in answer]


class _Https(http.client.HTTPSConnection):
    """Connects to one resolved address, but validates the certificate (and sends SNI) for
    the policy host name."""

    def __init__(self, ip: str, port: int, name: str, ctx: ssl.SSLContext, timeout: float):
        super().__init__(ip, port, timeout=timeout, context=ctx)
        self._ip, self._name, self._ctx = ip, name, ctx

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        try:
            self.sock = self._ctx.wrap_socket(sock, server_hostname=self._name)
        except BaseException:
            sock.close()
            raise


def tls_context() -> ssl.SSLContext:
    """PKIX validation (RFC 8461 §3.3 for the fetch, §4.2 for the MX): MTA_STS_CA_FILE when
    set (tests, a private CA), else the system's trust store."""
    cafile = settings.MTA_STS_CA_FILE or None
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def fetch_policy(domain: str, cfg: RelayConfig) -> str:
    """GET https://mta-sts.<domain>/.well-known/mta-sts.txt. Raises FetchError."""
    host = f"mta-sts.{domain}"
    timeout = float(settings.MTA_STS_FETCH_TIMEOUT)
    deadline = time.monotonic() + timeout
    try:
        ips, _ = _addresses(make_resolver(cfg, lifetime=timeout), host)
    except dns.exception.DNSException as exc:
        raise FetchError(FETCH_ERROR, f"address lookup of {host} failed: {exc}") from exc
    usable = [ip for ip in ips if cfg.allow_private or _is_public(ip)]
    if not usable:
        why = "points to a non-public address" if ips else "has no address"
        raise FetchError(FETCH_ERROR, f"{host} {why}")
    port = int(settings.MTA_STS_HTTPS_PORT)
    conn = _Https(usable[0], port, host, tls_context(), timeout)
    try:
        conn.request(
            "GET",
            "/.well-known/mta-sts.txt",
            headers={"Host": host, "User-Agent": "Mailroom MTA-STS", "Accept": "text/plain"},
        )
        resp = conn.getresponse()
        if resp.status != 200:
            # §3.3: "HTTP 3xx redirects MUST NOT be followed"; anything but 200 is a failure.
            raise FetchError(FETCH_ERROR, f"{host} answered HTTP {resp.status}")
        ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "text/plain":
            raise FetchError(POLICY_INVALID, f"{host} served {ctype or 'no'} content type")
        body = bytearray()
        while chunk := resp.read1(8192):
            body += chunk
            if len(body) > MAX_POLICY_BYTES:
                raise FetchError(POLICY_INVALID, f"the policy of {domain} exceeds 64 KiB")
            if time.monotonic() > deadline:
                raise FetchError(FETCH_ERROR, f"fetching the policy of {domain} took too long")
    except ssl.SSLCertVerificationError as exc:
        raise FetchError(WEBPKI_INVALID, f"certificate of {host}: {exc.verify_message}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(FETCH_ERROR, f"fetching {host} failed: {exc}") from exc
    finally:
        conn.close()
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FetchError(POLICY_INVALID, f"the policy of {domain} is not UTF-8") from exc


def _from_row(row: RemotePolicy) -> Lookup:
    if row.mode == NONE:
        return Lookup(row.domain, None, row.policy_id)
    return Lookup(row.domain, Policy(row.mode, tuple(row.mx), row.max_age), row.policy_id)


def lookup_policy(domain: str, cfg: RelayConfig) -> Lookup:
    """The policy to honour for mail to `domain` now (see the module docstring)."""
    now = timezone.now()
    cached = RemotePolicy.objects.filter(domain=domain, expires_at__gt=now).first()
    try:
        txt = _txt(make_resolver(cfg), f"_mta-sts.{domain}")
    except dns.exception.DNSException as exc:
        log.info("mta-sts %s: TXT lookup failed: %s", domain, exc)
        return _from_row(cached) if cached else Lookup(domain)
    try:
        policy_id = parse_txt(txt)
    except PolicyError as exc:
        log.info("mta-sts %s: %s; treated as no record", domain, exc)
        policy_id = None
    if policy_id is None:
        # §5.1: a cached, unexpired policy stays in force when the record goes away.
        return _from_row(cached) if cached else Lookup(domain)
    if cached and cached.policy_id == policy_id:
        return _from_row(cached)
    try:
        text = fetch_policy(domain, cfg)
        policy = parse_policy(text)
    except PolicyError as exc:
        return _failed(domain, cached, POLICY_INVALID, f"invalid policy: {exc}")
    except FetchError as exc:
        return _failed(domain, cached, exc.result_type, str(exc))
    return _from_row(_store(domain, policy_id, policy, text))


def _failed(domain: str, cached: RemotePolicy | None, result_type: str, text: str) -> Lookup:
    log.warning("mta-sts %s: %s (%s)", domain, text, result_type)
    if cached:
        RemotePolicy.objects.filter(pk=cached.pk).update(last_error=text[:300])
        return _from_row(cached)
    return Lookup(domain, failure=result_type)


def _store(domain: str, policy_id: str, policy: Policy, text: str) -> RemotePolicy:
    now = timezone.now()
    values = {
        "policy_id": policy_id,
        "mode": policy.mode,
        "mx": list(policy.mx),
        "max_age": policy.max_age,
        "text": text,
        "fetched_at": now,
        "expires_at": now + timedelta(seconds=policy.max_age),
        "last_error": "",
    }
    try:
        with transaction.atomic():
            row, _ = RemotePolicy.objects.update_or_create(domain=domain, defaults=values)
    except IntegrityError:  # another worker stored it at the same moment
        row = RemotePolicy.objects.get(domain=domain)
    log.info("mta-sts %s: policy id=%s mode=%s mx=%s", domain, policy_id, policy.mode, policy.mx)
    return row
