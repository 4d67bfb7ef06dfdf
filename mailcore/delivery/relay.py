"""Outbound delivery to other domains: MX lookup (dnspython, configurable resolvers), target
filtering (no private/loopback targets, no loops to ourselves) and the SMTP client.

Runs inside the delivery worker. Knows nothing about queue rows: it is given an envelope and
bytes and answers one RcptResult per recipient; mailcore.delivery.actions records them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import re
import smtplib
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import dns.exception
import dns.name
import dns.resolver
from django.conf import settings

from mailcore.delivery.dsnparams import MailDsn, RcptDsn, encode_orcpt, xtext_encode
from mailcore.mtasts.policy import ENFORCE, Lookup

log = logging.getLogger("mailroom")

# RFC 5321 §4.5.3.2: minimum client timeouts, in seconds, per phase.
TIMEOUT_GREETING = 300.0  # §4.5.3.2.1 initial 220
TIMEOUT_COMMAND = 300.0  # §4.5.3.2.2/3 MAIL, RCPT (and EHLO, STARTTLS, QUIT)
TIMEOUT_DATA_INIT = 120.0  # §4.5.3.2.4 DATA → 354
TIMEOUT_DATA_BLOCK = 180.0  # §4.5.3.2.5 each block of the message
TIMEOUT_DATA_END = 600.0  # §4.5.3.2.6 "." → 250
BLOCK = 64 * 1024
MAX_RCPTS_PER_TRANSACTION = 100  # RFC 5321 §4.5.3.1.8: servers must take at least 100
MAX_CONNECTIONS_PER_DOMAIN = 6  # bounded fallback through MX hosts and their addresses

DEFERRED, DELIVERED, BOUNCED = "deferred", "delivered", "bounced"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_DOT_START = re.compile(rb"^\.", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x20\x7f<>]")


@dataclass(frozen=True, slots=True)
class RelayConfig:
    hostname: str
    nameservers: tuple[tuple[str, int], ...]  # empty = /etc/resolv.conf
    port: int
    allow_private: bool
    require_tls: frozenset[str]
    self_addresses: frozenset[tuple[str, int]]  # our own MX listener: never a target
    connect_timeout: float
    dns_timeout: float


def _parse_nameservers(raw: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for item in (x.strip() for x in raw.split(",")):
        if not item:
            continue
        if item.startswith("["):  # [::1]:5353
            host, _, port = item[1:].partition("]")
            out.append((host, int(port.lstrip(":") or 53)))
        elif item.count(":") == 1:
            host, _, port = item.partition(":")
            out.append((host, int(port)))
        else:
            out.append((item, 53))
    return tuple(out)


def relay_config() -> RelayConfig:
    listen = settings.SMTP_LISTEN
    own = {(listen.host, listen.port)} if listen.enabled else set()
    return RelayConfig(
        hostname=settings.MAIL_HOSTNAME,
        nameservers=_parse_nameservers(settings.RELAY_NAMESERVERS),
        port=settings.RELAY_SMTP_PORT,
        allow_private=settings.RELAY_ALLOW_PRIVATE_TARGETS,
        require_tls=frozenset(
            d.strip().lower() for d in settings.RELAY_REQUIRE_TLS_DOMAINS.split(",") if d.strip()
        ),
        self_addresses=frozenset(own),
        connect_timeout=float(settings.RELAY_CONNECT_TIMEOUT),
        dns_timeout=float(settings.RELAY_DNS_TIMEOUT),
    )


@dataclass(frozen=True, slots=True)
class RcptResult:
    state: str  # DELIVERED | DEFERRED | BOUNCED
    status: str  # RFC 3463 code, e.g. "5.1.1"
    diagnostic: str  # what the remote said, or what went wrong here
    remote_mta: str = ""
    # The next hop offers DSN and was given the NOTIFY/ORCPT of this recipient: any notice
    # from here on is its job (RFC 3461 §4.1; no "relayed" notice from us).
    dsn_passed: bool = False

    @property
    def reply(self) -> str:
        where = f"host {self.remote_mta} said: " if self.remote_mta else ""
        return f"{self.status} {where}{self.diagnostic}"


class RouteError(Exception):
    def __init__(self, status: str, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


@dataclass(frozen=True, slots=True)
class Target:
    host: str  # MX host name (or the domain itself, implicit MX)
    addresses: tuple[str, ...]


# --- MX lookup -------------------------------------------------------------------------------


def make_resolver(cfg: RelayConfig, *, lifetime: float | None = None) -> dns.resolver.Resolver:
    """A resolver asking RELAY_NAMESERVERS (else /etc/resolv.conf): `lifetime` per lookup
    (default the relay's DNS timeout), at most 5 s per try."""
    if cfg.nameservers:
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [ip for ip, _ in cfg.nameservers]
        r.nameserver_ports = dict(cfg.nameservers)
    else:
        r = dns.resolver.Resolver()
    r.lifetime = cfg.dns_timeout if lifetime is None else lifetime
    r.timeout = min(r.lifetime, 5.0)
    return r


def _addresses(resolver: dns.resolver.Resolver, host: str) -> tuple[list[str], bool]:
    """(addresses, temporary_failure) of `host`: A first, then AAAA."""
    found: list[str] = []
    temp = False
    for rdtype in ("A", "AAAA"):
        try:
            found += [rr.to_text() for rr in resolver.resolve(host, rdtype)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException:
            temp = True
    return found, temp


def _is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_unspecified
        or addr.is_reserved
    )


def resolve_targets(domain: str, cfg: RelayConfig) -> list[Target]:
    """Where mail for `domain` goes, in the order to try. Raises RouteError."""
    resolver = make_resolver(cfg)
    try:
        answer = resolver.resolve(domain, "MX")
        mxs = [(rr.preference, rr.exchange) for rr in answer]
    except dns.resolver.NXDOMAIN as exc:
        raise RouteError("5.1.2", f"domain {domain} does not exist") from exc
    except dns.resolver.NoAnswer:
        mxs = []
    except dns.exception.DNSException as exc:
        raise RouteError("4.4.3", f"MX lookup for {domain} failed: {exc}") from exc
    # RFC 7505 §3: a single "MX 0 ." means the domain accepts no mail at all.
    if any(exchange == dns.name.root for _, exchange in mxs):
        raise RouteError("5.1.10", f"domain {domain} does not accept mail (null MX)")
    if mxs:
        # RFC 5321 §5.1: lowest preference first; equal preferences in random order.
        random.shuffle(mxs)
        mxs.sort(key=lambda m: m[0])
        hosts = [m[1].to_text(omit_final_dot=True).lower() for m in mxs]
    else:
        # RFC 5321 §5.1: no MX records → the domain itself is the implicit MX.
        hosts = [domain]
    targets: list[Target] = []
    temp = False
    refused: list[str] = []
    for host in dict.fromkeys(hosts):
        if host == cfg.hostname.lower().rstrip("."):
            raise RouteError("5.4.6", f"mail for {domain} loops back to myself (MX {host})")
        ips, failed = _addresses(resolver, host)
        temp = temp or failed
        usable: list[str] = []
        for ip in ips:
            if (ip, cfg.port) in cfg.self_addresses:
                raise RouteError("5.4.6", f"mail for {domain} loops back to myself ({host}[{ip}])")
            if cfg.allow_private or _is_public(ip):
                usable.append(ip)
            else:
                refused.append(f"{host}[{ip}]")
        if usable:
            targets.append(Target(host, tuple(usable)))
    if targets:
        return targets
    if refused:
        # security.md O4: never connect into loopback/private/link-local space (SSRF). Deferred,
        # not bounced: a broken DNS record is usually fixed within the queue lifetime.
        raise RouteError(
            "4.4.4",
            f"MX for {domain} points to non-public address {', '.join(refused[:3])}; refused",
        )
    if temp:
        raise RouteError("4.4.3", f"address lookup for the MX hosts of {domain} failed")
    raise RouteError("5.4.4", f"no address for the mail hosts of {domain} ({', '.join(hosts[:3])})")


# --- SMTP client ------------------------------------------------------------------------------


def normalize_lines(data: bytes) -> bytes:
    """CRLF everywhere (security.md O1: never emit a bare CR or LF) and a final CRLF."""
    out = _LINE_END.sub(b"\r\n", data)
    return out if out.endswith(b"\r\n") else out + b"\r\n"


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2: a line starting with "." gets one more; `data` must be CRLF-only."""
    return _DOT_START.sub(b"..", data)


class _Client(smtplib.SMTP):
    """smtplib with a separate connect timeout and per-phase read timeouts."""

    _host: str  # smtplib's own: connect()'s host, which starttls() sends as SNI (not in typeshed)

    def __init__(self, *, local_hostname: str, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        super().__init__(local_hostname=local_hostname, timeout=TIMEOUT_GREETING)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), self.connect_timeout)
        sock.settimeout(TIMEOUT_GREETING)
        return sock

    def phase(self, seconds: float) -> None:
        if self.sock is not None:
            self.sock.settimeout(seconds)

    def reply(self) -> tuple[int, str]:
        code, msg = self.getreply()
        return code, " ".join(msg.decode("utf-8", "replace").split())


@dataclass
class _HostFailure(Exception):
    status: str
    text: str
    remote: str
    tls_failed: bool = False
    spoke: bool = True  # False: no SMTP reply at all (connect failed): nobody "said" anything
    result_type: str = ""  # RFC 8460 §4.3.2 failure type when TLS was the failure


# How a session does TLS: plaintext, opportunistic STARTTLS (any certificate, RFC 7435), or
# STARTTLS required with a certificate valid for the MX name (MTA-STS, RFC 8461 §4.2).
TLS_OFF, TLS_OPPORTUNISTIC, TLS_VERIFY = "off", "opportunistic", "verify"


class StsHooks(Protocol):
    """MTA-STS for the relay (mailcore.mtasts.hooks): a domain's policy, and where each TLS
    outcome of a session goes (TLS-RPT counts). Neither may raise."""

    def lookup(self, domain: str) -> Lookup: ...

    def record(self, lookup: Lookup, result_type: str, mx: str, ip: str) -> None: ...


def _cert_result_type(exc: ssl.SSLCertVerificationError) -> str:
    """RFC 8460 §4.3.2.2 result type of a failed certificate check (OpenSSL verify codes)."""
    code = exc.verify_code
    if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
        return "certificate-host-mismatch"
    if code in (9, 10):  # not yet valid, expired
        return "certificate-expired"
    return "certificate-not-trusted"


def _connect_failure(remote: str, port: int, exc: OSError) -> _HostFailure:
    """Postfix's wording: "connect to host[ip]:25: Connection refused" (no errno, no "said")."""
    if isinstance(exc, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(exc, TimeoutError):
        why = "connection timed out"
    else:
        why = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return _HostFailure("4.4.1", f"connect to {remote}:{port}: {why}", remote, spoke=False)


@dataclass(slots=True)
class Envelope:
    sender: str
    recipients: list[str]
    data: bytes  # CRLF-normalised, signed; not yet dot-stuffed
    smtputf8: bool
    eightbit: bool = field(init=False)
    dsn: MailDsn = field(default_factory=MailDsn)  # RET, ENVID (RFC 3461)
    rcpt_dsn: Mapping[str, RcptDsn] = field(default_factory=dict)  # NOTIFY, ORCPT

    def __post_init__(self) -> None:
        self.eightbit = not self.data.isascii()


def _reply_result(
    code: int, text: str, remote: str, stage: str, *, dsn_passed: bool = False
) -> RcptResult:
    from mailcore.delivery.dsn import status_of

    diag = f"{code} {text} (in reply to {stage})"
    if 200 <= code < 300:
        return RcptResult(DELIVERED, "2.0.0", diag, remote, dsn_passed)
    permanent = code >= 500
    return RcptResult(
        BOUNCED if permanent else DEFERRED, status_of(text, permanent=permanent), diag, remote
    )


def _session(
    ip: str,
    target: Target,
    domain: str,
    env: Envelope,
    cfg: RelayConfig,
    tls_mode: str,
    tls_done: list[bool] | None = None,
) -> dict[str, RcptResult]:
    """One SMTP connection delivering `env` (all recipients in `domain`). Raises _HostFailure
    when this host did not take responsibility for anything and another may be tried.
    `tls_done` gets True appended once STARTTLS succeeded."""
    remote = f"{target.host}[{ip}]"
    client = _Client(local_hostname=cfg.hostname, connect_timeout=cfg.connect_timeout)
    try:
        try:
            code, greeting = client.connect(ip, cfg.port)
        except smtplib.SMTPConnectError as exc:
            raise _HostFailure("4.4.1", f"connect to {remote}: {exc}", remote) from exc
        except OSError as exc:
            raise _connect_failure(remote, cfg.port, exc) from exc
        if code != 220:
            raise _HostFailure(
                "5.0.0" if code >= 500 else "4.4.2",
                f"greeting {code} {greeting.decode('utf-8', 'replace')}",
                remote,
            )
        client.phase(TIMEOUT_COMMAND)
        code, _ = client.ehlo(cfg.hostname)
        if code != 250:
            code, msg = client.helo(cfg.hostname)
            if code != 250:
                raise _HostFailure("4.4.2", f"HELO refused: {code} {msg!r}", remote)
        tls = False
        if tls_mode == TLS_VERIFY and not client.has_extn("starttls"):
            # RFC 8461 §4.2: never on in plaintext to a host of a policy domain.
            raise _HostFailure(
                "4.7.5",
                f"{remote} does not offer STARTTLS, which the MTA-STS policy of {domain} requires",
                remote,
                tls_failed=True,
                result_type="starttls-not-supported",
            )
        if tls_mode != TLS_OFF and client.has_extn("starttls"):
            if tls_mode == TLS_VERIFY:
                from mailcore.mtasts.remote import tls_context

                ctx = tls_context()  # PKIX, the MX name checked (RFC 8461 §4.2)
            else:
                ctx = ssl.create_default_context()
                # Opportunistic TLS (RFC 3207 §4.1 / RFC 7435): encrypt without authenticating.
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            try:
                # smtplib drops whatever plaintext the server pipelined after 220 (O3) and
                # forgets the pre-TLS EHLO answer; we say EHLO again over TLS.
                client._host = target.host  # SNI (smtplib takes it from connect's host)
                client.starttls(context=ctx)
            except ssl.SSLCertVerificationError as exc:
                raise _HostFailure(
                    "4.7.5",
                    f"certificate of {remote} not valid for the MTA-STS policy of {domain}: "
                    f"{exc.verify_message}",
                    remote,
                    tls_failed=True,
                    result_type=_cert_result_type(exc),
                ) from exc
            except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
                raise _HostFailure(
                    "4.7.0",
                    f"STARTTLS with {remote} failed: {exc}",
                    remote,
                    tls_failed=True,
                    result_type="validation-failure",
                ) from exc
            if tls_done is not None:
                tls_done.append(True)
            client.ehlo(cfg.hostname)
            tls = True
        if not tls and domain in cfg.require_tls:
            raise _HostFailure(
                "4.7.5",
                f"TLS is required for {domain} but {remote} "
                f"{'failed it' if tls_mode == TLS_OFF else 'does not offer it'}",
                remote,
            )
        if env.smtputf8 and not client.has_extn("smtputf8"):
            # RFC 6531 §3.4: no downgrade; the sender learns it from the DSN (security.md S24).
            fail = RcptResult(
                BOUNCED,
                "5.6.7",
                f"{remote} does not support SMTPUTF8, which this message needs",
                remote,
            )
            return dict.fromkeys(env.recipients, fail)
        limit = client.esmtp_features.get("size", "")
        if client.has_extn("size") and limit.isdigit() and 0 < int(limit) < len(env.data):
            fail = RcptResult(
                BOUNCED,
                "5.3.4",
                f"message size {len(env.data)} exceeds the limit {limit} of {remote}",
                remote,
            )
            return dict.fromkeys(env.recipients, fail)
        results: dict[str, RcptResult] = {}
        for start in range(0, len(env.recipients), MAX_RCPTS_PER_TRANSACTION):
            chunk = env.recipients[start : start + MAX_RCPTS_PER_TRANSACTION]
            try:
                results.update(_transaction(client, env, chunk, remote, first=start == 0))
            except _Partial as partial:
                rest = RcptResult(DEFERRED, "4.4.2", f"session with {remote} ended early", remote)
                raise _Partial(
                    dict.fromkeys(env.recipients[start:], rest) | results | partial.results
                ) from partial
            except (_HostFailure, smtplib.SMTPException, OSError) as exc:
                if not results:
                    raise
                # Earlier transactions of this session are final; the rest waits for a retry.
                rest = RcptResult(DEFERRED, "4.4.2", f"session with {remote} failed: {exc}", remote)
                raise _Partial(results | dict.fromkeys(env.recipients[start:], rest)) from exc
        client.phase(TIMEOUT_COMMAND)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
        log.info(
            "relay %s: %d recipient(s) via %s%s",
            domain,
            len(results),
            remote,
            " (TLS)" if tls else "",
        )
        return results
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
        raise _HostFailure("4.4.2", f"conversation with {remote} failed: {exc}", remote) from exc
    finally:
        client.close()


def _transaction(
    client: _Client, env: Envelope, rcpts: list[str], remote: str, first: bool
) -> dict[str, RcptResult]:
    """MAIL, RCPT…, DATA (pipelined when offered, RFC 2920) and the message."""
    if not first:
        client.rset()
    params = []
    if client.has_extn("size"):
        params.append(f"SIZE={len(env.data)}")
    if env.eightbit and client.has_extn("8bitmime"):
        params.append("BODY=8BITMIME")  # RFC 6152
    if env.smtputf8:
        params.append("SMTPUTF8")  # RFC 6531 §3.4
    # RFC 3461 §4: the sender's DSN parameters go on to a next hop that offers DSN (Postfix);
    # one that does not gets none, and a success notice ("relayed") comes from us.
    dsn = client.has_extn("dsn")
    if dsn and env.dsn.ret:
        params.append(f"RET={env.dsn.ret}")
    if dsn and env.dsn.envid:
        params.append(f"ENVID={xtext_encode(env.dsn.envid)}")
    mail = f"MAIL FROM:<{env.sender}>" + "".join(f" {p}" for p in params)
    commands = [mail] + [f"RCPT TO:<{r}>{_rcpt_params(env, r, dsn)}" for r in rcpts] + ["DATA"]
    wire = [(c + "\r\n").encode("utf-8") for c in commands]
    replies: list[tuple[int, str]] = []
    pipelining = client.has_extn("pipelining")
    client.phase(TIMEOUT_COMMAND)
    if pipelining:
        client.send(b"".join(wire))
        for i in range(len(wire)):
            client.phase(TIMEOUT_DATA_INIT if i == len(wire) - 1 else TIMEOUT_COMMAND)
            replies.append(client.reply())
    else:
        for i, line in enumerate(wire):
            if i == len(wire) - 1:
                client.phase(TIMEOUT_DATA_INIT)
            client.send(line)
            replies.append(client.reply())
            if i == 0 and replies[0][0] >= 400:
                break  # MAIL refused: no point in RCPT
            if i == len(wire) - 2 and not any(200 <= c < 300 for c, _ in replies[1:]):
                break  # no recipient accepted: no DATA
    mail_code, mail_text = replies[0]
    if mail_code >= 400:
        if mail_code < 500:
            raise _HostFailure("4.0.0", f"{mail_code} {mail_text} (in reply to MAIL FROM)", remote)
        fail = _reply_result(mail_code, mail_text, remote, "MAIL FROM")
        return dict.fromkeys(rcpts, fail)
    results: dict[str, RcptResult] = {}
    accepted: list[str] = []
    for rcpt, (code, text) in zip(rcpts, replies[1:], strict=False):
        if 200 <= code < 300:
            accepted.append(rcpt)
        else:
            results[rcpt] = _reply_result(code, text, remote, "RCPT TO")
    data_reply = replies[len(rcpts) + 1] if len(replies) > len(rcpts) + 1 else None
    if not accepted:
        if data_reply and data_reply[0] == 354:
            # RFC 2920 §3.1: DATA was accepted anyway; end it without content.
            client.send(b".\r\n")
            client.reply()
        return results
    if data_reply is None or data_reply[0] != 354:
        code, text = data_reply or (451, "no reply to DATA")
        results.update(dict.fromkeys(accepted, _reply_result(code, text, remote, "DATA")))
        return results
    payload = dot_stuff(env.data) + b".\r\n"
    client.phase(TIMEOUT_DATA_BLOCK)
    view = memoryview(payload)
    for start in range(0, len(view), BLOCK):
        client.sock.sendall(view[start : start + BLOCK])  # type: ignore[union-attr]
    client.phase(TIMEOUT_DATA_END)
    try:
        code, text = client.reply()
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # RFC 1047: the message may have been delivered; retrying risks a duplicate, never a loss.
        lost = RcptResult(
            DEFERRED,
            "4.4.2",
            f"connection lost after end of data ({exc}); will retry, a duplicate is possible",
            remote,
        )
        results.update(dict.fromkeys(accepted, lost))
        raise _Partial(results) from exc
    results.update(
        dict.fromkeys(accepted, _reply_result(code, text, remote, "end of DATA", dsn_passed=dsn))
    )
    return results


def _rcpt_params(env: Envelope, rcpt: str, dsn: bool) -> str:
    asked = env.rcpt_dsn.get(rcpt)
    if not dsn or asked is None:
        return ""
    out = f" NOTIFY={asked.notify}" if asked.notify else ""
    return out + (f" ORCPT={encode_orcpt(asked.orcpt)}" if asked.orcpt else "")


class _Partial(Exception):
    """The session broke after the server saw the whole message: do not try another host now."""

    def __init__(self, results: dict[str, RcptResult]) -> None:
        super().__init__("partial")
        self.results = results


def _valid_path(address: str) -> bool:
    # security.md O2: nothing that could end or extend an SMTP command line.
    return bool(address) and not _CONTROL.search(address)


def deliver_domain(
    domain: str, env: Envelope, cfg: RelayConfig, sts: StsHooks | None = None
) -> dict[str, RcptResult]:
    """Deliver `env` (all of whose recipients are in `domain`) to the first MX that answers.

    With `sts` the domain's MTA-STS policy applies (RFC 8461 §5): in enforce mode only MX
    hosts the policy names, only over STARTTLS with a certificate valid for the MX name, and
    never in plaintext instead (a failure defers); in testing mode failures are recorded and
    the mail goes as without a policy. Each TLS outcome is recorded for TLS-RPT."""
    bad = [r for r in env.recipients if not _valid_path(r)]
    results = {r: RcptResult(BOUNCED, "5.1.3", "bad recipient address syntax") for r in bad}
    env = Envelope(
        env.sender,
        [r for r in env.recipients if r not in results],
        env.data,
        env.smtputf8,
        env.dsn,
        env.rcpt_dsn,
    )
    if not env.recipients:
        return results
    if env.sender and not _valid_path(env.sender):
        return results | dict.fromkeys(
            env.recipients, RcptResult(BOUNCED, "5.1.7", "bad sender address syntax")
        )
    try:
        targets = resolve_targets(domain, cfg)
    except RouteError as exc:
        state = BOUNCED if exc.permanent else DEFERRED
        return results | dict.fromkeys(env.recipients, RcptResult(state, exc.status, exc.text))
    lookup = sts.lookup(domain) if sts is not None else Lookup(domain)
    policy = lookup.policy
    enforce = policy is not None and policy.mode == ENFORCE
    failures: list[_HostFailure] = []
    tries = 0
    for target in targets:
        if policy is not None and not policy.matches(target.host):
            # RFC 8461 §4.1: an MX the policy does not name is not a valid candidate.
            if sts is not None:
                sts.record(lookup, "validation-failure", target.host, "")
            if enforce:
                failures.append(
                    _HostFailure(
                        "4.7.5",
                        f"MX {target.host} is not in the MTA-STS policy of {domain}",
                        "",
                        spoke=False,
                    )
                )
                log.info("relay %s: MX %s not in its MTA-STS policy", domain, target.host)
                continue
        for ip in target.addresses:
            if tries >= MAX_CONNECTIONS_PER_DOMAIN:
                break
            tries += 1
            try:
                return results | _attempt(ip, target, domain, env, cfg, sts, lookup)
            except _Partial as partial:
                return results | partial.results
            except _HostFailure as failure:
                log.info("relay %s: %s", domain, failure.text)
                failures.append(failure)
    # Every host failed. A 5xx greeting everywhere is permanent; anything else is retried.
    last = failures[-1] if failures else _HostFailure("4.4.1", "no host to try", "")
    permanent = bool(failures) and all(f.status.startswith("5") for f in failures)
    remote_mta = last.remote if last.spoke else ""
    fail = RcptResult(BOUNCED if permanent else DEFERRED, last.status, last.text, remote_mta)
    return results | dict.fromkeys(env.recipients, fail)


def _attempt(
    ip: str,
    target: Target,
    domain: str,
    env: Envelope,
    cfg: RelayConfig,
    sts: StsHooks | None,
    lookup: Lookup,
) -> dict[str, RcptResult]:
    """The sessions with one address of an MX: verified TLS when the domain's policy names
    this MX; else (no policy, an unlisted MX in testing mode, or after a testing-mode failure)
    opportunistic TLS, then plaintext if TLS itself failed (unless RELAY_REQUIRE_TLS_DOMAINS
    names the domain). Under an enforce policy a TLS failure ends here (the caller tries the
    next host): never plaintext instead. The TLS outcome goes to `sts.record` once: for
    sessions under the policy, and for domains without one (no-policy-found)."""
    policy = lookup.policy
    remote = f"{target.host}[{ip}]"
    verify = policy is not None and policy.matches(target.host)
    report = sts is not None and (verify or policy is None)
    mode = TLS_VERIFY if verify else TLS_OPPORTUNISTIC
    done: list[bool] = []

    def record(result_type: str) -> None:
        if sts is not None and report:
            sts.record(lookup, result_type, target.host, ip)

    try:
        results = _session(ip, target, domain, env, cfg, mode, done)
    except _HostFailure as failure:
        if failure.tls_failed:
            record(failure.result_type or "validation-failure")
        elif done:
            record("")
        if not failure.tls_failed or (policy is not None and policy.mode == ENFORCE):
            raise
        if mode == TLS_VERIFY:
            log.info("relay %s: MTA-STS testing mode, delivering anyway: %s", domain, failure.text)
            try:
                return _session(ip, target, domain, env, cfg, TLS_OPPORTUNISTIC)
            except _HostFailure as again:
                if not again.tls_failed:
                    raise
                failure = again
        if domain in cfg.require_tls:
            raise failure from None
        # Opportunistic TLS failed: this host in plaintext rather than not at all.
        log.info("relay %s: TLS with %s failed, plaintext instead", domain, remote)
        return _session(ip, target, domain, env, cfg, TLS_OFF)
    except _Partial:
        if done:
            record("")
        raise
    record("" if done else "starttls-not-supported")
    return results


def by_domain(recipients: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rcpt in recipients:
        groups.setdefault(rcpt.rpartition("@")[2].lower(), []).append(rcpt)
    return groups


def relay_message(
    *,
    sender: str,
    recipients: list[str],
    data: bytes,
    smtputf8: bool,
    cfg: RelayConfig | None = None,
    dsn: MailDsn | None = None,
    rcpt_dsn: Mapping[str, RcptDsn] | None = None,
    sts: StsHooks | None = None,
) -> dict[str, RcptResult]:
    """Deliver `data` to remote `recipients`, grouped per destination domain. `data` must be
    final (signed); line ends are normalised here. `dsn`/`rcpt_dsn`: the sender's RFC 3461
    parameters, passed on where the next hop offers DSN. Never raises for remote trouble."""
    cfg = cfg or relay_config()
    body = normalize_lines(data)
    results: dict[str, RcptResult] = {}
    for domain, rcpts in by_domain(recipients).items():
        needs_utf8 = smtputf8 or not sender.isascii() or not all(r.isascii() for r in rcpts)
        env = Envelope(sender, rcpts, body, needs_utf8, dsn or MailDsn(), rcpt_dsn or {})
        results.update(deliver_domain(domain, env, cfg, sts))
    return results
