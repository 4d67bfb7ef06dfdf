"""Writes to the directory: domains, accounts, aliases. The shell commands, the admin console
and tests all come through here, so validation happens once."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.db import transaction

from mailcore.addresses import (
    canonical_address,
    canonical_domain,
    canonical_local,
    split_address,
    storage_name,
)
from mailcore.directory.models import Account, Alias, Domain, RelayAction, RelayRule
from mailcore.errors import ConflictError, InvalidAddressError, NotFoundError


def do_create_domain(name: str) -> Domain:
    alabel = canonical_domain(name)
    domain, created = Domain.objects.get_or_create(name=alabel)
    if not created:
        raise ConflictError(f"domain {alabel} exists already")
    return domain


def do_remove_domain(name: str, *, force: bool = False) -> None:
    """Remove a domain; refused while accounts exist unless forced (then they go too)."""
    alabel = canonical_domain(name)
    with transaction.atomic():
        try:
            domain = Domain.objects.select_for_update().get(name=alabel)
        except Domain.DoesNotExist as exc:
            raise NotFoundError(f"no domain {alabel}") from exc
        accounts = Account.objects.filter(domain=domain)
        if accounts.exists() and not force:
            raise ConflictError(
                f"domain {alabel} still has {accounts.count()} account(s); remove them or force"
            )
        for account in accounts:
            _delete_account_rows(account)
        domain.delete()


def do_create_account(
    address: str,
    *,
    password: str | None = None,
    display_name: str = "",
    quota_bytes: int | None = None,
    is_staff: bool = False,
    **_ignored: Any,
) -> Account:
    """Create an account in an existing local domain, with its Maildir and default folders."""
    from mailcore.store.actions import ensure_default_folders

    local_raw, domain_raw = split_address(address)
    local, alabel = canonical_local(local_raw), canonical_domain(domain_raw)
    canonical = f"{local}@{alabel}"
    with transaction.atomic():
        try:
            domain = Domain.objects.get(name=alabel)
        except Domain.DoesNotExist as exc:
            raise InvalidAddressError(f"{alabel} is not a local domain; add it first") from exc
        if Account.objects.filter(address=canonical).exists():
            raise ConflictError(f"account {canonical} exists already")
        if Alias.objects.filter(source=canonical).exists():
            raise ConflictError(f"{canonical} is an alias; remove the alias first")
        account = Account(
            address=canonical,
            local_part=local,
            domain=domain,
            display_name=display_name,
            storage_path=f"{alabel}/{storage_name(local)}",
            quota_bytes=settings.DEFAULT_QUOTA_BYTES if quota_bytes is None else quota_bytes,
            is_staff=is_staff,
        )
        if password:
            account.set_password(password)
        else:
            account.set_unusable_password()
        account.save()
        ensure_default_folders(account)
    return account


def do_set_password(address: str, password: str) -> Account:
    account = _get_account(address)
    account.set_password(password)
    account.save(update_fields=["password"])
    return account


def do_set_account_active(address: str, active: bool) -> Account:
    account = _get_account(address)
    account.is_active = active
    account.save(update_fields=["is_active"])
    return account


def do_remove_account(address: str) -> None:
    """Delete the account's rows. Its Maildir stays on disk (like userdel without -r)."""
    account = _get_account(address)
    with transaction.atomic():
        _delete_account_rows(account)


def _delete_account_rows(account: Account) -> None:
    account.delete()


def _get_account(address: str) -> Account:
    try:
        return Account.objects.get(address=canonical_address(address))
    except Account.DoesNotExist as exc:
        raise NotFoundError(f"no account {address}") from exc


def canonical_alias_source(source: str) -> tuple[str, str]:
    """'Root@Example.com' → ('root@example.com', 'example.com'); '@example.com' is a catch-all."""
    if source.startswith("@"):
        alabel = canonical_domain(source[1:])
        return f"@{alabel}", alabel
    canonical = canonical_address(source)
    return canonical, canonical.rpartition("@")[2]


def do_add_alias(source: str, targets: list[str]) -> Alias:
    """Add targets to an alias (creating it). Cycles through local aliases are refused."""
    from mailcore.directory.queries import alias_graph_has_cycle

    canonical, alabel = canonical_alias_source(source)
    clean = [canonical_address(t) for t in targets]
    if not clean:
        raise InvalidAddressError("an alias needs at least one target")
    with transaction.atomic():
        try:
            domain = Domain.objects.get(name=alabel)
        except Domain.DoesNotExist as exc:
            raise InvalidAddressError(f"{alabel} is not a local domain") from exc
        if Account.objects.filter(address=canonical).exists():
            raise ConflictError(f"{canonical} is an account; an alias cannot shadow it")
        alias, _ = Alias.objects.select_for_update().get_or_create(
            source=canonical, defaults={"domain": domain, "targets": []}
        )
        merged = list(dict.fromkeys([*alias.targets, *clean]))
        if canonical in merged:
            raise ConflictError(f"alias {canonical} cannot point at itself")
        if alias_graph_has_cycle(canonical, merged):
            raise ConflictError(f"alias {canonical} → {', '.join(clean)} would create a loop")
        alias.targets = merged
        alias.save()
    return alias


def do_remove_alias(source: str, targets: list[str] | None = None) -> None:
    """Remove the whole alias, or only some of its targets."""
    canonical, _ = canonical_alias_source(source)
    with transaction.atomic():
        try:
            alias = Alias.objects.select_for_update().get(source=canonical)
        except Alias.DoesNotExist as exc:
            raise NotFoundError(f"no alias {canonical}") from exc
        if not targets:
            alias.delete()
            return
        drop = {canonical_address(t) for t in targets}
        alias.targets = [t for t in alias.targets if t not in drop]
        if alias.targets:
            alias.save()
        else:
            alias.delete()


# --- relay access (sendmail's /etc/mail/access) -------------------------------------------------

# security.md R20/W16: a mistyped range must not turn us into an open relay.
WIDEST_IPV4_PREFIX = 24
WIDEST_IPV6_PREFIX = 56


def canonical_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """'127.0.0.1' → 127.0.0.1/32; '10.1.2.3/24' → 10.1.2.0/24 (host bits dropped)."""
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise InvalidAddressError(f"invalid network {value!r}: {exc}") from exc
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:  # ::ffff:a.b.c.d/120 is an IPv4 range in disguise
            network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}", strict=False)
    return network


def _rule_domain(value: str) -> str:
    return canonical_domain(value.removeprefix("@")) if value else ""


def do_add_relay_rule(
    network: str,
    action: str,
    *,
    sender_domain: str = "",
    recipient_domain: str = "",
    comment: str = "",
    force: bool = False,
) -> RelayRule:
    """Add (or change the action of) an access rule. Rules wider than /24 (IPv4) or /56 (IPv6)
    are refused unless `force`: relaying for a whole provider is almost always a mistake."""
    net = canonical_network(network)
    try:
        relay_action = RelayAction(action.upper())
    except ValueError as exc:
        raise InvalidAddressError(
            f"action must be one of {', '.join(RelayAction.values)}, not {action!r}"
        ) from exc
    widest = WIDEST_IPV4_PREFIX if net.version == 4 else WIDEST_IPV6_PREFIX
    if net.prefixlen < widest and not force:
        raise ConflictError(f"{net} is wider than /{widest}; refusing without --force")
    rule, _ = RelayRule.objects.update_or_create(
        network=str(net),
        sender_domain=_rule_domain(sender_domain),
        recipient_domain=_rule_domain(recipient_domain),
        defaults={"action": relay_action, "comment": comment[:200]},
    )
    return rule


def do_remove_relay_rule(
    network: str, *, sender_domain: str = "", recipient_domain: str = ""
) -> None:
    deleted, _ = RelayRule.objects.filter(
        network=str(canonical_network(network)),
        sender_domain=_rule_domain(sender_domain),
        recipient_domain=_rule_domain(recipient_domain),
    ).delete()
    if not deleted:
        raise NotFoundError(f"no access rule for {network}")
