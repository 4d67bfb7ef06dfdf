"""Writes to the directory: domains, accounts, aliases. The shell commands, the admin console
and tests all come through here, so validation happens once."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from mailcore.addresses import (
    canonical_address,
    canonical_domain,
    canonical_local,
    split_address,
    storage_name,
)
from mailcore.directory import cache as dircache
from mailcore.directory.models import (
    Account,
    Alias,
    AppPassword,
    AuditLog,
    Domain,
    DomainAdmin,
    RelayAction,
    RelayRule,
)
from mailcore.errors import ConflictError, InvalidAddressError, NotFoundError, UserError


def do_create_domain(name: str) -> Domain:
    alabel = canonical_domain(name)
    domain, created = Domain.objects.get_or_create(name=alabel)
    if not created:
        raise ConflictError(f"domain {alabel} exists already", code="domain_exists")
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
                f"domain {alabel} still has {accounts.count()} account(s); remove them or force",
                code="domain_not_empty",
            )
        for account in accounts:
            _delete_account_rows(account)
        domain.delete()


def do_set_domain_active(name: str, active: bool) -> Domain:
    """Enable or disable a domain: a disabled one is not local (no mail accepted for it)."""
    alabel = canonical_domain(name)
    updated = Domain.objects.filter(name=alabel).update(is_active=active)
    dircache.clear()  # update() sends no post_save
    if not updated:
        raise NotFoundError(f"no domain {alabel}")
    return Domain.objects.get(name=alabel)


def generate_password() -> str:
    """A random initial or reset password: 16 characters, letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


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
            raise ConflictError(f"account {canonical} exists already", code="account_exists")
        if Alias.objects.filter(source=canonical).exists():
            raise ConflictError(
                f"{canonical} is an alias; remove the alias first", code="address_is_alias"
            )
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


def do_set_password(address: str, password: str, *, revoke_app_passwords: bool = True) -> Account:
    """Set the account password. App passwords are revoked too (Google does the same): a
    password reset after a compromise must not leave the intruder's app password working."""
    account = _get_account(address)
    with transaction.atomic():
        account.set_password(password)
        account.save(update_fields=["password"])
        if revoke_app_passwords:
            AppPassword.objects.filter(account=account).delete()
    return account


def do_update_account(
    account: Account,
    *,
    display_name: str | None = None,
    quota_bytes: int | None = None,
    is_active: bool | None = None,
    is_staff: bool | None = None,
) -> Account:
    """Change the given fields (None = leave as is); the display name under the rules of
    do_set_display_name."""
    if quota_bytes is not None and quota_bytes < 0:
        raise UserError("the quota cannot be negative (0 means unlimited)")
    fields: list[str] = []
    with transaction.atomic():  # an invalid name changes nothing else either
        if display_name is not None:
            do_set_display_name(account, display_name)
        if quota_bytes is not None:
            account.quota_bytes, fields = quota_bytes, [*fields, "quota_bytes"]
        if is_active is not None:
            account.is_active, fields = is_active, [*fields, "is_active"]
        if is_staff is not None:
            account.is_staff, fields = is_staff, [*fields, "is_staff"]
        if fields:
            account.save(update_fields=fields)
    return account


MAX_DISPLAY_NAME_CHARS = 200  # Account.display_name max_length


def do_set_display_name(account: Account, display_name: str) -> Account:
    """Set the name shown in From: of mail the account sends. Trimmed; control characters
    (CR/LF would split a header) and over-long names are refused with UserError."""
    from mailcore.errors import UserError

    name = display_name.strip()
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise UserError(f"The name may have at most {MAX_DISPLAY_NAME_CHARS} characters.")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise UserError("The name may not contain control characters.")
    account.display_name = name
    account.save(update_fields=["display_name"])
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


def _alias_domain(canonical: str, alabel: str) -> Domain:
    """The local domain an alias `canonical` is saved under; an account's address cannot be
    an alias (it would shadow the mailbox)."""
    try:
        domain = Domain.objects.get(name=alabel)
    except Domain.DoesNotExist as exc:
        raise InvalidAddressError(f"{alabel} is not a local domain") from exc
    if Account.objects.filter(address=canonical).exists():
        raise ConflictError(
            f"{canonical} is an account; an alias cannot shadow it", code="address_is_account"
        )
    return domain


def _check_no_loop(canonical: str, targets: list[str], *, added: list[str]) -> None:
    """ConflictError when the alias would point at itself or close a cycle through local
    aliases; `added` are the targets the caller asked for (named in the message)."""
    from mailcore.directory.queries import alias_graph_has_cycle

    if canonical in targets:
        raise ConflictError(f"alias {canonical} cannot point at itself", code="alias_loop")
    if alias_graph_has_cycle(canonical, targets):
        raise ConflictError(
            f"alias {canonical} → {', '.join(added)} would create a loop", code="alias_loop"
        )


def do_add_alias(source: str, targets: list[str]) -> Alias:
    """Add targets to an alias (creating it). Cycles through local aliases are refused."""
    canonical, alabel = canonical_alias_source(source)
    clean = [canonical_address(t) for t in targets]
    if not clean:
        raise InvalidAddressError("an alias needs at least one target")
    with transaction.atomic():
        domain = _alias_domain(canonical, alabel)
        alias, _ = Alias.objects.select_for_update().get_or_create(
            source=canonical, defaults={"domain": domain, "targets": []}
        )
        merged = list(dict.fromkeys([*alias.targets, *clean]))
        _check_no_loop(canonical, merged, added=clean)
        alias.targets = merged
        alias.save()
    return alias


def do_set_alias(
    source: str, targets: list[str], *, create: bool = True, replace: bool = True
) -> Alias:
    """Set an alias's targets: create it (if `create`) or replace an existing one's targets (if
    `replace`; else ConflictError). Same checks as do_add_alias: cycles refused."""
    canonical, alabel = canonical_alias_source(source)
    clean = list(dict.fromkeys(canonical_address(t) for t in targets))
    if not clean:
        raise InvalidAddressError("an alias needs at least one target")
    if len(clean) > settings.ALIAS_MAX_EXPANSION:
        raise InvalidAddressError(f"an alias has at most {settings.ALIAS_MAX_EXPANSION} targets")
    with transaction.atomic():
        domain = _alias_domain(canonical, alabel)
        alias = Alias.objects.select_for_update().filter(source=canonical).first()
        if alias is None:
            if not create:
                raise NotFoundError(f"no alias {canonical}")
            alias = Alias(source=canonical, domain=domain)
        elif not replace:
            raise ConflictError(f"alias {canonical} exists already", code="alias_exists")
        _check_no_loop(canonical, clean, added=clean)
        alias.targets = clean
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


def wide_rule_is_safe(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network,
    action: str,
    sender_domain: str,
    recipient_domain: str,
) -> bool:
    """May a rule wider than /24 (/56) be added without `force`? The one answer for the
    `access` command, the console and the importers (access, mynetworks):
    - loopback (127.0.0.0/8, ::1): only this machine, as in Postfix's default mynetworks;
    - a rule for a recipient domain (sendmail `To:example.com RELAY`, backup MX) or a
      non-RELAY rule for a sender domain (`From:spam.example REJECT`): the domain is the
      point of the rule and every client is meant. RELAY for a sender domain stays forced:
      envelope senders are forged at will (security.md R17)."""
    if net.network_address.is_loopback and net.broadcast_address.is_loopback:
        return True
    if recipient_domain:
        return True
    return bool(sender_domain) and action != RelayAction.RELAY


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
    are refused unless `force` (relaying for a whole provider is almost always a mistake),
    except those wide_rule_is_safe() allows."""
    net = canonical_network(network)
    try:
        relay_action = RelayAction(action.upper())
    except ValueError as exc:
        raise InvalidAddressError(
            f"action must be one of {', '.join(RelayAction.values)}, not {action!r}"
        ) from exc
    sender, recipient = _rule_domain(sender_domain), _rule_domain(recipient_domain)
    widest = WIDEST_IPV4_PREFIX if net.version == 4 else WIDEST_IPV6_PREFIX
    if (
        net.prefixlen < widest
        and not force
        and not wide_rule_is_safe(net, relay_action, sender, recipient)
    ):
        raise ConflictError(
            f"{net} is wider than /{widest}; refusing without --force", code="relay_too_wide"
        )
    rule, _ = RelayRule.objects.update_or_create(
        network=str(net),
        sender_domain=sender,
        recipient_domain=recipient,
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


# --- app passwords (IMAP/POP3/SMTP clients) ---------------------------------------------------

APP_PASSWORD_LETTERS = string.ascii_lowercase
APP_PASSWORD_LENGTH = 16
MAX_APP_PASSWORDS = 50


def app_password_hash(secret: str) -> str:
    """SHA-256 of the normalised secret (spaces dropped, lower case); see AppPassword."""
    return hashlib.sha256(normalise_app_password(secret).encode("ascii")).hexdigest()


def normalise_app_password(secret: str) -> str:
    return "".join(secret.split()).lower()


def looks_like_app_password(secret: str) -> bool:
    s = normalise_app_password(secret)
    return len(s) == APP_PASSWORD_LENGTH and s.isascii() and s.isalpha()


def _clean_app_password_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > 100:
        raise UserError("an app password needs a name of 1 to 100 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in clean):
        raise UserError("an app password name cannot contain control characters")
    return clean


def do_create_app_password(account: Account, name: str) -> tuple[AppPassword, str]:
    """A new app password for `account`. Returns the row and the secret, which is shown once:
    16 lower-case letters grouped by four ('abcd efgh ijkl mnop'; spaces are ignored when it
    is used). Names are unique per account; at most MAX_APP_PASSWORDS per account."""
    clean = _clean_app_password_name(name)
    with transaction.atomic():
        # Lock the account row: two parallel creations cannot both pass the count check.
        Account.objects.select_for_update().filter(pk=account.pk).first()
        existing = AppPassword.objects.filter(account=account)
        if existing.count() >= MAX_APP_PASSWORDS:
            raise ConflictError(
                f"an account has at most {MAX_APP_PASSWORDS} app passwords; revoke one first",
                code="app_password_limit",
            )
        if existing.filter(name=clean).exists():
            raise ConflictError(
                f"an app password named {clean!r} exists already", code="app_password_exists"
            )
        secret = "".join(secrets.choice(APP_PASSWORD_LETTERS) for _ in range(APP_PASSWORD_LENGTH))
        row = AppPassword.objects.create(
            account=account,
            name=clean,
            secret_hash=app_password_hash(secret),
            created_at=timezone.now(),
        )
    shown = " ".join(secret[i : i + 4] for i in range(0, APP_PASSWORD_LENGTH, 4))
    return row, shown


def do_revoke_app_password(account: Account, app_password_id: int) -> None:
    """Delete one of `account`'s app passwords; NotFoundError for anyone else's id."""
    deleted, _ = AppPassword.objects.filter(account=account, pk=app_password_id).delete()
    if not deleted:
        raise NotFoundError(f"no app password {app_password_id}")


def record_app_password_use(app_password: AppPassword, ip: str) -> None:
    """Remember when and from where an app password was last used. Written at most once a
    minute per password and address, so a busy IMAP client does not turn logins into writes."""
    now = timezone.now()
    ip = ip[:45]
    last = app_password.last_used_at
    if last is not None and app_password.last_used_ip == ip and (now - last).total_seconds() < 60:
        return
    AppPassword.objects.filter(pk=app_password.pk).update(last_used_at=now, last_used_ip=ip)
    app_password.last_used_at, app_password.last_used_ip = now, ip


# --- domain administrators and the audit log ----------------------------------------------------


def do_set_admin_domains(account: Account, domain_names: list[str]) -> list[Domain]:
    """Make `account` the administrator of exactly these domains (empty list: of none)."""
    alabels = list(dict.fromkeys(canonical_domain(n) for n in domain_names))
    with transaction.atomic():
        domains = list(Domain.objects.filter(name__in=alabels))
        missing = sorted(set(alabels) - {d.name for d in domains})
        if missing:
            raise InvalidAddressError(f"not a local domain: {', '.join(missing)}")
        DomainAdmin.objects.filter(account=account).exclude(domain__in=domains).delete()
        have = set(DomainAdmin.objects.filter(account=account).values_list("domain_id", flat=True))
        DomainAdmin.objects.bulk_create(
            [DomainAdmin(account=account, domain=d) for d in domains if d.pk not in have]
        )
    return sorted(domains, key=lambda d: d.name)


def do_record_audit(
    *,
    actor: str,
    action: str,
    target: str = "",
    domain: str = "",
    detail: dict[str, Any] | None = None,
    ip: str = "",
) -> AuditLog:
    """Write one audit row. Callers never put secrets (passwords, keys) into `detail`."""
    return AuditLog.objects.create(
        actor=actor[:320],
        action=action[:64],
        target=target[:400],
        domain=domain[:253],
        detail=detail or {},
        ip=ip[:45],
        created_at=timezone.now(),
    )


AUDIT_PURGE_BATCH = 5000  # ids per DELETE: a first purge of millions never holds one long lock


def do_purge_audit_log(
    days: int, *, batch_size: int = AUDIT_PURGE_BATCH, dry_run: bool = False
) -> int:
    """Delete audit rows older than `days` days (0 = keep forever: deletes nothing); returns
    how many went (with `dry_run`, how many would go, deleting nothing). Each batch of at most
    `batch_size` ids is its own short transaction, so this must not run inside one."""
    if days < 0:
        raise UserError("retention days must be 0 (keep forever) or more")
    if batch_size < 1:
        raise UserError("batch size must be at least 1")
    if days == 0:
        return 0
    old = AuditLog.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))
    if dry_run:
        return old.count()
    return purge_in_batches(AuditLog, old.order_by("created_at"), batch_size)


def purge_in_batches(model: type[models.Model], old: QuerySet[Any], batch_size: int) -> int:
    """Delete the rows of `old` (ordered oldest first, along an index) in batches of at most
    `batch_size` ids, each its own short transaction (so never inside one): a first purge of
    millions never holds one long lock."""
    batch = old.values("id")[:batch_size]
    removed = 0
    while True:
        with transaction.atomic(durable=True):
            # One DELETE … WHERE id IN (SELECT id … LIMIT batch_size) per transaction.
            n, _ = model._default_manager.filter(id__in=batch).delete()
        removed += n
        if n < batch_size:
            return removed


def do_purge_login_history(days: int | None = None, *, batch_size: int = AUDIT_PURGE_BATCH) -> int:
    """Delete login records older than `days` (default LOGIN_HISTORY_DAYS; 0 keeps all)."""
    from mailcore.directory.logins import purge_cutoff
    from mailcore.directory.models import LoginRecord

    cutoff = purge_cutoff(days)
    if cutoff is None:
        return 0
    old = LoginRecord.objects.filter(at__lt=cutoff).order_by("at")
    return purge_in_batches(LoginRecord, old, batch_size)
