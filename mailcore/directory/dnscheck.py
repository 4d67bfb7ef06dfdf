"""DNS check of a local domain: which MX, SPF, DKIM, DMARC and client-setup SRV records (RFC
6186, issue 15 item 6) are missing or wrong, and what to publish instead. Asks the resolvers
of the outbound relay (RELAY_NAMESERVERS, else /etc/resolv.conf) with dnspython; reads DNS
only, writes nothing.

Not a full SPF evaluator (no include/redirect recursion, no macros): it answers the question
an operator has, "does the record name this server?", as checkdmarc's summary would.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.resolver
from django.conf import settings

from mailcore.autoconfig import endpoints_from_settings, srv_records
from mailcore.delivery.dkim import published_keys, txt_value
from mailcore.delivery.models import DkimKey, DkimKeyState
from mailcore.delivery.relay import make_resolver, relay_config
from mailcore.directory.models import Domain
from mailcore.mtasts.policy import PolicyError, parse_txt
from mailcore.mtasts.serving import served_policy

OK, MISSING, WRONG, ERROR = "ok", "missing", "wrong", "error"


@dataclass(frozen=True, slots=True)
class DnsCheck:
    kind: str  # mx | spf | dkim | dmarc | srv | mta-sts | tlsrpt
    status: str  # ok | missing | wrong | error (the lookup itself failed: try again)
    name: str  # the DNS name looked up
    found: list[str] = field(default_factory=list)
    expected: str = ""  # what to publish (a zone-file value), when not ok
    detail: str = ""  # what is wrong, in English (scripts, logs)
    # A stable code for the detail, set where the check decides, which the console says in the
    # admin's language (issue 12 defect 5): mx_missing, spf_duplicate, lookup_failed, …
    reason: str = ""


class _LookupError(Exception):
    reason = "lookup_failed"


logger = logging.getLogger(__name__)


def resolver() -> dns.resolver.Resolver:
    cfg = relay_config()
    # An operator is waiting for the page: at most 5 s per lookup, whatever the relay allows.
    return make_resolver(cfg, lifetime=min(cfg.dns_timeout, 5.0))


def _query(r: dns.resolver.Resolver, name: str, rtype: str) -> list[object]:
    try:
        return list(r.resolve(name, rtype, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        # The resolver's own words name internal addresses: the log has them, the page not.
        logger.warning("DNS check: the %s lookup of %s failed: %s", rtype, name, exc)
        raise _LookupError(
            f"the DNS lookup failed ({rtype} {name}); the server log has the details"
        ) from exc


def _txt(r: dns.resolver.Resolver, name: str) -> list[str]:
    out = []
    for rdata in _query(r, name, "TXT"):
        strings = getattr(rdata, "strings", ())
        out.append(b"".join(strings).decode("utf-8", "replace"))
    return out


def _host(value: str) -> str:
    return value.rstrip(".").lower()


def check_mx(r: dns.resolver.Resolver, domain: str, hostname: str) -> DnsCheck:
    expected = f"{domain}. IN MX 10 {hostname}."
    records = sorted(
        (
            (int(getattr(rd, "preference", 0)), _host(str(getattr(rd, "exchange", ""))))
            for rd in _query(r, domain, "MX")
        ),
    )
    found = [f"{pref} {host}." for pref, host in records]
    if not records:
        return DnsCheck(
            "mx",
            MISSING,
            domain,
            found,
            expected,
            "no MX record: mail to this domain goes to its A record, if any (RFC 5321 §5.1)",
            "mx_missing",
        )
    if any(host == "" for _, host in records):
        return DnsCheck(
            "mx",
            WRONG,
            domain,
            found,
            expected,
            "a null MX (RFC 7505) says this domain receives no mail",
            "mx_null",
        )
    if hostname not in {host for _, host in records}:
        return DnsCheck(
            "mx",
            WRONG,
            domain,
            found,
            expected,
            f"no MX record points at this server ({hostname})",
            "mx_not_this_server",
        )
    return DnsCheck("mx", OK, domain, found)


def _own_addresses(
    r: dns.resolver.Resolver, hostname: str
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    out: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for rtype in ("A", "AAAA"):
        try:
            out.extend(ipaddress.ip_address(str(rd)) for rd in _query(r, hostname, rtype))
        except _LookupError:
            continue
    return out


def check_spf(r: dns.resolver.Resolver, domain: str, hostname: str, mx_ok: bool) -> DnsCheck:
    expected = f'{domain}. IN TXT "v=spf1 mx ~all"'
    found = [t for t in _txt(r, domain) if t.lower().startswith("v=spf1")]
    if not found:
        return DnsCheck(
            "spf",
            MISSING,
            domain,
            found,
            expected,
            "no SPF record: receivers cannot tell this server may send for the domain",
            "spf_missing",
        )
    if len(found) > 1:
        return DnsCheck(
            "spf",
            WRONG,
            domain,
            found,
            expected,
            "more than one SPF record is a permanent error (RFC 7208 §4.5)",
            "spf_duplicate",
        )
    terms = found[0].lower().split()[1:]
    if any(t in ("all", "+all") for t in terms):
        return DnsCheck(
            "spf",
            WRONG,
            domain,
            found,
            expected,
            "'+all' lets every host on the internet send as this domain",
            "spf_allow_all",
        )
    names = {t.lstrip("+") for t in terms}
    if (("mx" in names or f"mx:{domain}" in names) and mx_ok) or f"a:{hostname}" in names:
        return DnsCheck("spf", OK, domain, found)
    nets = []
    for t in names:
        if t.startswith(("ip4:", "ip6:")):
            try:
                nets.append(ipaddress.ip_network(t[4:], strict=False))
            except ValueError:
                return DnsCheck(
                    "spf",
                    WRONG,
                    domain,
                    found,
                    expected,
                    f"invalid term {t!r}",
                    "spf_invalid_term",
                )
    own = _own_addresses(r, hostname)
    if any(a.version == n.version and a in n for a in own for n in nets):
        return DnsCheck("spf", OK, domain, found)
    if any(t.startswith(("include:", "redirect=")) for t in names):
        return DnsCheck(
            "spf",
            OK,
            domain,
            found,
            "",
            f"includes another policy (not followed here): make sure it names {hostname}",
            "spf_include",
        )
    return DnsCheck(
        "spf",
        WRONG,
        domain,
        found,
        expected,
        f"the record does not authorise this server ({hostname})",
        "spf_not_this_server",
    )


_TAG = re.compile(r"\s*([a-zA-Z]\w*)\s*=\s*([^;]*)")


def _tags(value: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip() for m in _TAG.finditer(value)}


def check_dkim_key(r: dns.resolver.Resolver, key: DkimKey) -> DnsCheck:
    """Whether DNS publishes exactly this key under its selector."""
    name = f"{key.selector}._domainkey.{key.domain}"
    expected = f'{name}. IN TXT "{txt_value(key)}"'
    pending = key.state == DkimKeyState.PENDING
    found = _txt(r, name)
    if not found:
        if pending:
            return DnsCheck(
                "dkim",
                MISSING,
                name,
                found,
                expected,
                "the new (pending) key's TXT record is not published yet: publish it next "
                "to the current one",
                "dkim_pending_unpublished",
            )
        return DnsCheck(
            "dkim",
            MISSING,
            name,
            found,
            expected,
            "the key's TXT record is not published",
            "dkim_unpublished",
        )
    published = "".join(_tags(found[0]).get("p", "").split())
    if len(found) > 1 or published != key.public_key:
        return DnsCheck(
            "dkim",
            WRONG,
            name,
            found,
            expected,
            "the published key is not this server's signing key",
            "dkim_mismatch",
        )
    if pending:
        return DnsCheck(
            "dkim",
            OK,
            name,
            found,
            "",
            "published; the key is pending: activate it to sign with it",
            "dkim_pending_ready",
        )
    return DnsCheck("dkim", OK, name, found)


def check_dkim(r: dns.resolver.Resolver, domain: str) -> list[DnsCheck]:
    """The active keys and, during a change, the pending ones."""
    keys = published_keys(domain)
    if not keys:
        return [
            DnsCheck(
                "dkim",
                MISSING,
                f"_domainkey.{domain}",
                [],
                "",
                "no DKIM key for this domain yet: generate one, then publish its record",
                "dkim_no_key",
            )
        ]
    return [check_dkim_key(r, key) for key in keys]


def dkim_record_problem(key: DkimKey) -> str | None:
    """None when DNS publishes `key` under its selector, else what is wrong (for activation)."""
    try:
        check = check_dkim_key(resolver(), key)
    except _LookupError as exc:
        return str(exc)
    if check.status == OK:
        return None
    found = "; ".join(check.found) or "nothing"
    return f"{check.name}: {check.status}, found {found}"


def check_dmarc(r: dns.resolver.Resolver, domain: str) -> DnsCheck:
    name = f"_dmarc.{domain}"
    expected = f'{name}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"'
    found = [t for t in _txt(r, name) if t.replace(" ", "").lower().startswith("v=dmarc1")]
    if not found:
        return DnsCheck(
            "dmarc",
            MISSING,
            name,
            found,
            expected,
            "no DMARC policy: receivers decide alone what to do with forged mail",
            "dmarc_missing",
        )
    if len(found) > 1:
        return DnsCheck(
            "dmarc",
            WRONG,
            name,
            found,
            expected,
            "more than one DMARC record: receivers ignore them all (RFC 7489 §6.6.3)",
            "dmarc_duplicate",
        )
    policy = _tags(found[0]).get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return DnsCheck(
            "dmarc",
            WRONG,
            name,
            found,
            expected,
            "the p= tag must be none, quarantine or reject",
            "dmarc_bad_policy",
        )
    if policy == "none":
        return DnsCheck(
            "dmarc",
            OK,
            name,
            found,
            "",
            "p=none only monitors; quarantine or reject protects the domain",
            "dmarc_monitor_only",
        )
    return DnsCheck("dmarc", OK, name, found)


def check_srv(r: dns.resolver.Resolver, domain: str) -> list[DnsCheck]:
    """RFC 6186 §3 (and RFC 8314 §5.1 for 465): one SRV record per listener mail apps use,
    so they find the server from the address alone. Target and port must be ours."""
    out = []
    for name, port, target in srv_records(domain, endpoints_from_settings()):
        expected = f"{name}. IN SRV 0 1 {port} {_host(target)}."
        records = [
            (int(getattr(rd, "port", 0)), _host(str(getattr(rd, "target", ""))))
            for rd in _query(r, name, "SRV")
        ]
        found = [f"{p} {t}." for p, t in records]
        if not records:
            detail = "no SRV record: mail apps must be told the server by hand"
            out.append(DnsCheck("srv", MISSING, name, found, expected, detail, "srv_missing"))
        elif (port, _host(target)) not in records:
            detail = f"the SRV record does not name this server ({_host(target)} port {port})"
            out.append(DnsCheck("srv", WRONG, name, found, expected, detail, "srv_wrong"))
        else:
            out.append(DnsCheck("srv", OK, name, found))
    return out


def check_mta_sts(r: dns.resolver.Resolver, domain: str) -> list[DnsCheck]:
    """MTA-STS (RFC 8461 §3): the `_mta-sts` TXT with the id of the policy served now, and
    the `mta-sts.<domain>` host the policy file is fetched from (HTTPS, this web server)."""
    served = served_policy(Domain.objects.get(name=domain))
    name = f"_mta-sts.{domain}"
    expected = f'{name}. IN TXT "{served.sts_record}"'
    found = [t for t in _txt(r, name) if t.startswith("v=STSv1")]
    out: list[DnsCheck] = []
    try:
        published = parse_txt(found)
    except PolicyError as exc:
        out.append(DnsCheck("mta-sts", WRONG, name, found, expected, str(exc), "mtasts_invalid"))
        published = ""
    if published is None:
        detail = "no MTA-STS record: sending servers do not know this domain requires TLS"
        out.append(DnsCheck("mta-sts", MISSING, name, found, expected, detail, "mtasts_missing"))
    elif published and published != served.policy_id:
        detail = (
            "the id is not the one of the policy served now: senders keep the old policy "
            "cached until its max_age ends"
        )
        out.append(DnsCheck("mta-sts", WRONG, name, found, expected, detail, "mtasts_stale_id"))
    elif published:
        out.append(DnsCheck("mta-sts", OK, name, found))
    host = f"mta-sts.{domain}"
    hostname = _host(settings.MAIL_HOSTNAME)
    addresses = [str(a) for a in _own_addresses(r, host)]
    if addresses:
        out.append(DnsCheck("mta-sts", OK, host, addresses))
    else:
        detail = "no address: the policy file cannot be fetched (needs HTTPS here)"
        cname = f"{host}. IN CNAME {hostname}."
        out.append(DnsCheck("mta-sts", MISSING, host, [], cname, detail, "mtasts_host_missing"))
    return out


def check_tlsrpt(r: dns.resolver.Resolver, domain: str) -> DnsCheck:
    """TLS-RPT (RFC 8460 §3): where senders mail their daily TLS reports."""
    served = served_policy(Domain.objects.get(name=domain))
    name = f"_smtp._tls.{domain}"
    expected = f'{name}. IN TXT "{served.tlsrpt_record}"'
    found = [t for t in _txt(r, name) if t.replace(" ", "").startswith("v=TLSRPTv1")]
    if not found:
        detail = "no TLS-RPT record: nobody tells you when mail to this domain fails TLS"
        return DnsCheck("tlsrpt", MISSING, name, found, expected, detail, "tlsrpt_missing")
    if len(found) > 1:
        detail = "more than one TLS-RPT record: senders ignore them all (RFC 8460 §3)"
        return DnsCheck("tlsrpt", WRONG, name, found, expected, detail, "tlsrpt_duplicate")
    rua = _tags(found[0]).get("rua", "")
    if not rua.startswith(("mailto:", "https:")):
        detail = "the rua= tag must be a mailto: or https: address"
        return DnsCheck("tlsrpt", WRONG, name, found, expected, detail, "tlsrpt_bad_rua")
    mine = f"mailto:{served.tlsrpt_record.partition('mailto:')[2]}"
    if mine.lower() not in rua.lower():
        detail = "reports go elsewhere: the console shows only those mailed to this server"
        return DnsCheck("tlsrpt", OK, name, found, "", detail, "tlsrpt_elsewhere")
    return DnsCheck("tlsrpt", OK, name, found)


def check_domain_dns(domain: str) -> list[DnsCheck]:
    """Every check for `domain` (an A-label). A failed lookup gives that check status 'error'
    and does not stop the others."""
    r = resolver()
    hostname = _host(settings.MAIL_HOSTNAME)
    results: list[DnsCheck] = []
    dead: list[str] = []  # once the resolver failed, the other lookups would only wait too

    def run(kind: str, name: str, fn):  # type: ignore[no-untyped-def]
        if dead and not (kind == "dkim" and not published_keys(domain)):
            results.append(
                DnsCheck(
                    kind,
                    ERROR,
                    name,
                    [],
                    "",
                    "not checked: the resolver did not answer",
                    "not_checked",
                )
            )
            return None
        try:
            value = fn()
        except _LookupError as exc:
            results.append(DnsCheck(kind, ERROR, name, [], "", str(exc), exc.reason))
            dead.append(str(exc))
            return None
        if isinstance(value, list):
            results.extend(value)
        else:
            results.append(value)
        return value

    mx = run("mx", domain, lambda: check_mx(r, domain, hostname))
    mx_ok = mx is not None and mx.status == OK
    run("spf", domain, lambda: check_spf(r, domain, hostname, mx_ok))
    run("dkim", f"_domainkey.{domain}", lambda: check_dkim(r, domain))
    run("dmarc", f"_dmarc.{domain}", lambda: check_dmarc(r, domain))
    run("srv", f"_tcp.{domain}", lambda: check_srv(r, domain))
    run("mta-sts", f"_mta-sts.{domain}", lambda: check_mta_sts(r, domain))
    run("tlsrpt", f"_smtp._tls.{domain}", lambda: check_tlsrpt(r, domain))
    return results
