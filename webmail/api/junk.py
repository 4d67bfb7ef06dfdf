"""Trash and Junk chores: POST folders/{id}/empty and POST messages/spam (report spam / not
spam). Ids go through access_* (another user's → 404); the work is mailcore store actions.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.inbound.actions import do_report_spam
from mailcore.store.actions import do_empty_folder
from mailcore.store.queries import access_folder, access_messages
from webmail.accounts.current import current_account
from webmail.api.serializers import (
    BulkIdsSerializer,
    ErrorSerializer,
    StrictBooleanField,
    ValidationErrorSerializer,
)

STORAGE = OpenApiResponse(ErrorSerializer, description="storage_unavailable: try again later")


class SpamSerializer(BulkIdsSerializer):
    spam = StrictBooleanField(help_text="true: report spam (into Junk); false: not spam")


class SpamResultSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="messages that changed folder")


class FolderEmptyView(APIView):
    @extend_schema(
        operation_id="folders_empty",
        request=None,
        responses={
            204: OpenApiResponse(description="every message that was there is gone for good"),
            400: OpenApiResponse(
                ErrorSerializer, description="folder_not_emptiable: only Trash and Junk"
            ),
            404: OpenApiResponse(ErrorSerializer, description="no such folder (or not yours)"),
            503: STORAGE,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        do_empty_folder(
            acting_account=current_account(request),
            folder=access_folder(current_account(request), pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SpamView(APIView):
    @extend_schema(
        operation_id="messages_spam",
        request=SpamSerializer,
        responses={
            200: SpamResultSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="invalid input"),
            404: OpenApiResponse(
                ErrorSerializer, description="one of the ids is not yours; nothing changed"
            ),
            503: STORAGE,
        },
        description="spam=true: keyword $Junk and into Junk. spam=false: keyword $NotJunk, and "
        "messages in Junk go back to the Inbox. With rspamd's controller configured, it learns "
        "them as spam or ham too.",
    )
    def post(self, request: Request) -> Response:
        data = SpamSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        messages = access_messages(current_account(request), data.validated_data["ids"])
        moved = do_report_spam(
            acting_account=current_account(request),
            messages=messages,
            spam=data.validated_data["spam"],
        )
        return Response(SpamResultSerializer({"moved": moved}).data)
