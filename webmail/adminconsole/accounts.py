"""Account endpoints: list, create, change (name, quota, enabled, roles), set or reset the
password, remove; the account's app passwords and aliases. A domain admin works only on
accounts of its domains and never on accounts with more rights than its own (403)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.addresses import canonical_domain, split_address
from mailcore.directory.actions import (
    do_add_alias,
    do_create_account,
    do_create_app_password,
    do_remove_account,
    do_revoke_app_password,
    do_set_admin_domains,
    do_set_password,
    do_update_account,
    generate_password,
)
from mailcore.directory.models import Account
from mailcore.directory.queries import list_app_passwords
from mailcore.directory.reports import accounts_with_usage
from mailcore.directory.roles import (
    access_account,
    access_domain,
    attach_admin_domains,
    check_may_manage_account,
    list_account_aliases,
    list_domains,
)
from mailcore.errors import ConflictError, InvalidAddressError
from webmail.accounts.actions import do_logout_everywhere
from webmail.adminconsole import serializers as s
from webmail.adminconsole.base import AdminListView, AdminView

NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="no such account (or not yours)")
FORBIDDEN = OpenApiResponse(
    s.AdminDetailSerializer, description="not an administrator, or the account outranks you"
)
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
CONFLICT = OpenApiResponse(s.AdminDetailSerializer, description="conflicts with existing data")


def _check_password(password: str, account: Account | None = None) -> None:
    try:
        validate_password(password, account)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"password": get_error_detail(exc)}) from exc


def _password_or_generated(given: str | None, account: Account | None = None) -> tuple[str, bool]:
    """The password to set (the given one, else a generated one) after the validators, and
    whether it was generated (then the response carries it, once)."""
    password = given if given is not None else generate_password()
    _check_password(password, account)
    return password, given is None


def _managed(view: AdminView, pk: int) -> Account:
    """The account `pk` if in scope (else 404) and not outranking the admin (else 403)."""
    account = access_account(view.scope, pk)
    check_may_manage_account(view.scope, account)
    return account


def _one(view: AdminView, pk: int) -> Account:
    account = accounts_with_usage(view.scope).get(pk=pk)
    attach_admin_domains([account])
    return account


def _domain_of(address: str) -> str:
    try:
        return canonical_domain(split_address(address)[1])
    except InvalidAddressError:
        return ""


class AccountListView(AdminListView):
    query_serializer = s.AdminAccountQuerySerializer
    page_serializer = s.AdminAccountPageSerializer
    page_key = "address"

    def rows(self, v: dict[str, Any]) -> QuerySet[Any]:
        qs = accounts_with_usage(self.scope)
        if v["domain"]:
            qs = qs.filter(domain=access_domain(self.scope, v["domain"]))
        if v["q"]:
            term = v["q"].strip()
            qs = qs.filter(Q(address__icontains=term.lower()) | Q(display_name__icontains=term))
        if v["active"] is not None:
            qs = qs.filter(is_active=v["active"])
        return qs

    def on_page(self, items: list[Any]) -> list[Any]:
        attach_admin_domains(items)
        return items

    @extend_schema(
        operation_id="admin_accounts_list",
        parameters=[s.AdminAccountQuerySerializer],
        responses={200: s.AdminAccountPageSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Sorted by address. domain= filters one domain (404 if not yours); "
        "q= matches address or display name.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()

    @extend_schema(
        operation_id="admin_accounts_create",
        request=s.AdminAccountCreateSerializer,
        responses={
            201: s.AdminAccountCreatedSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="Creates the account with its Maildir and default folders. Without a "
        "password one is generated and returned once. 404 when the domain is not yours.",
    )
    def post(self, request: Request) -> Response:
        v = self.body(s.AdminAccountCreateSerializer)
        alabel = _domain_of(v["address"])
        if not alabel:
            raise InvalidAddressError(f"invalid address {v['address']!r}")
        access_domain(self.scope, alabel)
        password, generated = _password_or_generated(v.get("password"))
        account = do_create_account(
            v["address"],
            password=password,
            display_name=v["display_name"],
            quota_bytes=v.get("quota_bytes"),
        )
        if not v["is_active"]:
            do_update_account(account, is_active=False)
        self.audit(
            "account.create",
            account.address,
            domain=account.domain.name,
            quota_bytes=account.quota_bytes,
            is_active=v["is_active"],
            generated_password=generated,
        )
        out = s.AdminAccountCreatedSerializer(_one(self, account.pk)).data
        out["password"] = password if generated else None
        return Response(out, status=status.HTTP_201_CREATED)


class AccountDetailView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_retrieve",
        responses={200: s.AdminAccountSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        access_account(self.scope, pk)
        return self.answer(s.AdminAccountSerializer, _one(self, pk))

    @extend_schema(
        operation_id="admin_accounts_update",
        request=s.AdminAccountUpdateSerializer,
        responses={
            200: s.AdminAccountSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="Any subset. is_superadmin and admin_domains: superadmin only. Nobody can "
        "disable or demote their own account (409).",
    )
    def patch(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        v = self.body(s.AdminAccountUpdateSerializer)
        if ("is_superadmin" in v or "admin_domains" in v) and not self.scope.is_superadmin:
            raise exceptions.PermissionDenied("Only a superadmin may change roles.")
        if account.pk == self.scope.account.pk and (
            v.get("is_active") is False or v.get("is_superadmin") is False
        ):
            raise ConflictError("you cannot disable or demote your own account", code="own_account")
        do_update_account(
            account,
            display_name=v.get("display_name"),
            quota_bytes=v.get("quota_bytes"),
            is_active=v.get("is_active"),
            is_staff=v.get("is_superadmin"),
        )
        if "admin_domains" in v:
            domains = do_set_admin_domains(account, v["admin_domains"])
            v["admin_domains"] = [d.name for d in domains]
        self.audit("account.update", account.address, domain=account.domain.name, **v)
        return self.answer(s.AdminAccountSerializer, _one(self, pk))

    @extend_schema(
        operation_id="admin_accounts_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        description="Removes the account's rows; its Maildir stays on disk (userdel without -r).",
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        if account.pk == self.scope.account.pk:
            raise ConflictError("you cannot remove your own account", code="own_account")
        do_remove_account(account.address)
        return self.done("account.remove", account.address, domain=account.domain.name)


class AccountPasswordView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_password",
        request=s.AdminPasswordSetSerializer,
        responses={
            200: s.AdminPasswordResultSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        description="Sets the given password, or (without one) generates and returns a new "
        "one. Either way the account's sessions, API token and app passwords are revoked.",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        v = self.body(s.AdminPasswordSetSerializer)
        password, generated = _password_or_generated(v.get("password"), account)
        do_set_password(account.address, password)
        do_logout_everywhere(acting_account=account)
        self.audit(
            "account.password", account.address, domain=account.domain.name, generated=generated
        )
        result = {"password": password if generated else None}
        return self.answer(s.AdminPasswordResultSerializer, result)


class AppPasswordListView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_app_passwords_list",
        responses={200: s.AdminAppPasswordSerializer(many=True), 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        account = access_account(self.scope, pk)
        return Response(s.AdminAppPasswordSerializer(list_app_passwords(account), many=True).data)

    @extend_schema(
        operation_id="admin_accounts_app_passwords_create",
        request=s.AdminAppPasswordCreateSerializer,
        responses={
            201: s.AdminAppPasswordCreatedSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="For an IMAP/POP3/SMTP client; the password is in this response only.",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        v = self.body(s.AdminAppPasswordCreateSerializer)
        row, secret = do_create_app_password(account, v["name"])
        self.audit(
            "app_password.create",
            account.address,
            domain=account.domain.name,
            name=row.name,
            id=row.pk,
        )
        out = {"id": row.pk, "name": row.name, "created_at": row.created_at, "password": secret}
        return self.answer(s.AdminAppPasswordCreatedSerializer, out, status=201)


class AppPasswordDetailView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_app_passwords_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int, app_password_id: int) -> Response:
        account = _managed(self, pk)
        do_revoke_app_password(account, app_password_id)
        return self.done(
            "app_password.revoke", account.address, domain=account.domain.name, id=app_password_id
        )


def local_domain_names(view: AdminView) -> set[str]:
    return set(list_domains(view.scope).values_list("name", flat=True))


class AccountAliasesView(AdminView):
    def serializer_context(self) -> dict[str, Any]:
        return {"local_domains": local_domain_names(self)}

    @extend_schema(
        operation_id="admin_accounts_aliases_list",
        responses={200: s.AdminAliasListSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Aliases (that you administer) delivering to this account.",
    )
    def get(self, request: Request, pk: int) -> Response:
        account = access_account(self.scope, pk)
        aliases = list_account_aliases(self.scope, account)
        return self.answer(s.AdminAliasListSerializer, {"items": aliases})

    @extend_schema(
        operation_id="admin_accounts_aliases_create",
        request=s.AdminAccountAliasCreateSerializer,
        responses={
            201: s.AdminAliasSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="Adds this account to the alias `source` (created if new). The alias's "
        "domain must be one you administer (else 404).",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = access_account(self.scope, pk)
        source = self.body(s.AdminAccountAliasCreateSerializer)["source"]
        alabel = _domain_of(source) if not source.startswith("@") else source[1:]
        if not alabel:
            raise InvalidAddressError(f"invalid address {source!r}")
        access_domain(self.scope, alabel)
        alias = do_add_alias(source, [account.address])
        self.audit(
            "alias.add_target", alias.source, domain=alias.domain.name, targets=[account.address]
        )
        return self.answer(s.AdminAliasSerializer, alias, status=201)
