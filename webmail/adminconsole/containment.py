"""Containment in the admin console (mailcore.delivery.containment): the held senders, their
release or the deletion of their held mail, an admin's own hold, and the sending-policy
overrides per account and per domain. Every object goes through the admin's scope: another
domain's account answers 404; nobody releases or exempts their own account."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.delivery import containment
from mailcore.delivery.models import HoldReason, SendingOverride, SendingState
from mailcore.directory.models import Account
from mailcore.directory.roles import access_account, access_domain, check_may_manage_account
from mailcore.errors import AdminForbiddenError
from webmail.adminconsole import serializers as s
from webmail.adminconsole.base import AdminListView, AdminView

FORBIDDEN = OpenApiResponse(s.AdminDetailSerializer, description="not allowed")
NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="not found (or not yours)")
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")


# --- shapes --------------------------------------------------------------------------------------


class AdminSendingHeldQuerySerializer(s.AdminPageQuerySerializer):
    domain = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")


class AdminSendingHeldSenderSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    address = serializers.CharField()
    reason = serializers.ChoiceField(choices=HoldReason.choices)
    detail = serializers.CharField()
    held_at = serializers.DateTimeField()
    held_messages = serializers.IntegerField(help_text="paused queue entries")
    held_recipients = serializers.IntegerField()


class AdminSendingHeldPageSerializer(serializers.Serializer):
    items = AdminSendingHeldSenderSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminSendingReleaseResultSerializer(serializers.Serializer):
    released = serializers.IntegerField(help_text="entries queued again")


class AdminSendingDeleteHeldSerializer(serializers.Serializer):
    queue_ids = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        allow_null=True,
        default=None,
        max_length=10000,
        help_text="only these held entries; absent = every held entry of the account",
    )


class AdminSendingDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class AdminSendingHoldSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class AdminSendingPolicyInputSerializer(serializers.Serializer):
    exempt = serializers.BooleanField(default=False)
    burst_limit = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=1_000_000
    )
    daily_limit = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=10_000_000
    )


class AdminSendingOverrideSerializer(serializers.Serializer):
    exempt = serializers.BooleanField()
    burst_limit = serializers.IntegerField(allow_null=True)
    daily_limit = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()
    updated_by = serializers.CharField()


class AdminSendingEffectiveSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=("account", "domain", "default"), help_text="where the policy comes from"
    )
    exempt = serializers.BooleanField()
    daily_limit = serializers.IntegerField(help_text="0 = none")
    window_seconds = serializers.IntegerField()
    burst_messages = serializers.IntegerField()
    burst_recipients = serializers.IntegerField()
    norm_messages = serializers.IntegerField(help_text="busiest hour of the recent history")
    norm_recipients = serializers.IntegerField()


class AdminSendingAccountPolicySerializer(serializers.Serializer):
    override = AdminSendingOverrideSerializer(allow_null=True)
    effective = AdminSendingEffectiveSerializer()
    held = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)
    held_at = serializers.DateTimeField(allow_null=True)


class AdminSendingDomainPolicySerializer(serializers.Serializer):
    override = AdminSendingOverrideSerializer(allow_null=True)


# --- helpers -------------------------------------------------------------------------------------


def _not_self(view: AdminView, account: Account, what: str) -> None:
    if account.pk == view.scope.account.pk:
        raise AdminForbiddenError(f"another administrator must {what} your own account")


def _managed(view: AdminView, pk: int) -> Account:
    account = access_account(view.scope, pk)
    check_may_manage_account(view.scope, account)
    return account


def _account_policy(account: Account) -> dict[str, Any]:
    limits = containment.limits_for(account)
    bar = containment.threshold_for(account, limits)
    state = containment.state_of(account)
    held = state is not None and state.held_at is not None
    return {
        "override": containment.get_override(account=account),
        "effective": {
            "level": limits.source,
            "exempt": limits.exempt,
            "daily_limit": limits.daily,
            "window_seconds": settings.CONTAIN_WINDOW_SECONDS,
            "burst_messages": bar.messages,
            "burst_recipients": bar.recipients,
            "norm_messages": bar.norm_messages,
            "norm_recipients": bar.norm_recipients,
        },
        "held": held,
        "reason": state.reason if held and state else "",
        "detail": state.detail if held and state else "",
        "held_at": state.held_at if held and state else None,
    }


def _override_detail(o: SendingOverride) -> dict[str, Any]:
    return {"exempt": o.exempt, "burst_limit": o.burst_limit, "daily_limit": o.daily_limit}


# --- views ---------------------------------------------------------------------------------------


class HeldSenderListView(AdminListView):
    query_serializer = AdminSendingHeldQuerySerializer
    page_serializer = AdminSendingHeldPageSerializer
    page_key = "id"

    def rows(self, v: dict[str, Any]) -> QuerySet[SendingState]:
        return containment.held_states(self.scope, domain=v["domain"].strip().lower())

    def on_page(self, items: list[Any]) -> list[Any]:
        counts = containment.held_counts([st.account_id for st in items])
        return [
            {
                "account_id": st.account_id,
                "address": st.account.address,
                "reason": st.reason,
                "detail": st.detail,
                "held_at": st.held_at,
                "held_messages": counts[st.account_id][0],
                "held_recipients": counts[st.account_id][1],
            }
            for st in items
        ]

    @extend_schema(
        operation_id="admin_sending_holds_list",
        parameters=[AdminSendingHeldQuerySerializer],
        responses={200: AdminSendingHeldPageSerializer, 403: FORBIDDEN},
        description="Accounts whose sending is held (containment), with their paused mail.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()


class HeldReleaseView(AdminView):
    @extend_schema(
        operation_id="admin_sending_holds_release",
        request=None,
        responses={200: AdminSendingReleaseResultSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="The held mail goes out (queued again) and the account's counters start "
        "afresh. Nobody releases their own account.",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        _not_self(self, account, "release")
        released = containment.do_release_account(account, actor=self.scope.actor)
        self.audit(
            "sending.release",
            account.address,
            domain=account.domain.name,
            released=len(released),
            queue_ids=released[:1000],
        )
        return self.answer(AdminSendingReleaseResultSerializer, {"released": len(released)})


class HeldDeleteView(AdminView):
    @extend_schema(
        operation_id="admin_sending_holds_delete",
        request=AdminSendingDeleteHeldSerializer,
        responses={
            200: AdminSendingDeleteResultSerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        description="Delete the account's held mail (or the listed entries of it), no DSN; "
        "one audit row per deleted message. The account stays held.",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        v = self.body(AdminSendingDeleteHeldSerializer)
        deleted = containment.do_delete_held(account, queue_ids=v["queue_ids"])
        for queue_id in deleted:
            self.audit(
                "sending.delete_held", queue_id, domain=account.domain.name, account=account.address
            )
        return self.answer(AdminSendingDeleteResultSerializer, {"deleted": len(deleted)})


class AccountHoldView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_hold",
        request=AdminSendingHoldSerializer,
        responses={200: AdminSendingAccountPolicySerializer, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Hold the account's sending now (its queued mail pauses).",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        v = self.body(AdminSendingHoldSerializer)
        detail = v["detail"] or f"held by {self.scope.actor}"
        if containment.do_hold_account(account, reason=HoldReason.ADMIN, detail=detail):
            self.audit("sending.hold", account.address, domain=account.domain.name, detail=detail)
        return self.answer(AdminSendingAccountPolicySerializer, _account_policy(account))


class AccountPolicyView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_sending_policy",
        responses={200: AdminSendingAccountPolicySerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return self.answer(
            AdminSendingAccountPolicySerializer, _account_policy(access_account(self.scope, pk))
        )

    @extend_schema(
        operation_id="admin_accounts_sending_policy_set",
        request=AdminSendingPolicyInputSerializer,
        responses={
            200: AdminSendingAccountPolicySerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        description="Override the containment policy for this account: exempt, or a fixed "
        "burst limit (messages per window) and daily limit (0 = none). Not your own account.",
    )
    def put(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        _not_self(self, account, "change the sending policy of")
        v = self.body(AdminSendingPolicyInputSerializer)
        o = containment.do_set_override(account=account, actor=self.scope.actor, **v)
        self.audit(
            "sending.policy", account.address, domain=account.domain.name, **_override_detail(o)
        )
        return self.answer(AdminSendingAccountPolicySerializer, _account_policy(account))

    @extend_schema(
        operation_id="admin_accounts_sending_policy_clear",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = _managed(self, pk)
        _not_self(self, account, "change the sending policy of")
        containment.do_remove_override(account=account)
        return self.done("sending.policy_clear", account.address, domain=account.domain.name)


class DomainPolicyView(AdminView):
    @extend_schema(
        operation_id="admin_domains_sending_policy",
        responses={200: AdminSendingDomainPolicySerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        override = containment.get_override(domain_id=domain.pk)
        return self.answer(AdminSendingDomainPolicySerializer, {"override": override})

    @extend_schema(
        operation_id="admin_domains_sending_policy_set",
        request=AdminSendingPolicyInputSerializer,
        responses={
            200: AdminSendingDomainPolicySerializer,
            400: INVALID,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        description="Superadmin only: the containment policy of every account of the domain "
        "that has no override of its own.",
    )
    def put(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        self.require_superadmin()
        v = self.body(AdminSendingPolicyInputSerializer)
        o = containment.do_set_override(domain_id=domain.pk, actor=self.scope.actor, **v)
        self.audit("sending.policy", domain.name, domain=domain.name, **_override_detail(o))
        return self.answer(AdminSendingDomainPolicySerializer, {"override": o})

    @extend_schema(
        operation_id="admin_domains_sending_policy_clear",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        self.require_superadmin()
        containment.do_remove_override(domain_id=domain.pk)
        return self.done("sending.policy_clear", domain.name, domain=domain.name)
