"""Outbox endpoints (issue 14): scheduled mail (예약 메일), undo/cancel back to Drafts, send
now, reschedule, recall (발송취소), read status per recipient (수신확인), the outbox settings,
and the read-receipt prompt of received mail. Each view parses, calls one mailcore.outbox
action or query, and serializes; another account's ids are 404 inside those calls."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.errors import InvalidMessageError
from mailcore.outbox.actions import (
    do_cancel_send,
    do_recall,
    do_reschedule,
    do_set_outbox_preferences,
    recall_enabled,
)
from mailcore.outbox.models import OutboxPreferences
from mailcore.outbox.queries import (
    access_item,
    access_item_by_sent_copy,
    get_item_status,
    get_outbox_preferences,
    list_waiting,
    sent_summaries,
)
from mailcore.outbox.receipts import do_answer_receipt, get_receipt_request
from mailcore.store.queries import access_message
from webmail.accounts.current import current_account
from webmail.api.compose_serializers import AwareDateTimeField
from webmail.api.serializers import (
    ErrorSerializer,
    StrictBooleanField,
    StrictSerializer,
    ValidationErrorSerializer,
)

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="not yours, or no such item")
INVALID = OpenApiResponse(
    ValidationErrorSerializer, description="send_at: passed, too far ahead, or without a zone"
)
CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="already_sent (a worker took it), already_cancelled, recall_disabled, "
    "receipt_answered, no_receipt_asked",
)
RECIPIENT_STATES = (
    "scheduled",
    "queued",
    "deferred",
    "delivered",
    "bounced",
    "read",
    "recalled",
    "cancelled",
)


class OutboxItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    message = serializers.IntegerField(
        source="sent_copy_id", allow_null=True, help_text="the Sent copy (null if deleted)"
    )
    subject = serializers.CharField()
    send_at = serializers.DateTimeField()
    scheduled = serializers.BooleanField()
    state = serializers.ChoiceField(choices=("queued", "cancelled"))
    receipt_requested = serializers.BooleanField()


class RecipientStatusSerializer(serializers.Serializer):
    address = serializers.CharField()
    kind = serializers.ChoiceField(choices=("local", "remote", "group"))
    state = serializers.ChoiceField(choices=RECIPIENT_STATES)
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(
        allow_null=True, help_text="local: first \\Seen; remote: the MDN 'displayed' time"
    )
    recalled_at = serializers.DateTimeField(allow_null=True)
    last_reply = serializers.CharField()
    mdn_disposition = serializers.CharField(help_text="RFC 8098 disposition type; '' = none")
    recall_blocked = serializers.CharField(
        help_text="why recall is not possible: remote, group, opened, not_delivered, "
        "recalled; '' = it is"
    )


class ItemStatusSerializer(serializers.Serializer):
    item = OutboxItemSerializer()
    waiting = serializers.BooleanField(help_text="not handed to a worker yet: undo/cancel ok")
    total = serializers.IntegerField()
    read = serializers.IntegerField()
    recall_enabled = serializers.BooleanField()
    recipients = RecipientStatusSerializer(many=True)


class RescheduleSerializer(StrictSerializer):
    send_at = AwareDateTimeField(allow_null=True, help_text="null: send now")


class CancelledSerializer(serializers.Serializer):
    draft = serializers.IntegerField(
        allow_null=True, help_text="the message, back in Drafts: reopen it in compose"
    )


class RecallResultSerializer(serializers.Serializer):
    address = serializers.CharField()
    recalled = serializers.BooleanField()
    reason = serializers.CharField(
        help_text="'' or remote, group, opened, not_delivered, gone, recalled_already"
    )


class RecallSerializer(serializers.Serializer):
    recipients = RecallResultSerializer(many=True)


class SentSummarySerializer(serializers.Serializer):
    message = serializers.IntegerField()
    item = serializers.IntegerField()
    total = serializers.IntegerField()
    read = serializers.IntegerField()
    scheduled = serializers.BooleanField()
    send_at = serializers.DateTimeField()


class SentSummaryListSerializer(serializers.Serializer):
    items = SentSummarySerializer(many=True)


class OutboxSettingsSerializer(StrictSerializer):
    undo_seconds = serializers.ChoiceField(
        choices=(0, 5, 10, 20, 30), required=False, help_text="보내기 취소 window; 0 = off"
    )
    share_read_status = StrictBooleanField(
        required=False,
        allow_null=True,
        help_text="let senders see when I read their mail; null = the default (on for my "
        "own domain's senders)",
    )


class ReceiptRequestSerializer(serializers.Serializer):
    requested = serializers.BooleanField()
    notify = serializers.CharField(help_text="where the receipt would go")
    decision = serializers.ChoiceField(choices=("", "sent", "declined"))
    always = serializers.BooleanField(
        help_text="you said 'always' for this sender: send without asking again"
    )


class ReceiptAnswerSerializer(StrictSerializer):
    choice = serializers.ChoiceField(choices=("send", "decline", "always"))


def _settings_data(prefs: OutboxPreferences) -> dict[str, object]:
    return {"undo_seconds": prefs.undo_seconds, "share_read_status": prefs.share_read_status}


def _status_data(request: Request, item_status: object) -> Response:
    data = ItemStatusSerializer(
        {
            **{
                name: getattr(item_status, name)
                for name in ("item", "waiting", "total", "read", "recipients")
            },
            "recall_enabled": recall_enabled(current_account(request)),
        }
    ).data
    return Response(data)


class OutboxListView(APIView):
    @extend_schema(
        operation_id="outbox_list",
        responses={200: OutboxItemSerializer(many=True)},
        description="예약 메일: your scheduled messages that have not gone yet, soonest first.",
    )
    def get(self, request: Request) -> Response:
        items = list_waiting(current_account(request))
        return Response(OutboxItemSerializer(items, many=True).data)


class OutboxItemView(APIView):
    @extend_schema(
        operation_id="outbox_retrieve",
        responses={200: ItemStatusSerializer, 404: NOT_FOUND},
        description="A sent message's status per recipient: scheduled, queued, deferred, "
        "delivered, bounced, read (with the time), recalled, cancelled.",
    )
    def get(self, request: Request, pk: int) -> Response:
        item = access_item(current_account(request), pk)
        return _status_data(request, get_item_status(item))

    @extend_schema(
        operation_id="outbox_reschedule",
        request=RescheduleSerializer,
        responses={200: OutboxItemSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
        description="Change the time of a message that has not gone (send_at null: send now).",
    )
    def patch(self, request: Request, pk: int) -> Response:
        item = access_item(current_account(request), pk)
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            item = do_reschedule(
                acting_account=current_account(request),
                item=item,
                send_at=data.validated_data["send_at"],
            )
        except InvalidMessageError as exc:
            raise exceptions.ValidationError({"send_at": [str(exc)]}) from exc
        return Response(OutboxItemSerializer(item).data)

    @extend_schema(
        operation_id="outbox_cancel",
        responses={200: CancelledSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="보내기 취소 / cancel a scheduled message: only before it goes (409 "
        "already_sent after). The message goes back to Drafts exactly as it was (Bcc and "
        "attachments included); reopen `draft` in compose.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        item = access_item(current_account(request), pk)
        done = do_cancel_send(acting_account=current_account(request), item=item)
        return Response(CancelledSerializer({"draft": done.draft.pk if done.draft else None}).data)


class OutboxRecallView(APIView):
    @extend_schema(
        operation_id="outbox_recall",
        request=None,
        responses={200: RecallSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="발송취소: remove the message from local recipients who have not opened "
        "it; every other recipient comes back with the reason it was not recalled.",
    )
    def post(self, request: Request, pk: int) -> Response:
        item = access_item(current_account(request), pk)
        results = do_recall(acting_account=current_account(request), item=item)
        return Response(RecallSerializer({"recipients": results}).data)


class MessageReadStatusView(APIView):
    @extend_schema(
        operation_id="messages_read_status",
        responses={200: ItemStatusSerializer, 404: NOT_FOUND},
        description="The outbox status of one of your Sent messages (by its message id); 404 "
        "for messages not sent from the webmail or the API.",
    )
    def get(self, request: Request, pk: int) -> Response:
        item = access_item_by_sent_copy(current_account(request), pk)
        return _status_data(request, get_item_status(item))


class SentStatusView(APIView):
    @extend_schema(
        operation_id="outbox_sent_status",
        parameters=[
            OpenApiParameter("ids", str, description="comma-separated message ids (≤ 500)")
        ],
        responses={200: SentSummaryListSerializer},
        description="'n명 중 m명 읽음' for a page of Sent messages; ids without outbox "
        "status are left out.",
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("ids", "")
        ids = [int(x) for x in raw.split(",") if x.strip().isdigit()][:500]
        items = sent_summaries(current_account(request), ids)
        return Response(SentSummaryListSerializer({"items": items}).data)


class OutboxSettingsView(APIView):
    @extend_schema(operation_id="outbox_settings", responses={200: OutboxSettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(_settings_data(get_outbox_preferences(current_account(request))))

    @extend_schema(
        operation_id="outbox_settings_update",
        request=OutboxSettingsSerializer,
        responses={200: OutboxSettingsSerializer},
    )
    def patch(self, request: Request) -> Response:
        data = OutboxSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        prefs = do_set_outbox_preferences(
            acting_account=current_account(request),
            undo_seconds=v.get("undo_seconds"),
            share_read_status=v.get("share_read_status"),
            reset_share="share_read_status" in v and v["share_read_status"] is None,
        )
        return Response(_settings_data(prefs))


class MessageReceiptView(APIView):
    @extend_schema(
        operation_id="messages_receipt",
        responses={200: ReceiptRequestSerializer, 404: NOT_FOUND},
        description="Whether a received message asks for a read receipt and what you answered. "
        "Ask the user once (send / don't send / always for this sender); never send silently.",
    )
    def get(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        found = get_receipt_request(account, access_message(account, pk))
        return Response(ReceiptRequestSerializer(found).data)

    @extend_schema(
        operation_id="messages_receipt_answer",
        request=ReceiptAnswerSerializer,
        responses={200: ReceiptRequestSerializer, 404: NOT_FOUND, 409: CONFLICT},
        description="Answer the receipt request once: send, decline, or always (send, and "
        "from now on for this sender without asking).",
    )
    def post(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        message = access_message(account, pk)
        data = ReceiptAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        do_answer_receipt(
            acting_account=account, message=message, choice=data.validated_data["choice"]
        )
        return Response(
            ReceiptRequestSerializer(get_receipt_request(account, message)).data,
            status=status.HTTP_200_OK,
        )
