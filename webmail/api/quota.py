"""GET /api/v1/quota: the signed-in user's mailbox usage and quota (Gmail's storage meter)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.store.quota import usage
from webmail.accounts.current import current_account


class QuotaSerializer(serializers.Serializer):
    used_bytes = serializers.IntegerField()
    limit_bytes = serializers.IntegerField(help_text="0 = unlimited")
    percent = serializers.FloatField(help_text="of the limit; 0 when unlimited")


class QuotaView(APIView):
    @extend_schema(operation_id="quota_retrieve", responses={200: QuotaSerializer})
    def get(self, request: Request) -> Response:
        state = usage(current_account(request))
        return Response(
            QuotaSerializer(
                {
                    "used_bytes": state.used,
                    "limit_bytes": state.limit,
                    "percent": round(state.percent, 1),
                }
            ).data
        )
