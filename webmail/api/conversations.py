"""GET conversations/{id}: the messages of one conversation across folders (Sent included),
oldest first. The id comes from a listing row's conversation_id; another account's is a 404."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.store.queries import CONVERSATION_MAX_MESSAGES, access_conversation
from webmail.accounts.current import current_account
from webmail.api.serializers import ErrorSerializer, MessageListItemSerializer


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField(help_text="of the first message shown")
    count = serializers.IntegerField()
    unread = serializers.IntegerField()
    messages = MessageListItemSerializer(many=True)


class ConversationView(APIView):
    @extend_schema(
        operation_id="conversations_retrieve",
        responses={
            200: ConversationSerializer,
            404: OpenApiResponse(ErrorSerializer, description="no such conversation of yours"),
        },
        description="Oldest first, each with its folder id; at most the newest "
        f"{CONVERSATION_MAX_MESSAGES}. Trash and Junk are left out unless the conversation "
        "lives only there.",
    )
    def get(self, request: Request, pk: int) -> Response:
        messages = access_conversation(current_account(request), pk)
        data = {
            "id": pk,
            "subject": messages[0].subject,
            "count": len(messages),
            "unread": sum(1 for m in messages if not m.seen),
            "messages": messages,
        }
        return Response(ConversationSerializer(data).data)
