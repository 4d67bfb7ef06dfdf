"""GET /api/v1/sending-status: whether the signed-in account's sending is held
(mailcore.delivery.containment), why, and how much of its mail waits; the webmail shows it
as a banner and apps as a notice."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.delivery import containment
from webmail.accounts.current import current_account


class SendingStatusSerializer(serializers.Serializer):
    held = serializers.BooleanField()
    reason = serializers.CharField(
        allow_blank=True, help_text="burst | bounces | spam | admin ('' when not held)"
    )
    detail = serializers.CharField(allow_blank=True)
    held_at = serializers.DateTimeField(allow_null=True)
    held_messages = serializers.IntegerField(help_text="your messages waiting for an admin")
    daily_limit = serializers.IntegerField(help_text="messages per 24 hours; 0 = none")


class SendingStatusView(APIView):
    @extend_schema(operation_id="sending_status", responses={200: SendingStatusSerializer})
    def get(self, request: Request) -> Response:
        account = current_account(request)
        state = containment.state_of(account)
        held = state is not None and state.held_at is not None
        count = containment.held_counts([account.pk])[account.pk][0] if held else 0
        data = {
            "held": held,
            "reason": state.reason if held and state else "",
            "detail": state.detail if held and state else "",
            "held_at": state.held_at if held and state else None,
            "held_messages": count,
            "daily_limit": containment.limits_for(account).daily,
        }
        return Response(SendingStatusSerializer(data).data)
