"""Message endpoints: detail (parsed, HTML sanitized on the server), flags and move, delete,
bulk operations, and the byte endpoints (raw, attachments, cid images).

Every id goes through mailcore access_* first, so another user's message, folder or part is a
404 before anything is read or changed. Writes are mailcore actions; no ORM access here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.errors import NotFoundError
from mailcore.inbound.queries import get_sender_trust
from mailcore.mime import (
    ParsedMessage,
    get_attachment,
    get_part_by_cid,
    parse_message,
    sanitize_html,
)
from mailcore.store.actions import do_delete_messages, do_move, do_set_flags
from mailcore.store.models import Message
from mailcore.store.queries import (
    access_folder,
    access_message,
    access_messages,
    read_message_bytes,
)
from webmail.accounts.current import current_account
from webmail.accounts.queries import remote_images_allowed
from webmail.api.cidsign import access_message_for_cid
from webmail.api.downloads import (
    attachment_response,
    display_filename,
    inline_image_response,
    inline_image_type,
    normalize_type,
    raw_message_response,
    raw_text_response,
)
from webmail.api.serializers import (
    FLAG_NAMES,
    AttachmentInfo,
    BulkFlagsSerializer,
    BulkIdsSerializer,
    BulkMoveSerializer,
    DeleteResultSerializer,
    ErrorSerializer,
    MessageDetail,
    MessageDetailQuerySerializer,
    MessageDetailSerializer,
    MessageListItemSerializer,
    MessagePatchSerializer,
    MessageResultsSerializer,
    ValidationErrorSerializer,
)

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such message (or not yours)")
BULK_NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="one of the ids (or the folder) is not yours; nothing changed"
)
INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
STORAGE = OpenApiResponse(ErrorSerializer, description="storage_unavailable: try again later")
_PATCH_FLAGS = ("seen", "answered", "flagged", "draft")


def _body_url(name: str, **kwargs: Any) -> str:
    # Paths, not absolute URLs: the SPA shows HTML in a same-server iframe, and mobile apps
    # resolve them against the server they already talk to.
    return reverse(f"api:{name}", kwargs=kwargs)


def _bare_cid(cid: str) -> str:
    return cid.strip().strip("<>").strip()


def message_detail(
    message: Message, parsed: ParsedMessage, *, remote_images: bool, images_allowed: bool = False
) -> MessageDetail:
    """Shape a parsed message for the detail endpoint; the HTML is sanitized here, always."""
    # Case-insensitive, as get_part_by_cid falls back to: senders are sloppy with case.
    inline_cids = {
        _bare_cid(a.content_id).casefold()
        for a in parsed.attachments
        if a.content_id and normalize_type(a.content_type).startswith("image/")
    }

    def cid_url(cid: str) -> str | None:
        # Only image parts that exist get a URL; for anything else the sanitizer drops the src.
        bare = _bare_cid(cid)
        if bare.casefold() not in inline_cids:
            return None
        return _body_url("message-cid", pk=message.pk, content_id=bare)

    html: str | None = None
    blocked = 0
    if parsed.html:
        sanitized = sanitize_html(
            parsed.html, cid_url=cid_url, load_remote=remote_images or images_allowed
        )
        html, blocked = sanitized.html, sanitized.blocked_remote
    attachments = [
        AttachmentInfo(
            index=a.index,
            filename=display_filename(a.filename),
            content_type=normalize_type(a.content_type),
            size=a.size,
            inline=a.inline,
            content_id=_bare_cid(a.content_id or ""),
            url=_body_url("message-attachment", pk=message.pk, index=a.index),
        )
        for a in parsed.attachments
    ]
    sender = parsed.from_[0] if parsed.from_ else None
    return MessageDetail(
        message=message,
        trust=get_sender_trust(
            message, sender.name if sender else "", sender.addr if sender else ""
        ),
        subject=parsed.subject,
        from_name=sender.name if sender else "",
        from_addr=sender.addr if sender else "",
        to_addrs=[[a.name, a.addr] for a in parsed.to],
        cc_addrs=[[a.name, a.addr] for a in parsed.cc],
        reply_to=[[a.name, a.addr] for a in parsed.reply_to],
        text=parsed.text or "",
        html=html,
        remote_images_blocked=blocked,
        attachments=attachments,
        body_url=_body_url("message-body", pk=message.pk),
        remote_images_allowed=images_allowed,
    )


class MessageDetailView(APIView):
    @extend_schema(
        operation_id="messages_retrieve",
        parameters=[MessageDetailQuerySerializer],
        responses={200: MessageDetailSerializer, 404: NOT_FOUND, 503: STORAGE},
        description="The message with its bodies. `html` is sanitized on the server (no "
        "script, no event handlers; remote images removed unless remote_images=1). Reading "
        'does not mark the message seen: PATCH {"seen": true} does.',
    )
    def get(self, request: Request, pk: int) -> Response:
        message = access_message(current_account(request), pk)
        query = MessageDetailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        parsed = parse_message(read_message_bytes(message))
        detail = message_detail(
            message,
            parsed,
            remote_images=query.validated_data["remote_images"],
            images_allowed=remote_images_allowed(current_account(request), message.from_addr),
        )
        return Response(MessageDetailSerializer(detail).data)

    @extend_schema(
        operation_id="messages_partial_update",
        request=MessagePatchSerializer,
        responses={200: MessageListItemSerializer, 400: INVALID, 404: NOT_FOUND, 503: STORAGE},
        description="Set or clear flags and/or move the message to another of your folders "
        "(it gets a new uid there). Unknown fields are refused.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        message = access_message(current_account(request), pk)
        data = MessagePatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        # Resolve the destination before changing anything: a foreign folder id is a 404 with
        # the message untouched.
        destination = (
            access_folder(current_account(request), changes["folder"])
            if "folder" in changes
            else None
        )
        add = [name for name in _PATCH_FLAGS if changes.get(name) is True]
        remove = [name for name in _PATCH_FLAGS if changes.get(name) is False]
        if add or remove:
            do_set_flags(
                acting_account=current_account(request), messages=[message], add=add, remove=remove
            )
        if destination is not None:
            do_move(
                acting_account=current_account(request), messages=[message], destination=destination
            )
        return Response(MessageListItemSerializer(message).data)

    @extend_schema(
        operation_id="messages_destroy",
        responses={
            204: OpenApiResponse(description="moved to Trash, or gone if it was there"),
            404: NOT_FOUND,
            503: STORAGE,
        },
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_delete_messages(
            acting_account=current_account(request),
            messages=[access_message(current_account(request), pk)],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def _in_request_order(ids: list[int], messages: list[Message]) -> list[Message]:
    by_id = {m.pk: m for m in messages}
    return [by_id[i] for i in ids]


class BulkMoveView(APIView):
    @extend_schema(
        operation_id="messages_move",
        request=BulkMoveSerializer,
        responses={200: MessageResultsSerializer, 400: INVALID, 404: BULK_NOT_FOUND, 503: STORAGE},
    )
    def post(self, request: Request) -> Response:
        data = BulkMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        destination = access_folder(current_account(request), data.validated_data["folder"])
        ids = data.validated_data["ids"]
        messages = _in_request_order(ids, access_messages(current_account(request), ids))
        do_move(acting_account=current_account(request), messages=messages, destination=destination)
        return Response(MessageResultsSerializer({"results": messages}).data)


class BulkFlagsView(APIView):
    @extend_schema(
        operation_id="messages_flags",
        request=BulkFlagsSerializer,
        responses={200: MessageResultsSerializer, 400: INVALID, 404: BULK_NOT_FOUND, 503: STORAGE},
        description=f"Add and/or remove flags ({', '.join(FLAG_NAMES)}).",
    )
    def post(self, request: Request) -> Response:
        data = BulkFlagsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        messages = _in_request_order(ids, access_messages(current_account(request), ids))
        do_set_flags(
            acting_account=current_account(request),
            messages=messages,
            add=data.validated_data["add"],
            remove=data.validated_data["remove"],
        )
        return Response(MessageResultsSerializer({"results": messages}).data)


class BulkDeleteView(APIView):
    @extend_schema(
        operation_id="messages_delete",
        request=BulkIdsSerializer,
        responses={200: DeleteResultSerializer, 400: INVALID, 404: BULK_NOT_FOUND, 503: STORAGE},
        description="Messages outside Trash move to Trash; those in Trash are removed for good.",
    )
    def post(self, request: Request) -> Response:
        data = BulkIdsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        messages = access_messages(current_account(request), data.validated_data["ids"])
        result = do_delete_messages(acting_account=current_account(request), messages=messages)
        return Response(DeleteResultSerializer(result).data)


# --- bytes ------------------------------------------------------------------------------------


class _AnyAcceptNegotiation(BaseContentNegotiation):
    """Byte endpoints answer with the stored type whatever Accept says (an <img> sends
    image/*, a mail app message/rfc822); errors still come back as JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class _BytesView(APIView):
    content_negotiation_class = _AnyAcceptNegotiation


class MessageRawView(_BytesView):
    @extend_schema(
        operation_id="messages_raw",
        parameters=[
            OpenApiParameter(
                "view",
                bool,
                OpenApiParameter.QUERY,
                description="1: show it as text/plain in the browser instead of downloading",
            )
        ],
        responses={
            (200, "message/rfc822"): OpenApiTypes.BINARY,
            (200, "text/plain"): OpenApiTypes.STR,
            404: NOT_FOUND,
            503: STORAGE,
        },
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        message = access_message(current_account(request), pk)
        data = read_message_bytes(message)
        if request.query_params.get("view") in ("1", "true"):
            return raw_text_response(data)
        return raw_message_response(data, message_id=message.pk)


class MessageAttachmentView(_BytesView):
    @extend_schema(
        operation_id="messages_attachment",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: NOT_FOUND,
            503: STORAGE,
        },
        description="The decoded part as a download. Content-Type is the part's own only for "
        "an allowlist of harmless types (never HTML, SVG or XML); otherwise "
        "application/octet-stream.",
    )
    def get(self, request: Request, pk: int, index: int) -> HttpResponse:
        message = access_message(current_account(request), pk)
        found = get_attachment(read_message_bytes(message), index)
        if found is None:
            raise NotFoundError("no such attachment")
        part, data = found
        return attachment_response(
            data, filename=part.filename or "", declared_type=part.content_type
        )


class MessageCidView(_BytesView):
    # A signed ?sig= replaces the sign-in (webmail.api.cidsign); without one,
    # access_message_for_cid still demands it.
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="messages_cid",
        parameters=[
            OpenApiParameter(
                "content_id",
                str,
                OpenApiParameter.PATH,
                description="Content-ID without angle brackets",
            ),
            OpenApiParameter(
                "sig",
                str,
                OpenApiParameter.QUERY,
                description="signature from messages/{id}/body; replaces the sign-in",
            ),
        ],
        responses={(200, "image/*"): OpenApiTypes.BINARY, 404: NOT_FOUND, 503: STORAGE},
        description="An inline image the sanitized HTML refers to. Only PNG, JPEG, GIF and "
        "WebP (checked by their bytes) are served; anything else is a 404. The URLs in "
        "messages/{id}/body carry ?sig=, which works without a sign-in for 1 hour and only "
        "for that message (bad or expired: 404).",
    )
    def get(self, request: Request, pk: int, content_id: str) -> HttpResponse:
        message = access_message_for_cid(request, pk)
        found = get_part_by_cid(read_message_bytes(message), _bare_cid(content_id))
        if found is None:
            raise NotFoundError("no such part")
        part, data = found
        image_type = inline_image_type(part.content_type, data)
        if image_type is None:
            raise NotFoundError("not an inline image")
        return inline_image_response(data, content_type=image_type)
