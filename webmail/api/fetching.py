"""External accounts of the signed-in user (issue 11 §7–9, Naver's "외부 메일 가져오기"): list
them with their last run, add, change and remove them (each add or change of the connection is
tested against the server first), and ask for a run now.

The password is write-only: no response carries it. A failed test is a 400 whose `error` is
`fetch_<reason>` (dns, refused, timeout, tls, certificate, login, private_target, plaintext …)
for the UI's own words, and whose `detail` carries the server's reply."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from mailcore.fetching.actions import (
    ExternalInput,
    do_create_external_account,
    do_delete_external_account,
    do_request_fetch,
    do_update_external_account,
)
from mailcore.fetching.models import ExternalAccount, Protocol, Security
from mailcore.fetching.queries import access_external_account, list_external_accounts
from webmail.accounts.current import current_account
from webmail.api.serializers import (
    ErrorSerializer,
    StrictBooleanField,
    StrictSerializer,
    ValidationErrorSerializer,
)
from webmail.api.throttles import SharedRateThrottle

INVALID = OpenApiResponse(
    ErrorSerializer,
    description="invalid input, or the connection test failed: error fetch_<reason> "
    "(dns, refused, timeout, network, tls, certificate, login, in_use, unavailable, "
    "private_target, plaintext, protocol, no_uidl), detail in words with the server's reply",
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such id (or not yours)")
CONFLICT = OpenApiResponse(ErrorSerializer, description="the per-user limit of accounts")


class ExternalAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    protocol = serializers.ChoiceField(choices=Protocol.values)
    host = serializers.CharField()
    port = serializers.IntegerField()
    security = serializers.ChoiceField(
        choices=Security.values,
        help_text="tls: implicit TLS (995/993); starttls: STLS/STARTTLS (110/143); none: "
        "plaintext, only where the administrator allows it",
    )
    username = serializers.CharField()
    folder_id = serializers.IntegerField(allow_null=True, help_text="target folder; null: INBOX")
    keep = serializers.BooleanField(help_text="leave a copy on the other server")
    interval_minutes = serializers.IntegerField()
    enabled = serializers.BooleanField()
    allow_self_signed = serializers.BooleanField()
    cert_sha256 = serializers.CharField(
        help_text="with allow_self_signed: the SHA-256 of the certificate trusted when saved"
    )
    running = serializers.BooleanField(help_text="a run is going on now")
    last_run_at = serializers.DateTimeField(allow_null=True)
    next_run_at = serializers.DateTimeField()
    last_fetched = serializers.IntegerField(help_text="messages that came in at the last run")
    total_fetched = serializers.IntegerField()
    last_error_code = serializers.CharField(
        help_text="reason of the last run's error or warning ('' = none): dns, refused, "
        "timeout, network, tls, certificate, login, in_use, unavailable, private_target, "
        "plaintext, protocol, no_uidl, over_quota, too_large, password_unreadable, storage, "
        "internal"
    )
    last_error_detail = serializers.CharField(help_text="the same in English words")


class ExternalAccountInputSerializer(StrictSerializer):
    protocol = serializers.ChoiceField(choices=Protocol.values)
    host = serializers.CharField(max_length=253)
    port = serializers.IntegerField(min_value=1, max_value=65535)
    security = serializers.ChoiceField(choices=Security.values, default=Security.TLS)
    username = serializers.CharField(max_length=255, trim_whitespace=False)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)
    folder_id = serializers.IntegerField(allow_null=True, required=False, default=None)
    keep = StrictBooleanField(default=True)
    interval_minutes = serializers.IntegerField(default=10, min_value=1, max_value=1440)
    enabled = StrictBooleanField(default=True)
    allow_self_signed = StrictBooleanField(default=False)


class ExternalAccountPatchSerializer(ExternalAccountInputSerializer):
    """Every field optional; an absent or empty password keeps the saved one."""

    password = serializers.CharField(
        max_length=1024, trim_whitespace=False, write_only=True, allow_blank=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.required = False
            f.default = serializers.empty


def _data(ext: ExternalAccount) -> dict[str, Any]:
    now = timezone.now()
    return ExternalAccountSerializer(
        {
            "id": ext.pk,
            "protocol": ext.protocol,
            "host": ext.host,
            "port": ext.port,
            "security": ext.security,
            "username": ext.username,
            "folder_id": ext.folder_id,
            "keep": ext.keep,
            "interval_minutes": ext.interval_minutes,
            "enabled": ext.enabled,
            "allow_self_signed": ext.allow_self_signed,
            "cert_sha256": ext.cert_sha256,
            "running": ext.running_until is not None and ext.running_until > now,
            "last_run_at": ext.last_run_at,
            "next_run_at": ext.next_run_at,
            "last_fetched": ext.last_fetched,
            "total_fetched": ext.total_fetched,
            "last_error_code": ext.last_error_code,
            "last_error_detail": ext.last_error_detail,
        }
    ).data


def _input(values: dict[str, Any]) -> ExternalInput:
    return ExternalInput(**{k: values[k] for k in ExternalInput.__dataclass_fields__})


class _Throttled(APIView):
    """Adding, changing and running accounts make this server connect to another one: they
    share the rate FETCH_API_RATE per client address (password guessing, probing)."""

    throttle_scope = "fetch"

    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return []
        return [SharedRateThrottle()]


class ExternalAccountListView(_Throttled):
    @extend_schema(
        operation_id="settings_fetch_accounts_list",
        responses={200: ExternalAccountSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response([_data(e) for e in list_external_accounts(current_account(request))])

    @extend_schema(
        operation_id="settings_fetch_accounts_create",
        request=ExternalAccountInputSerializer,
        responses={201: ExternalAccountSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
        description="Tests the connection (log in, look at INBOX, change nothing), then saves "
        "the account; its first run is queued at once.",
    )
    def post(self, request: Request) -> Response:
        data = ExternalAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ext = do_create_external_account(
            acting_account=current_account(request), data=_input(data.validated_data)
        )
        return Response(_data(ext), status=status.HTTP_201_CREATED)


class ExternalAccountDetailView(_Throttled):
    @extend_schema(
        operation_id="settings_fetch_accounts_retrieve",
        responses={200: ExternalAccountSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_data(access_external_account(current_account(request), pk)))

    @extend_schema(
        operation_id="settings_fetch_accounts_partial_update",
        request=ExternalAccountPatchSerializer,
        responses={
            200: ExternalAccountSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description=INVALID.description),
            404: NOT_FOUND,
        },
        description="A change of where or how it connects, or a new password, is tested "
        "first; another protocol, host or user forgets what was taken from the old mailbox.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        ext = access_external_account(account, pk)
        data = ExternalAccountPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merged = {
            "protocol": ext.protocol,
            "host": ext.host,
            "port": ext.port,
            "security": ext.security,
            "username": ext.username,
            "password": "",
            "folder_id": ext.folder_id,
            "keep": ext.keep,
            "interval_minutes": ext.interval_minutes,
            "enabled": ext.enabled,
            "allow_self_signed": ext.allow_self_signed,
            **data.validated_data,
        }
        ext = do_update_external_account(acting_account=account, external=ext, data=_input(merged))
        return Response(_data(ext))

    @extend_schema(
        operation_id="settings_fetch_accounts_destroy",
        responses={204: OpenApiResponse(description="removed"), 404: NOT_FOUND},
        description="Forgets the account; mail fetched from it stays.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        do_delete_external_account(
            acting_account=account, external=access_external_account(account, pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExternalAccountRunsView(_Throttled):
    @extend_schema(
        operation_id="settings_fetch_accounts_runs_create",
        request=None,
        responses={202: ExternalAccountSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Fetch now: a run is queued (one that is going on already is not doubled). "
        "Its outcome shows in last_run_at, last_fetched and last_error_* when it is done.",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        ext = do_request_fetch(
            acting_account=account, external=access_external_account(account, pk)
        )
        return Response(_data(ext), status=status.HTTP_202_ACCEPTED)
