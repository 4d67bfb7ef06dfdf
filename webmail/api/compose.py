"""Compose endpoints: uploads, send (incl. reply, forward and "write to myself"), drafts, and
the delivery state of a sent message. Each view parses, calls one webmail.compose action or
query, and serializes; ids of other accounts are 404 inside those calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.contacts.actions import do_remember_recipients
from mailcore.contacts.queries import expand_groups
from mailcore.directory.models import Account
from mailcore.errors import InvalidMessageError
from mailcore.mime.build import (
    MAX_RECIPIENTS,
    check_header_text,
    make_recipient,
    normalise_content_type,
)
from mailcore.store.models import Message
from webmail.accounts.current import current_account
from webmail.api.compose_serializers import (
    ComposeLimitsSerializer,
    DeliveryReportSerializer,
    DraftFieldsSerializer,
    DraftInputSerializer,
    SendInputSerializer,
    SendResultSerializer,
    UploadInputSerializer,
    UploadSerializer,
)
from webmail.api.serializers import (
    ErrorSerializer,
    MessageListItemSerializer,
    ValidationErrorSerializer,
)
from webmail.compose.actions import (
    ComposeInput,
    UploadTooLargeError,
    compose_limits,
    do_create_upload,
    do_delete_draft,
    do_delete_upload,
    do_save_draft,
    do_send_message,
)
from webmail.compose.queries import access_draft, access_upload, get_delivery_report, read_draft

INVALID = OpenApiResponse(
    ValidationErrorSerializer,
    description="invalid input; `fields` names the field at fault (addresses, line breaks, size)",
)
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="an id (message, draft, upload) is not yours"
)
TOO_LARGE = OpenApiResponse(ErrorSerializer, description="upload_too_large")
STORAGE = OpenApiResponse(ErrorSerializer, description="storage_unavailable: try again later")
# Room for the multipart framing around the file in a Content-Length pre-check.
_MULTIPART_OVERHEAD = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"
    default_detail = "The upload is too large."


@contextmanager
def _as_field_errors() -> Iterator[None]:
    """Builder errors as 400s with the field at fault, like serializer errors. A message too
    large keeps its own code (message_too_large, attachments_too_large) and sizes: errors.py."""
    try:
        yield
    except InvalidMessageError as exc:
        raise exceptions.ValidationError({exc.field or "non_field_errors": [str(exc)]}) from exc


def _with_groups(account: Account, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with to_groups/cc_groups/bcc_groups expanded into to/cc/bcc (another account's
    group is a 404; more than MAX_RECIPIENTS in all is a 400 on the groups field)."""
    out = dict(data)
    for field in ("to", "cc", "bcc"):
        ids = out.pop(f"{field}_groups", [])
        if not ids:
            continue
        have = list(out.get(field) or [])
        known = {r.envelope.casefold() for r in have}
        for name, address in expand_groups(account, ids):
            try:
                recipient = make_recipient(name, address, f"{field}_groups")
            except InvalidMessageError:
                continue
            if recipient.envelope.casefold() not in known:
                known.add(recipient.envelope.casefold())
                have.append(recipient)
        if len(have) > MAX_RECIPIENTS:
            raise exceptions.ValidationError(
                {f"{field}_groups": [f"More than {MAX_RECIPIENTS} recipients."]}
            )
        out[field] = have
    return out


def _remember(account: Account, message: Message, data: dict[str, Any]) -> None:
    """The people this message went to join the address book (mailcore.contacts)."""
    pairs = [(str(n), str(a)) for n, a in [*message.to_addrs, *message.cc_addrs]]
    pairs += [(r.name, r.address) for r in data.get("bcc") or []]
    do_remember_recipients(acting_account=account, recipients=pairs)


def _form(data: dict[str, Any], link_base: str = "") -> ComposeInput:
    def opt_tuple(name: str) -> tuple[Any, ...] | None:
        return tuple(data[name]) if name in data else None

    return ComposeInput(
        from_address=data.get("from_address"),
        to=opt_tuple("to"),
        cc=opt_tuple("cc"),
        bcc=tuple(data["bcc"]),
        reply_to=tuple(data["reply_to"]),
        subject=data.get("subject"),
        text=data.get("text"),
        html=data.get("html"),
        attachments=tuple(data["attachments"]),
        draft_attachments=opt_tuple("draft_attachments"),
        forward_attachments=opt_tuple("forward_attachments"),
        priority=data["priority"],
        mode=data["mode"],
        in_reply_to_message=data.get("in_reply_to_message"),
        quote=data["quote"],
        draft_id=data.get("draft_id"),
        to_me=data.get("to_me", False),
        send_at=data.get("send_at"),
        undo=data.get("undo", False),
        request_receipt=data.get("request_receipt", False),
        large_files=tuple(data.get("large_files") or ()),
        link_base=link_base,
    )


class UploadListView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="uploads_create",
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: UploadSerializer, 400: INVALID, 413: TOO_LARGE, 503: STORAGE},
        description="Upload an attachment first; pass its id in `attachments` of a send or "
        "draft. Unused uploads are removed after a day. Limits (per file, per message): "
        "GET compose-limits.",
    )
    def post(self, request: Request) -> Response:
        limit = settings.COMPOSE_MAX_UPLOAD_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        # Refuse before reading the body when the client says it is too large anyway.
        if declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
            raise PayloadTooLarge(
                f"The file is larger than the {limit / 1048576:.1f} MiB upload limit."
            )
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        file = data.validated_data["file"]
        with _as_field_errors():
            filename = check_header_text(file.name or "attachment", "file", limit=255)
        try:
            upload = do_create_upload(
                acting_account=current_account(request),
                filename=filename,
                content_type=normalise_content_type(file.content_type or ""),
                chunks=file.chunks(),
            )
        except UploadTooLargeError as exc:
            raise PayloadTooLarge(str(exc)) from exc
        return Response(UploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class ComposeLimitsView(APIView):
    @extend_schema(
        operation_id="compose_limits",
        responses={200: ComposeLimitsSerializer},
        description="The size limits of uploads and of a message's attachments, derived from "
        "the message size limit (base64 makes 57 bytes 78): show them before a file is picked.",
    )
    def get(self, request: Request) -> Response:
        return Response(ComposeLimitsSerializer(compose_limits()).data)


class UploadDetailView(APIView):
    @extend_schema(
        operation_id="uploads_destroy",
        responses={204: OpenApiResponse(description="removed"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_delete_upload(
            acting_account=current_account(request),
            upload=access_upload(current_account(request), pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SendView(APIView):
    @extend_schema(
        operation_id="messages_send",
        request=SendInputSerializer,
        responses={201: SendResultSerializer, 400: INVALID, 404: NOT_FOUND, 503: STORAGE},
        description="Send a message as yourself. The Sent copy (with Bcc) is stored once; "
        "Bcc is stripped from what recipients get. mode reply/reply_all sets \\Answered on "
        "in_reply_to_message and threads the answer (In-Reply-To, References); forward "
        "attaches the original's attachments. to_me stores the message in To me only.",
    )
    def post(self, request: Request) -> Response:
        data = SendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _with_groups(current_account(request), data.validated_data)
        with _as_field_errors():
            result = do_send_message(
                acting_account=current_account(request),
                form=_form(fields, link_base=request.build_absolute_uri("/")),
            )
        if not fields.get("to_me"):
            _remember(current_account(request), result.message, fields)
        return Response(SendResultSerializer(result).data, status=status.HTTP_201_CREATED)


class DraftListView(APIView):
    @extend_schema(
        operation_id="drafts_create",
        request=DraftInputSerializer,
        responses={201: MessageListItemSerializer, 400: INVALID, 404: NOT_FOUND, 503: STORAGE},
        description="Save a draft into Drafts (flags draft and seen). Same fields as a send.",
    )
    def post(self, request: Request) -> Response:
        data = DraftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_field_errors():
            draft = do_save_draft(
                acting_account=current_account(request),
                form=_form(_with_groups(current_account(request), data.validated_data)),
            )
        return Response(MessageListItemSerializer(draft).data, status=status.HTTP_201_CREATED)


class DraftDetailView(APIView):
    @extend_schema(
        operation_id="drafts_retrieve",
        responses={200: DraftFieldsSerializer, 404: NOT_FOUND, 503: STORAGE},
        description="The compose fields of a draft, to reopen it in an editor.",
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(DraftFieldsSerializer(read_draft(current_account(request), pk)).data)

    @extend_schema(
        operation_id="drafts_update",
        request=DraftInputSerializer,
        responses={200: MessageListItemSerializer, 400: INVALID, 404: NOT_FOUND, 503: STORAGE},
        description="Replace a draft (autosave): the new version is stored, then the old one "
        "removed. The answer carries the NEW id; use it for the next save.",
    )
    def put(self, request: Request, pk: int) -> Response:
        old = access_draft(current_account(request), pk)
        data = DraftInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_field_errors():
            draft = do_save_draft(
                acting_account=current_account(request),
                form=_form(_with_groups(current_account(request), data.validated_data)),
                replace=old,
            )
        return Response(MessageListItemSerializer(draft).data)

    @extend_schema(
        operation_id="drafts_destroy",
        responses={204: OpenApiResponse(description="removed"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_delete_draft(
            acting_account=current_account(request),
            draft=access_draft(current_account(request), pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageDeliveryView(APIView):
    @extend_schema(
        operation_id="messages_delivery",
        responses={200: DeliveryReportSerializer, 404: NOT_FOUND},
        description="Per recipient of a message you sent from webmail or the API: queued, "
        "delivered, deferred (with the last reply) or bounced. Empty for other messages.",
    )
    def get(self, request: Request, pk: int) -> Response:
        report = get_delivery_report(current_account(request), pk)
        return Response(DeliveryReportSerializer({"recipients": report}).data)
