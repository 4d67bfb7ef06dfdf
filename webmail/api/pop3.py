"""POP3 settings of the signed-in account (issue 11 §3): what a POP3 client's delete does,
and whether mail downloaded before is offered again."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.pop3.actions import do_set_pop3_settings, get_pop3_settings
from mailcore.pop3.models import DeletePolicy, Pop3Settings
from webmail.accounts.current import current_account
from webmail.api.serializers import StrictSerializer, ValidationErrorSerializer


class Pop3SettingsSerializer(serializers.Serializer):
    on_delete = serializers.ChoiceField(
        choices=DeletePolicy.values,
        help_text="when a POP3 client deletes a message: delete (to Trash or for good, as the "
        "server is set), keep (leave it on the server) or read (leave it, marked read)",
    )
    only_new = serializers.BooleanField(
        help_text="offer a POP3 client only mail it has not downloaded before"
    )


class Pop3SettingsPatchSerializer(StrictSerializer):
    on_delete = serializers.ChoiceField(required=False, choices=DeletePolicy.values)
    only_new = serializers.BooleanField(required=False)


def _data(row: Pop3Settings) -> dict[str, Any]:
    return {"on_delete": row.on_delete, "only_new": row.only_new}


class Pop3SettingsView(APIView):
    @extend_schema(operation_id="settings_pop3_retrieve", responses={200: Pop3SettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(_data(get_pop3_settings(current_account(request))))

    @extend_schema(
        operation_id="settings_pop3_partial_update",
        request=Pop3SettingsPatchSerializer,
        responses={
            200: Pop3SettingsSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="invalid input"),
        },
    )
    def patch(self, request: Request) -> Response:
        data = Pop3SettingsPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = do_set_pop3_settings(
            current_account(request),
            on_delete=data.validated_data.get("on_delete"),
            only_new=data.validated_data.get("only_new"),
        )
        return Response(_data(row))
