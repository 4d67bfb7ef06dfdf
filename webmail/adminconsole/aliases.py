"""Alias endpoints (/etc/aliases): one → many targets, external forwards, system aliases such
as root@ and postmaster@, the catch-all '@domain'. Loops are refused when saved (409)."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.directory.actions import canonical_alias_source, do_remove_alias, do_set_alias
from mailcore.directory.roles import access_alias, access_domain, list_aliases
from webmail.adminconsole import serializers as s
from webmail.adminconsole.accounts import local_domain_names
from webmail.adminconsole.base import AdminView, keyset_page

NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="no such alias (or not yours)")
FORBIDDEN = OpenApiResponse(s.AdminDetailSerializer, description="not an administrator")
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
CONFLICT = OpenApiResponse(
    s.AdminDetailSerializer, description="exists already, shadows an account, or would loop"
)


class AliasListView(AdminView):
    @extend_schema(
        operation_id="admin_aliases_list",
        parameters=[s.AdminAliasQuerySerializer],
        responses={200: s.AdminAliasPageSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Sorted by source. q= matches the source or a target.",
    )
    def get(self, request: Request) -> Response:
        q = s.AdminAliasQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        v = q.validated_data
        qs = list_aliases(self.scope)
        if v["domain"]:
            qs = qs.filter(domain=access_domain(self.scope, v["domain"]))
        if v["q"]:
            term = v["q"].strip().lower()
            # The JSON list serialised as text: a portable substring match on targets.
            qs = qs.filter(Q(source__icontains=term) | Q(targets__icontains=term))
        items, cursor = keyset_page(
            qs, key="source", descending=False, cursor=v["cursor"], limit=v["limit"]
        )
        ctx = {"local_domains": local_domain_names(self)}
        return Response(
            s.AdminAliasPageSerializer({"items": items, "next_cursor": cursor}, context=ctx).data
        )

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
        data = s.AdminAliasCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, alabel = canonical_alias_source(data.validated_data["source"])
        access_domain(self.scope, alabel)
        alias = do_set_alias(
            data.validated_data["source"], data.validated_data["targets"], replace=False
        )
        self.audit("alias.create", alias.source, domain=alabel, targets=alias.targets)
        ctx = {"local_domains": local_domain_names(self)}
        return Response(
            s.AdminAliasSerializer(alias, context=ctx).data, status=status.HTTP_201_CREATED
        )


class AliasDetailView(AdminView):
    @extend_schema(
        operation_id="admin_aliases_retrieve",
        responses={200: s.AdminAliasSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        alias = access_alias(self.scope, pk)
        ctx = {"local_domains": local_domain_names(self)}
        return Response(s.AdminAliasSerializer(alias, context=ctx).data)

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
        data = s.AdminTargetsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        before = list(alias.targets)
        alias = do_set_alias(alias.source, data.validated_data["targets"], create=False)
        self.audit(
            "alias.update",
            alias.source,
            domain=alias.domain.name,
            before=before,
            targets=alias.targets,
        )
        ctx = {"local_domains": local_domain_names(self)}
        return Response(s.AdminAliasSerializer(alias, context=ctx).data)

    @extend_schema(
        operation_id="admin_aliases_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        alias = access_alias(self.scope, pk)
        do_remove_alias(alias.source)
        self.audit("alias.remove", alias.source, domain=alias.domain.name, targets=alias.targets)
        return Response(status=status.HTTP_204_NO_CONTENT)
