"""Read-only directory lookups: recipient resolution at RCPT time and alias expansion at
delivery time. Every lookup is an exact match on an indexed, canonical column."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from mailcore.addresses import canonical_address, canonical_domain, split_address
from mailcore.directory.models import (
    Account,
    Alias,
    AppPassword,
    Domain,
    DomainAdmin,
    RelayAction,
    RelayRule,
)
from mailcore.errors import InvalidAddressError
from mailcore.rules.srs import original_of

RECIPIENT_DELIMITER = "+"  # Postfix recipient_delimiter: alice+news@ reaches alice@


class Resolution(enum.Enum):
    ACCOUNT = "account"
    ALIAS = "alias"
    POSTMASTER = "postmaster"
    DISABLED = "disabled"
    UNKNOWN = "unknown"  # local domain, nobody there
    NOT_LOCAL = "not_local"  # not one of our domains
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Recipient:
    resolution: Resolution
    address: str  # canonical form ('' when invalid)
    quota_bytes: int = 0  # of an ACCOUNT found on the hot path (0: unlimited, or not known)


def is_local_domain(alabel: str) -> bool:
    return Domain.objects.filter(name=alabel, is_active=True).exists()


def resolve_recipient(address: str) -> Recipient:
    """Classify an envelope recipient. Cheap: at most a handful of indexed lookups."""
    try:
        canonical = canonical_address(address)
    except InvalidAddressError:
        # Address literals, trailing dots, quoted or 8-bit junk: ours only if the domain is.
        try:
            _, domain = split_address(address)
            alabel = canonical_domain(domain)
        except InvalidAddressError:
            return Recipient(Resolution.NOT_LOCAL, "")
        local_domain = is_local_domain(alabel)
        return Recipient(Resolution.UNKNOWN if local_domain else Resolution.NOT_LOCAL, "")
    local, _, alabel = canonical.rpartition("@")
    # Hot path first: an existing account of an active domain is one indexed lookup.
    found = _account_active_in_active_domain(canonical)
    if found is not None:
        active, quota = found
        return Recipient(Resolution.ACCOUNT if active else Resolution.DISABLED, canonical, quota)
    if not is_local_domain(alabel):
        return Recipient(Resolution.NOT_LOCAL, canonical)
    if original_of(canonical):  # a bounce of mail a rule forwarded: back to its sender
        return Recipient(Resolution.ALIAS, canonical)
    for candidate in _candidates(local, alabel):
        account = Account.objects.filter(address=candidate).only("is_active").first()
        if account is not None:
            if not account.is_active:
                return Recipient(Resolution.DISABLED, canonical)
            return Recipient(Resolution.ACCOUNT, canonical)
        if Alias.objects.filter(source=candidate).exists():
            return Recipient(Resolution.ALIAS, canonical)
    if local == "postmaster":
        return Recipient(Resolution.POSTMASTER, canonical)
    if Alias.objects.filter(source=f"@{alabel}").exists():
        return Recipient(Resolution.ALIAS, canonical)
    return Recipient(Resolution.UNKNOWN, canonical)


def _account_active_in_active_domain(address: str) -> tuple[bool, int] | None:
    """(is_active, quota_bytes) of account `address` if it exists in an active domain, else
    None. Raw SQL: this runs once per RCPT, and building the ORM query cost more CPU than
    running it."""
    qn = connection.ops.quote_name
    account, domain = qn(Account._meta.db_table), qn(Domain._meta.db_table)
    sql = (
        f"SELECT a.{qn('is_active')}, a.{qn('quota_bytes')} FROM {account} a"  # noqa: S608
        f" JOIN {domain} d"
        f" ON d.{qn('id')} = a.{qn('domain_id')}"
        f" WHERE a.{qn('address')} = %s AND d.{qn('is_active')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [address])
        row = cursor.fetchone()
    return None if row is None else (bool(row[0]), int(row[1] or 0))


def _candidates(local: str, alabel: str) -> list[str]:
    out = [f"{local}@{alabel}"]
    base, sep, _ = local.partition(RECIPIENT_DELIMITER)
    if sep and base:
        out.append(f"{base}@{alabel}")
    return out


@dataclass(slots=True)
class Expansion:
    accounts: list[Account] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # postmaster@ that reaches nobody: RFC 5321 §4.5.1 made us accept it, so delivery keeps
    # it in the queue (deferred, then held) until a route exists, instead of bouncing it.
    unrouted_postmaster: bool = False


def expand_recipient(address: str) -> Expansion:
    """Follow aliases from `address` to final mailboxes and external addresses.

    Loops are cut (each address is expanded once), depth and fan-out are capped (sendmail
    MaxAliasRecursion, Postfix virtual_alias_expansion_limit), duplicates are removed.
    """
    result = Expansion()
    seen: set[str] = set()
    account_ids: set[int] = set()
    max_depth, max_total = settings.ALIAS_MAX_DEPTH, settings.ALIAS_MAX_EXPANSION

    def visit(addr: str, depth: int) -> None:
        if addr in seen:
            return
        seen.add(addr)
        if len(seen) > max_total:
            result.problems.append(f"alias expansion limit {max_total} reached")
            return
        if depth > max_depth:
            result.problems.append(f"alias nesting deeper than {max_depth} at {addr}")
            return
        local, _, alabel = addr.rpartition("@")
        direct = Account.objects.filter(
            address=addr, is_active=True, domain__is_active=True
        ).first()
        if direct is not None:  # the common case: one query
            if direct.pk not in account_ids:
                account_ids.add(direct.pk)
                result.accounts.append(direct)
            return
        if not is_local_domain(alabel):
            if addr not in result.external:
                result.external.append(addr)
            return
        original = original_of(addr)
        if original:  # SRS0 (mailcore.rules.srs): the bounce goes on to the original sender
            visit(original.lower(), depth + 1)
            return
        for candidate in _candidates(local, alabel):
            account = Account.objects.filter(address=candidate, is_active=True).first()
            if account is not None:
                if account.pk not in account_ids:
                    account_ids.add(account.pk)
                    result.accounts.append(account)
                return
            alias = Alias.objects.filter(source=candidate).first()
            if alias is not None:
                for target in alias.targets:
                    visit(target, depth + 1)
                return
        if local == "postmaster":
            fallback = postmaster_target(alabel)
            if fallback and fallback != addr:
                visit(fallback, depth + 1)
                return
        catchall = Alias.objects.filter(source=f"@{alabel}").first()
        if catchall is not None and depth == 0:
            for target in catchall.targets:
                visit(target, depth + 1)
            return
        result.problems.append(f"no mailbox for {addr}")

    visit(address, 0)
    if address.rpartition("@")[0] == "postmaster" and not result.accounts and not result.external:
        result.unrouted_postmaster = True
    return result


def postmaster_target(alabel: str) -> str:
    """Where postmaster@ goes when no account or alias claims it: POSTMASTER_ADDRESS, else the
    first superadmin account."""
    if settings.POSTMASTER_ADDRESS:
        return canonical_address(settings.POSTMASTER_ADDRESS)
    admin = Account.objects.filter(is_staff=True, is_active=True).order_by("pk").first()
    return admin.address if admin else ""


# RFC 5321 §4.5.1 requires postmaster@; RFC 2142 asks for abuse@ where there is a service.
ROLE_LOCAL_PARTS = ("postmaster", "abuse")
MAX_ROLE_CHECK_DOMAINS = 200  # a dashboard view and a banner, not an audit of every domain


@dataclass(frozen=True, slots=True)
class UnroutedRoleAddress:
    address: str
    domain: str
    local: str  # postmaster | abuse

    @property
    def advice(self) -> str:
        """What the admin can do, as one sentence (banner, command output, console)."""
        fix = f"create an account or `alias add {self.address} <admin address>`" + (
            ", or set POSTMASTER_ADDRESS" if self.local == "postmaster" else ""
        )
        what = (
            "it is accepted (RFC 5321) but kept in the queue"
            if self.local == "postmaster"
            else "mail to it is refused"
        )
        return f"{self.address} has nowhere to go ({what}): {fix}"


def list_unrouted_role_addresses(domains: list[str] | None = None) -> list[UnroutedRoleAddress]:
    """postmaster@ and abuse@ of active local domains (`domains`, or all; at most
    MAX_ROLE_CHECK_DOMAINS, by name) that reach no mailbox or outside address, following
    accounts, aliases, POSTMASTER_ADDRESS / the first admin and catch-alls as delivery does.

    Read-only and cheap for a dashboard: two queries for all accounts and aliases; the full
    expansion runs only where aliases decide, and once for the postmaster fallback, which is
    the same for every domain without its own route."""
    qs = Domain.objects.filter(is_active=True).order_by("name")
    if domains is not None:
        qs = qs.filter(name__in=domains)
    names = list(qs.values_list("name", flat=True)[:MAX_ROLE_CHECK_DOMAINS])
    wanted = [f"{local}@{alabel}" for alabel in names for local in ROLE_LOCAL_PARTS]
    mailboxes = set(
        Account.objects.filter(address__in=wanted, is_active=True).values_list("address", flat=True)
    )
    sources = [*wanted, *(f"@{alabel}" for alabel in names)]
    aliased = set(Alias.objects.filter(source__in=sources).values_list("source", flat=True))
    fallback = postmaster_target(names[0]) if names else ""
    via_fallback: bool | None = None

    def reaches(address: str) -> bool:
        found = expand_recipient(address)
        return bool(found.accounts or found.external)

    out: list[UnroutedRoleAddress] = []
    for alabel in names:
        for local in ROLE_LOCAL_PARTS:
            address = f"{local}@{alabel}"
            if address in mailboxes:
                continue
            if address in aliased or f"@{alabel}" in aliased or address == fallback:
                routed = reaches(address)  # the alias targets (or the catch-all) decide
            elif local == "postmaster":
                if via_fallback is None:
                    via_fallback = reaches(address)
                routed = via_fallback
            else:
                routed = False  # abuse@: no account, alias or catch-all
            if not routed:
                out.append(UnroutedRoleAddress(address, alabel, local))
    return out


def role_address_warnings(domains: list[str] | None = None) -> list[str]:
    """One warning line per unrouted postmaster@/abuse@ (for a banner or a command)."""
    return [f"WARNING: {gap.advice}" for gap in list_unrouted_role_addresses(domains)]


def alias_graph_has_cycle(source: str, targets: list[str]) -> bool:
    """Would `source → targets` close a loop through existing local aliases?"""
    stack = list(targets)
    seen: set[str] = set()
    while stack:
        addr = stack.pop()
        if addr == source:
            return True
        if addr in seen:
            continue
        seen.add(addr)
        alias = Alias.objects.filter(source=addr).only("targets").first()
        if alias is not None:
            stack.extend(alias.targets)
    return False


# --- relay access (sendmail's /etc/mail/access) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessRule:
    """A RelayRule as the SMTP layer matches it (no ORM object in the session)."""

    pk: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    sender_domain: str
    recipient_domain: str
    action: str


# Equal specificity: the stricter action wins.
_SEVERITY = {RelayAction.REJECT: 3, RelayAction.DISCARD: 2, RelayAction.OK: 1, RelayAction.RELAY: 0}


def client_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    # An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def list_access_rules_for_ip(ip: str) -> list[AccessRule]:
    """Every rule whose network contains `ip` (the table is small, like an access map)."""
    return access_rules_for_ip(list_access_rules(), ip)


def list_access_rules() -> list[AccessRule]:
    """Every relay access rule, in RelayRule.Meta.ordering."""
    qn = connection.ops.quote_name
    columns = ("id", "network", "sender_domain", "recipient_domain", "action")
    # Raw SQL: once per session, and the ORM's query building was most of its cost. Same
    # order as RelayRule.Meta.ordering.
    sql = (
        f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(RelayRule._meta.db_table)}"  # noqa: S608
        f" ORDER BY {qn('network')}, {qn('sender_domain')}, {qn('recipient_domain')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return [
        AccessRule(pk, ipaddress.ip_network(cidr, strict=False), sender, recipient, action)
        for pk, cidr, sender, recipient, action in rows
    ]


def access_rules_for_ip(rules: list[AccessRule], ip: str) -> list[AccessRule]:
    """Those of `rules` whose network contains `ip` (pure)."""
    addr = client_ip(ip)
    if addr is None:
        return []
    return [r for r in rules if addr.version == r.network.version and addr in r.network]


def _domain_matches(rule_domain: str, domain: str) -> bool:
    return not rule_domain or domain == rule_domain or domain.endswith("." + rule_domain)


def _domain_of(address: str) -> str:
    _, at, domain = address.rpartition("@")
    if not at:
        return ""
    try:
        return canonical_domain(domain)
    except InvalidAddressError:
        return ""


def pick_access_rule(rules: list[AccessRule], *, sender: str, recipient: str) -> AccessRule | None:
    """The most specific matching rule: longest prefix, then most domain conditions, then the
    strictest action. Pure: the caller loads `rules` once per session."""
    if not rules:
        return None  # the common case: no rule for the client (no domain parsing per RCPT)
    sender_domain, recipient_domain = _domain_of(sender), _domain_of(recipient)
    best: AccessRule | None = None
    best_key: tuple[int, int, int] = (-1, -1, -1)
    for rule in rules:
        if rule.sender_domain and not _domain_matches(rule.sender_domain, sender_domain):
            continue
        if rule.recipient_domain and not _domain_matches(rule.recipient_domain, recipient_domain):
            continue
        key = (
            rule.network.prefixlen,
            bool(rule.sender_domain) + bool(rule.recipient_domain),
            _SEVERITY[RelayAction(rule.action)],
        )
        if key > best_key:
            best, best_key = rule, key
    return best


def account_owns_address(account: Account, address: str) -> bool:
    """May `account` send as `address`? Its own address (with or without a +tag), or an alias
    whose targets include it (Postfix reject_sender_login_mismatch). A catch-all grants nothing.
    Resolution follows delivery: whatever alice+tag@ delivers to is who owns it."""
    try:
        canonical = canonical_address(address)
    except InvalidAddressError:
        return False
    local, _, alabel = canonical.rpartition("@")
    for candidate in _candidates(local, alabel):
        if candidate == account.address:
            return True
        alias = Alias.objects.filter(source=candidate).only("targets").first()
        if alias is not None:
            return account.address in alias.targets
        if Account.objects.filter(address=candidate).exists():
            return False
    return False


def sending_addresses(account: Account) -> list[str]:
    """The addresses `account` sends as, its own first, then the aliases that deliver to it
    (what account_owns_address accepts, +tags and catch-alls aside). A reply leaves them all out
    of its recipients, as Gmail does with "send mail as" addresses."""
    # icontains narrows the scan in the database (the JSON text); membership decides.
    aliases = Alias.objects.filter(targets__icontains=account.address).exclude(
        source__startswith="@"
    )
    return [account.address, *sorted(a.source for a in aliases if account.address in a.targets)]


# --- app passwords and admin roles ---------------------------------------------------------------


def list_app_passwords(account: Account) -> QuerySet[AppPassword]:
    """`account`'s app passwords, oldest first (the secret is never stored, so never shown)."""
    return AppPassword.objects.filter(account=account).order_by("created_at", "id")


def list_admin_domains(account: Account) -> list[str]:
    """A-labels of the active domains `account` administers as a domain admin (not as
    superadmin); the same set mailcore.directory.roles.get_admin_scope grants."""
    return list(
        DomainAdmin.objects.filter(account=account, domain__is_active=True)
        .order_by("domain__name")
        .values_list("domain__name", flat=True)
    )
