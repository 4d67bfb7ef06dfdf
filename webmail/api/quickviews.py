"""The quick views of the folder pane (안읽은메일, 중요메일, 첨부메일): GET messages lists the
mail of every folder but Trash and Junk, narrowed by unread/flagged/has_attachments, and
GET messages/counts says how many each view holds. Parse → mailcore query → serialize."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.store.queries import count_views, list_view_messages
from webmail.accounts.current import current_account
from webmail.api.finding import decode_search_cursor, encode_search_cursor
from webmail.api.serializers import (
    MessageListQuerySerializer,
    MessagePageSerializer,
    ValidationErrorSerializer,
    message_filters,
)


class ViewCountsSerializer(serializers.Serializer):
    unread = serializers.IntegerField(help_text="unread messages (안읽은메일)")
    flagged = serializers.IntegerField(help_text="starred messages (중요메일)")
    has_attachments = serializers.IntegerField(help_text="messages with attachments (첨부메일)")


class AllMessagesView(APIView):
    @extend_schema(
        operation_id="messages_list",
        parameters=[MessageListQuerySerializer],
        responses={
            200: MessagePageSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="invalid query"),
        },
        description="Messages of every folder but Trash and Junk, newest first by arrival, "
        "narrowed by unread, flagged and has_attachments (the quick views: ?unread=true, "
        "?flagged=true, ?has_attachments=true). Follow next_cursor until it is null. limit "
        f"defaults to {settings.API_PAGE_SIZE} and is capped at {settings.API_MAX_PAGE_SIZE}.",
    )
    def get(self, request: Request) -> Response:
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        limit = data.get("limit", settings.API_PAGE_SIZE)
        before_id = decode_search_cursor(data["cursor"]) if "cursor" in data else None
        # One row more than asked says whether another page exists, without a COUNT.
        rows = list_view_messages(
            current_account(request), message_filters(data), before_id=before_id, limit=limit + 1
        )
        page = rows[:limit]
        next_cursor = encode_search_cursor(page[-1].pk) if len(rows) > limit else None
        return Response(MessagePageSerializer({"results": page, "next_cursor": next_cursor}).data)


class ViewCountsView(APIView):
    @extend_schema(
        operation_id="messages_counts",
        responses={200: ViewCountsSerializer},
        description="How many messages each quick view holds (every folder but Trash and Junk).",
    )
    def get(self, request: Request) -> Response:
        return Response(ViewCountsSerializer(count_views(current_account(request))).data)
