"""Folder endpoints: list with counts, create, rename, delete, and the message listing of one
folder. Each view resolves ids through mailcore access_* (another user's id is a 404) and calls
one query or action; no ORM access here."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.store.actions import do_create_folder, do_delete_folder, do_rename_folder
from mailcore.store.queries import (
    access_folder,
    list_conversation_heads,
    list_folders_with_counts,
    list_messages,
)
from webmail.accounts.current import current_account
from webmail.api.pagination import decode_cursor, encode_cursor
from webmail.api.serializers import (
    ErrorSerializer,
    FolderListSerializer,
    FolderNameSerializer,
    FolderSerializer,
    MessageListQuerySerializer,
    MessagePageSerializer,
    ValidationErrorSerializer,
    message_filters,
    message_list_item,
)

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such folder (or not yours)")
INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
CONFLICT = OpenApiResponse(ErrorSerializer, description="a folder of that name exists")


class FolderListView(APIView):
    @extend_schema(operation_id="folders_list", responses={200: FolderListSerializer})
    def get(self, request: Request) -> Response:
        folders = list_folders_with_counts(current_account(request))
        return Response(FolderListSerializer({"results": folders}).data)

    @extend_schema(
        operation_id="folders_create",
        request=FolderNameSerializer,
        responses={201: FolderSerializer, 400: INVALID, 409: CONFLICT},
    )
    def post(self, request: Request) -> Response:
        data = FolderNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        folder = do_create_folder(
            acting_account=current_account(request), name=data.validated_data["name"]
        )
        return Response(FolderSerializer(folder).data, status=status.HTTP_201_CREATED)


class FolderDetailView(APIView):
    @extend_schema(
        operation_id="folders_rename",
        request=FolderNameSerializer,
        responses={200: FolderSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
    )
    def patch(self, request: Request, pk: int) -> Response:
        folder = access_folder(current_account(request), pk)
        data = FolderNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        folder = do_rename_folder(
            acting_account=current_account(request), folder=folder, name=data.validated_data["name"]
        )
        return Response(FolderSerializer(folder).data)

    @extend_schema(
        operation_id="folders_destroy",
        responses={
            204: OpenApiResponse(
                description="the folder, its subfolders and their messages are gone"
            ),
            400: OpenApiResponse(ErrorSerializer, description="special folders cannot be deleted"),
            404: NOT_FOUND,
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_delete_folder(
            acting_account=current_account(request),
            folder=access_folder(current_account(request), pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class FolderMessagesView(APIView):
    @extend_schema(
        operation_id="folders_messages_list",
        parameters=[MessageListQuerySerializer],
        responses={200: MessagePageSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Newest first (by UID); with group=conversation one row per "
        "conversation (its newest message here) carrying `conversation` (count, unread, "
        "newest date over every folder but Trash/Junk). Follow next_cursor until it is null; "
        f"each page costs the same however deep. limit defaults to {settings.API_PAGE_SIZE} and is "
        f"capped at {settings.API_MAX_PAGE_SIZE}.",
    )
    def get(self, request: Request, pk: int) -> Response:
        folder = access_folder(current_account(request), pk)
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data.get("limit", settings.API_PAGE_SIZE)
        cursor = query.validated_data.get("cursor")
        before_uid = decode_cursor(cursor, uidvalidity=folder.uidvalidity) if cursor else None
        grouped = query.validated_data.get("group") == "conversation"
        # Grouped rows carry their conversation summary from the same query.
        lister = list_conversation_heads if grouped else list_messages
        # One row more than asked says whether another page exists, without a COUNT.
        rows = list(
            lister(
                folder,
                before_uid=before_uid,
                limit=limit + 1,
                filters=message_filters(query.validated_data),
            )
        )
        page = rows[:limit]
        next_cursor = encode_cursor(folder.uidvalidity, page[-1].uid) if len(rows) > limit else None
        # MessagePageSerializer's shape (the schema above), built without a field per value.
        return Response(
            {"results": [message_list_item(m) for m in page], "next_cursor": next_cursor}
        )
