"""Alias endpoints (/etc/aliases): one → many targets, external forwards, system aliases such
as root@ and postmaster@, the catch-all '@domain'. Loops are refused when saved (409)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.directory.actions import canonical_alias_source, do_remove_alias, do_set_alias
from mailcore.directory.models import Alias
from mailcore.directory.roles import access_alias, access_domain, list_aliases
from webmail.adminconsole import serializers as s
from webmail.adminconsole.accounts import local_domain_names
from webmail.adminconsole.base import AdminListView, AdminView

NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="no such alias (or not yours)")
FORBIDDEN = OpenApiResponse(s.AdminDetailSerializer, description="not an administrator")
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
CONFLICT = OpenApiResponse(
    s.AdminDetailSerializer, description="exists already, shadows an account, or would loop"
)


class AliasListView(AdminListView):
    query_serializer = s.AdminAliasQuerySerializer
    page_serializer = s.AdminAliasPageSerializer
    page_key = "source"

    def rows(self, v: dict[str, Any]) -> QuerySet[Alias]:
        qs = list_aliases(self.scope)
        if v["domain"]:
            qs = qs.filter(domain=access_domain(self.scope, v["domain"]))
        if v["q"]:
            term = v["q"].strip().lower()
            # The JSON list serialised as text: a portable substring match on targets.
            qs = qs.filter(Q(source__icontains=term) | Q(targets__icontains=term))
        return qs

    def serializer_context(self) -> dict[str, Any]:
        return {"local_domains": local_domain_names(self)}

    @extend_schema(
        operation_id="admin_aliases_list",
        parameters=[s.AdminAliasQuerySerializer],
        responses={200: s.AdminAliasPageSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Sorted by source. q= matches the source or a target.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()

    @extend_schema(
        operation_id="admin_aliases_create",
        request=s.AdminAliasCreateSerializer,
        responses={
            201: s.AdminAliasSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="The source's domain must be one you administer (else 404). Targets may "
        "be local or external (forwarding).",
    )
    def post(self, request: Request) -> Response:
        v = self.body(s.AdminAliasCreateSerializer)
        _, alabel = canonical_alias_source(v["source"])
        access_domain(self.scope, alabel)
        alias = do_set_alias(v["source"], v["targets"], replace=False)
        self.audit("alias.create", alias.source, domain=alabel, targets=alias.targets)
        return self.answer(s.AdminAliasSerializer, alias, status=201)


class AliasDetailView(AdminView):
    def serializer_context(self) -> dict[str, Any]:
        return {"local_domains": local_domain_names(self)}

    @extend_schema(
        operation_id="admin_aliases_retrieve",
        responses={200: s.AdminAliasSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.answer(s.AdminAliasSerializer, access_alias(self.scope, pk))

    @extend_schema(
        operation_id="admin_aliases_update",
        request=s.AdminTargetsSerializer,
        responses={
            200: s.AdminAliasSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="Replaces the targets.",
    )
    def put(self, request: Request, pk: int) -> Response:
        alias = access_alias(self.scope, pk)
        v = self.body(s.AdminTargetsSerializer)
        before = list(alias.targets)
        alias = do_set_alias(alias.source, v["targets"], create=False)
        self.audit(
            "alias.update",
            alias.source,
            domain=alias.domain.name,
            before=before,
            targets=alias.targets,
        )
        return self.answer(s.AdminAliasSerializer, alias)

    @extend_schema(
        operation_id="admin_aliases_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        alias = access_alias(self.scope, pk)
        do_remove_alias(alias.source)
        return self.done(
            "alias.remove", alias.source, domain=alias.domain.name, targets=alias.targets
        )
