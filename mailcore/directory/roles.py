"""Who may administer what: superadmins (Account.is_staff) everything, domain admins
(DomainAdmin rows) only their domains. Read-only; every access_* raises NotFoundError for an
object outside the caller's scope, so another domain's objects look exactly like missing ones.

The admin API, and later anything else that acts for an administrator, checks through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from mailcore.addresses import canonical_domain
from mailcore.delivery.models import DkimKey
from mailcore.directory.models import Account, Alias, Domain, DomainAdmin, RelayRule
from mailcore.errors import AdminForbiddenError, InvalidAddressError, NotFoundError


@dataclass(frozen=True, slots=True)
class AdminScope:
    account: Account
    is_superadmin: bool
    domains: frozenset[str]  # A-labels a domain admin administers (empty for a superadmin)

    @property
    def actor(self) -> str:
        return self.account.address

    def covers(self, alabel: str) -> bool:
        return self.is_superadmin or alabel in self.domains

    def covers_address(self, address: str) -> bool:
        return self.covers(address.rpartition("@")[2].lower())

    def domain_filter(self, field: str = "name") -> Q:
        """A Q restricting a queryset to this scope (`field` holds a domain A-label)."""
        return Q() if self.is_superadmin else Q(**{f"{field}__in": sorted(self.domains)})


def get_admin_scope(account: Account) -> AdminScope | None:
    """The admin rights of `account`, or None when it administers nothing (plain user)."""
    if not account.is_active:
        return None
    if account.is_staff:
        return AdminScope(account, True, frozenset())
    names = frozenset(
        DomainAdmin.objects.filter(account=account, domain__is_active=True).values_list(
            "domain__name", flat=True
        )
    )
    return AdminScope(account, False, names) if names else None


def list_domains(scope: AdminScope) -> QuerySet[Domain]:
    return Domain.objects.filter(scope.domain_filter()).order_by("name")


def access_domain(scope: AdminScope, name: str) -> Domain:
    try:
        alabel = canonical_domain(name)
    except InvalidAddressError as exc:
        raise NotFoundError(f"no domain {name}") from exc
    if not scope.covers(alabel):
        raise NotFoundError(f"no domain {alabel}")
    domain = Domain.objects.filter(name=alabel).first()
    if domain is None:
        raise NotFoundError(f"no domain {alabel}")
    return domain


def list_accounts(scope: AdminScope) -> QuerySet[Account]:
    return Account.objects.filter(scope.domain_filter("domain__name")).select_related("domain")


def access_account(scope: AdminScope, account_id: int) -> Account:
    account = (
        Account.objects.filter(scope.domain_filter("domain__name"), pk=account_id)
        .select_related("domain")
        .first()
    )
    if account is None:
        raise NotFoundError(f"no account {account_id}")
    return account


def check_may_manage_account(scope: AdminScope, account: Account) -> None:
    """A domain admin may change an account of its domains only if that account has no more
    rights than the admin: not a superadmin, and not an admin of any domain the caller does
    not administer (else resetting its password would be a way up)."""
    if scope.is_superadmin:
        return
    if account.is_staff:
        raise AdminForbiddenError("only a superadmin can change a superadmin account")
    theirs = set(DomainAdmin.objects.filter(account=account).values_list("domain__name", flat=True))
    if not theirs <= scope.domains:
        raise AdminForbiddenError(
            "this account administers domains you do not; only a superadmin can change it"
        )


def list_aliases(scope: AdminScope) -> QuerySet[Alias]:
    return Alias.objects.filter(scope.domain_filter("domain__name")).select_related("domain")


def access_alias(scope: AdminScope, alias_id: int) -> Alias:
    alias = list_aliases(scope).filter(pk=alias_id).first()
    if alias is None:
        raise NotFoundError(f"no alias {alias_id}")
    return alias


def _count_per_domain(model: type[Account] | type[Alias]) -> Coalesce:
    """How many `model` rows the outer query's domain has (0 when none), as a subquery."""
    rows = (
        model.objects.filter(domain=OuterRef("pk"))
        .order_by()
        .values("domain")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def domains_with_counts(scope: AdminScope) -> QuerySet[Domain]:
    """Domains in scope with `account_count` and `alias_count` (subqueries: no join blow-up)."""
    return list_domains(scope).annotate(
        account_count=_count_per_domain(Account), alias_count=_count_per_domain(Alias)
    )


def attach_catchalls(domains: list[Domain]) -> None:
    """Set `catchall_targets` (list, or None) on each domain: one query for the page."""
    found = dict(
        Alias.objects.filter(source__in=[f"@{d.name}" for d in domains]).values_list(
            "source", "targets"
        )
    )
    for d in domains:
        d.catchall_targets = found.get(f"@{d.name}")  # type: ignore[attr-defined]


def attach_admin_domains(accounts: Sequence[Account]) -> None:
    """Set `admin_domains` (A-labels) on each account: one query for the page."""
    by_account: dict[int, list[str]] = {a.pk: [] for a in accounts}
    for account_id, name in (
        DomainAdmin.objects.filter(account_id__in=list(by_account))
        .order_by("domain__name")
        .values_list("account_id", "domain__name")
    ):
        by_account[account_id].append(name)
    for a in accounts:
        a.admin_domains = by_account[a.pk]  # type: ignore[attr-defined]


def list_account_aliases(scope: AdminScope, account: Account) -> list[Alias]:
    """Aliases in scope that deliver to `account` (its address among the targets). Filtered in
    Python: JSON containment is not portable to SQLite, and alias tables are small."""
    return [a for a in list_aliases(scope).order_by("source") if account.address in a.targets]


def list_relay_rules() -> QuerySet[RelayRule]:
    return RelayRule.objects.all()


def access_relay_rule(rule_id: int) -> RelayRule:
    rule = RelayRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFoundError(f"no access rule {rule_id}")
    return rule


def list_dkim_keys(domain: Domain) -> list[DkimKey]:
    """The domain's DKIM keys: active, then pending, then retired; newest first in each."""
    rank = {"active": 0, "pending": 1, "retired": 2}
    keys = DkimKey.objects.filter(domain=domain.name).order_by("-created_at", "-pk")[:200]
    return sorted(keys, key=lambda k: rank.get(k.state, 3))
