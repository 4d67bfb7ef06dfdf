"""Admin console, 2단계 인증: require a second factor for a domain's users, and reset a user's
factors (a lost phone). Both audited; a domain admin may do both within its domains."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.directory.roles import access_domain
from mailcore.directory.twofactor import do_require_second_factor, do_reset_factors
from webmail.adminconsole import serializers as s
from webmail.adminconsole.accounts import FORBIDDEN, NOT_FOUND, _managed
from webmail.adminconsole.base import AdminView


class DomainSecondFactorSerializer(serializers.Serializer):
    require_second_factor = serializers.BooleanField()


class FactorsResetSerializer(serializers.Serializer):
    totp = serializers.IntegerField(help_text="authenticator apps removed (0 or 1)")
    passkeys = serializers.IntegerField()
    recovery_codes = serializers.IntegerField()


class DomainSecondFactorView(AdminView):
    @extend_schema(
        operation_id="admin_domains_second_factor",
        request=DomainSecondFactorSerializer,
        responses={200: DomainSecondFactorSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Require 2단계 인증 for the domain's users: from their next web login, "
        "those without a factor must enrol one before reaching mail.",
    )
    def put(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        required = self.body(DomainSecondFactorSerializer)["require_second_factor"]
        do_require_second_factor(domain.name, required)
        self.audit("domain.second_factor", domain.name, domain=domain.name, required=required)
        return Response(DomainSecondFactorSerializer({"require_second_factor": required}).data)


class AccountSecondFactorView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_second_factor_reset",
        request=None,
        responses={
            200: FactorsResetSerializer,
            403: FORBIDDEN,
            404: OpenApiResponse(s.AdminDetailSerializer, description="no such account"),
        },
        description="Remove the account's authenticator app, passkeys and recovery codes "
        "(a lost phone), and sign it out everywhere; it signs in with the password alone "
        "(and enrols again if its domain requires).",
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        removed = do_reset_factors(account)  # signs it out everywhere once committed
        self.audit(
            "account.second_factor_reset", account.address, domain=account.domain.name, **removed
        )
        return Response(FactorsResetSerializer(removed).data)
