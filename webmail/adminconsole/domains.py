"""Domain endpoints: list, add and remove (superadmin), enable/disable (superadmin), the
catch-all, the mail policies (recall, forwarding outside), DKIM keys with their DNS records,
and the DNS check. A domain admin sees only its
domains; any other name answers 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.delivery.dkim import dns_record as dkim_dns_record
from mailcore.delivery.dkim import do_activate_dkim_key, do_generate_dkim_key, txt_value
from mailcore.delivery.models import DkimAlgorithm, DkimKey
from mailcore.directory.actions import (
    do_create_domain,
    do_remove_alias,
    do_remove_domain,
    do_set_alias,
    do_set_domain_active,
)
from mailcore.directory.dnscheck import check_domain_dns
from mailcore.directory.models import Domain
from mailcore.directory.roles import access_domain, attach_catchalls, domains_with_counts
from mailcore.outbox.actions import do_set_recall_policy
from mailcore.outbox.queries import domain_recall_policy
from mailcore.rules.actions import do_set_forward_policy
from mailcore.rules.queries import domain_forward_policy
from webmail.adminconsole import serializers as s
from webmail.adminconsole.base import AdminListView, AdminView

NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="no such domain (or not yours)")
FORBIDDEN = OpenApiResponse(
    s.AdminDetailSerializer, description="not an administrator (or not a superadmin)"
)
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
CONFLICT = OpenApiResponse(s.AdminDetailSerializer, description="conflicts with existing data")


OPTIONAL_CHECKS = ("srv", "mta-sts", "tlsrpt")


def _one(view: AdminView, name: str) -> object:
    domain = access_domain(view.scope, name)
    annotated = domains_with_counts(view.scope).get(pk=domain.pk)
    attach_catchalls([annotated])
    return annotated


class DomainListView(AdminListView):
    query_serializer = s.AdminDomainQuerySerializer
    page_serializer = s.AdminDomainPageSerializer
    page_key = "name"

    def rows(self, v: dict[str, Any]) -> QuerySet[Domain]:
        qs = domains_with_counts(self.scope)
        if v["q"]:
            qs = qs.filter(name__icontains=v["q"].strip().lower())
        return qs

    def on_page(self, items: list[Any]) -> list[Any]:
        attach_catchalls(items)
        return items

    @extend_schema(
        operation_id="admin_domains_list",
        parameters=[s.AdminDomainQuerySerializer],
        responses={200: s.AdminDomainPageSerializer, 403: FORBIDDEN},
    )
    def get(self, request: Request) -> Response:
        return self.list_page()

    @extend_schema(
        operation_id="admin_domains_create",
        request=s.AdminDomainCreateSerializer,
        responses={201: s.AdminDomainSerializer, 400: INVALID, 403: FORBIDDEN, 409: CONFLICT},
        description="Superadmin only.",
    )
    def post(self, request: Request) -> Response:
        self.require_superadmin()
        domain = do_create_domain(self.body(s.AdminDomainCreateSerializer)["name"])
        self.audit("domain.create", domain.name, domain=domain.name)
        return self.answer(s.AdminDomainSerializer, _one(self, domain.name), status=201)


class DomainDetailView(AdminView):
    @extend_schema(
        operation_id="admin_domains_retrieve",
        responses={200: s.AdminDomainSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> Response:
        return self.answer(s.AdminDomainSerializer, _one(self, name))

    @extend_schema(
        operation_id="admin_domains_update",
        request=s.AdminDomainUpdateSerializer,
        responses={200: s.AdminDomainSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Superadmin only: a disabled domain receives no mail.",
    )
    def patch(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        self.require_superadmin()
        active = self.body(s.AdminDomainUpdateSerializer)["is_active"]
        do_set_domain_active(domain.name, active)
        self.audit("domain.update", domain.name, domain=domain.name, is_active=active)
        return self.answer(s.AdminDomainSerializer, _one(self, domain.name))

    @extend_schema(
        operation_id="admin_domains_destroy",
        parameters=[s.AdminDomainDeleteQuerySerializer],
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        description="Superadmin only. Refused (409) while the domain has accounts, unless "
        "force=true (then its accounts go too; their Maildirs stay on disk).",
    )
    def delete(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        self.require_superadmin()
        force = self.query(s.AdminDomainDeleteQuerySerializer)["force"]
        do_remove_domain(domain.name, force=force)
        return self.done("domain.remove", domain.name, domain=domain.name, force=force)


def _policy(domain: Domain) -> dict[str, object]:
    return {
        "recall_enabled": domain_recall_policy(domain.pk),
        "recall_default": bool(settings.OUTBOX_RECALL_ENABLED),
        "forward_outside": domain_forward_policy(domain.pk),
        "forward_outside_default": bool(settings.RULES_FORWARD_OUTSIDE),
    }


class DomainPolicyView(AdminView):
    @extend_schema(
        operation_id="admin_domains_policy_retrieve",
        responses={200: s.AdminDomainPolicySerializer, 404: NOT_FOUND},
        description="The domain's mail policies: recall (발송취소) and forwarding outside the "
        "domain (자동전달); null means the server default applies.",
    )
    def get(self, request: Request, name: str) -> Response:
        return self.answer(s.AdminDomainPolicySerializer, _policy(access_domain(self.scope, name)))

    @extend_schema(
        operation_id="admin_domains_policy_update",
        request=s.AdminDomainPolicyUpdateSerializer,
        responses={200: s.AdminDomainPolicySerializer, 400: INVALID, 404: NOT_FOUND},
        description="Change either policy (null = back to the server default). A domain "
        "admin may set their own domains'. Forwarding already set up is checked again at "
        "delivery, so forbidding it stops forwards outside at once.",
    )
    def patch(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        v = self.body(s.AdminDomainPolicyUpdateSerializer)
        if "recall_enabled" in v:
            do_set_recall_policy(domain=domain, enabled=v["recall_enabled"])
        if "forward_outside" in v:
            do_set_forward_policy(domain=domain, allowed=v["forward_outside"])
        self.audit("domain.policy", domain.name, domain=domain.name, **v)
        return self.answer(s.AdminDomainPolicySerializer, _policy(domain))


class CatchallView(AdminView):
    @extend_schema(
        operation_id="admin_domains_catchall_set",
        request=s.AdminTargetsSerializer,
        responses={200: s.AdminCatchallSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
        description="Mail to unknown addresses of the domain goes to these targets.",
    )
    def put(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        targets = self.body(s.AdminTargetsSerializer)["targets"]
        alias = do_set_alias(f"@{domain.name}", targets)
        self.audit("domain.catchall", alias.source, domain=domain.name, targets=alias.targets)
        return self.answer(s.AdminCatchallSerializer, alias)

    @extend_schema(
        operation_id="admin_domains_catchall_destroy",
        responses={204: None, 404: NOT_FOUND},
    )
    def delete(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        do_remove_alias(f"@{domain.name}")
        return self.done("domain.catchall_remove", f"@{domain.name}", domain=domain.name)


def _key_data(key: DkimKey) -> dict[str, object]:
    return {
        "selector": key.selector,
        "algorithm": key.algorithm,
        "state": key.state,
        "is_active": key.is_active,
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "dns_name": f"{key.selector}._domainkey.{key.domain}",
        "dns_value": txt_value(key),
        "dns_record": dkim_dns_record(key),
    }


class DkimView(AdminView):
    @extend_schema(
        operation_id="admin_domains_dkim_list",
        responses={200: s.AdminDkimListSerializer, 404: NOT_FOUND},
        description="The domain's DKIM keys (active first) and the TXT records to publish.",
    )
    def get(self, request: Request, name: str) -> Response:
        from mailcore.directory.roles import list_dkim_keys

        domain = access_domain(self.scope, name)
        keys = [_key_data(k) for k in list_dkim_keys(domain)]
        return self.answer(s.AdminDkimListSerializer, {"keys": keys})

    @extend_schema(
        operation_id="admin_domains_dkim_create",
        request=s.AdminDkimCreateSerializer,
        responses={201: s.AdminDkimKeySerializer, 400: INVALID, 404: NOT_FOUND},
        description="A new signing key (RSA-2048 or ed25519). The domain's first key of the "
        "algorithm signs at once; otherwise the new key is pending: the active key keeps "
        "signing while dns_record is published beside it, until the new key is activated.",
    )
    def post(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        v = self.body(s.AdminDkimCreateSerializer)
        algorithm = DkimAlgorithm.ED25519 if v["algorithm"] == "ed25519" else DkimAlgorithm.RSA
        key = do_generate_dkim_key(domain.name, algorithm=algorithm)
        self.audit(
            "dkim.generate",
            domain.name,
            domain=domain.name,
            selector=key.selector,
            algorithm=key.algorithm,
            state=key.state,
        )
        return self.answer(s.AdminDkimKeySerializer, _key_data(key), status=201)


class DkimActivateView(AdminView):
    @extend_schema(
        operation_id="admin_domains_dkim_activate",
        request=s.AdminDkimActivateSerializer,
        responses={
            200: s.AdminDkimActivationSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: OpenApiResponse(
                s.AdminDetailSerializer,
                description="the key is not pending, or DNS does not show its record yet "
                "(detail says what DNS answered); force=true overrides the DNS check",
            ),
        },
        description="Sign with this pending key from now on; the active key of its algorithm "
        "is retired. Refused until the DNS check sees the key's record, unless force.",
    )
    def post(self, request: Request, name: str, selector: str) -> Response:
        domain = access_domain(self.scope, name)
        force = self.body(s.AdminDkimActivateSerializer)["force"]
        done = do_activate_dkim_key(domain.name, selector, force=force)
        self.audit(
            "dkim.activate",
            f"{done.key.selector}._domainkey.{domain.name}",
            domain=domain.name,
            selector=done.key.selector,
            retired=done.retired,
            forced=done.forced,
        )
        body = {"key": _key_data(done.key), "retired": done.retired, "forced": done.forced}
        return self.answer(s.AdminDkimActivationSerializer, body)


class DnsCheckView(AdminView):
    @extend_schema(
        operation_id="admin_domains_dns_check",
        responses={200: s.AdminDnsReportSerializer, 404: NOT_FOUND},
        description="Looks up MX, SPF, DKIM and DMARC now and says which records are missing "
        "or wrong, with the value to publish. 'error' means the lookup itself failed.",
    )
    def get(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        checks = check_domain_dns(domain.name)
        report = {
            "domain": domain.name,
            "hostname": settings.MAIL_HOSTNAME,
            # SRV records (RFC 6186) help mail apps set themselves up; mail flows without.
            # So do MTA-STS and TLS-RPT (RFC 8461, 8460): they harden it.
            "ok": all(c.status == "ok" for c in checks if c.kind not in OPTIONAL_CHECKS),
            "checks": checks,
        }
        return self.answer(s.AdminDnsReportSerializer, report)
