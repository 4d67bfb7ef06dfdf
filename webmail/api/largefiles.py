"""대용량 첨부 endpoints (issue 14 §4): resumable upload sessions (tus-like: create with name and
size, PATCH chunks at `Upload-Offset`, HEAD/GET the committed offset, finish with the SHA-256),
the sender's list of sent large files with counts and "expire now", and the large files a
received message links to. Each view parses, calls one mailcore.outbox.largefiles action or
query, and serializes; another account's ids are 404 inside those calls."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.errors import ConflictError
from mailcore.mime.build import check_header_text, normalise_content_type
from mailcore.outbox.largefiles import (
    ChunkTooLargeError,
    LargeFileTooLargeError,
    access_upload,
    do_create_upload_session,
    do_delete_upload_session,
    do_finish_upload,
    do_revoke_large_file,
    do_write_chunk,
    files_in_message,
    is_downloadable,
    list_large_files,
    used_bytes,
)
from mailcore.outbox.models import LargeFile, LargeFileState
from webmail.accounts.current import current_account
from webmail.api.compose import PayloadTooLarge, _as_field_errors
from webmail.api.downloads import display_filename
from webmail.api.serializers import ErrorSerializer, StrictSerializer, ValidationErrorSerializer

OFFSET_HEADER = "Upload-Offset"
CHUNK_TYPE = "application/offset+octet-stream"
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="not yours, or no such upload")
CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="offset_mismatch (the answer's `offset` is where to go on), upload_busy, "
    "upload_finished, upload_incomplete, upload_sent",
)
INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
TOO_LARGE = OpenApiResponse(
    ErrorSerializer, description="large_file_too_large (the file), chunk_too_large (one PATCH)"
)
QUOTA = OpenApiResponse(ErrorSerializer, description="large_file_quota: your files use the quota")
LENGTH = OpenApiResponse(ErrorSerializer, description="length_required: send Content-Length")


class LargeFileLimitsSerializer(serializers.Serializer):
    max_bytes = serializers.IntegerField(help_text="one file (LARGE_FILE_MAX_BYTES)")
    quota_bytes = serializers.IntegerField(help_text="all your large files (0 = no limit)")
    used_bytes = serializers.IntegerField(help_text="uploading, ready and sent, not expired")
    chunk_max_bytes = serializers.IntegerField(help_text="one PATCH at most")
    days = serializers.IntegerField(help_text="a sent file is downloadable this long")
    max_downloads = serializers.IntegerField(help_text="per file (0 = no limit)")


class UploadCreateSerializer(StrictSerializer):
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1)
    content_type = serializers.CharField(max_length=255, required=False, default="")


class UploadSessionSerializer(serializers.Serializer):
    id = serializers.CharField(source="upload_id", help_text="keep it to resume (localStorage)")
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    offset = serializers.IntegerField(help_text="bytes stored; the next chunk starts here")
    state = serializers.ChoiceField(choices=LargeFileState.choices)
    chunk_max_bytes = serializers.SerializerMethodField()

    def get_chunk_max_bytes(self, obj: LargeFile) -> int:
        return int(settings.LARGE_FILE_CHUNK_MAX_BYTES)


class FinishSerializer(StrictSerializer):
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", help_text="of the whole file, hex")


class SentLargeFileSerializer(serializers.Serializer):
    id = serializers.CharField(source="upload_id")
    filename = serializers.CharField()
    size = serializers.IntegerField()
    state = serializers.ChoiceField(choices=LargeFileState.choices)
    message = serializers.IntegerField(
        source="sent_copy_id", allow_null=True, help_text="your Sent copy (null if deleted)"
    )
    sent_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True, help_text="revoked or expired at")
    download_count = serializers.IntegerField()
    last_download_at = serializers.DateTimeField(allow_null=True)


class LinkedLargeFileSerializer(serializers.Serializer):
    filename = serializers.CharField()
    size = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    available = serializers.BooleanField(help_text="false: expired, revoked or at its limit")
    url = serializers.CharField(help_text="the download page; `url`/download is the file")


def _session(upload: LargeFile, http_status: int = status.HTTP_200_OK) -> Response:
    response = Response(UploadSessionSerializer(upload).data, status=http_status)
    response[OFFSET_HEADER] = str(upload.offset)
    response["Upload-Length"] = str(upload.size)
    response["Cache-Control"] = "no-store"
    return response


class LargeFileLimitsView(APIView):
    @extend_schema(operation_id="largefiles_limits", responses={200: LargeFileLimitsSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            LargeFileLimitsSerializer(
                {
                    "max_bytes": settings.LARGE_FILE_MAX_BYTES,
                    "quota_bytes": settings.LARGE_FILE_QUOTA_BYTES,
                    "used_bytes": used_bytes(current_account(request)),
                    "chunk_max_bytes": settings.LARGE_FILE_CHUNK_MAX_BYTES,
                    "days": settings.LARGE_FILE_DAYS,
                    "max_downloads": settings.LARGE_FILE_MAX_DOWNLOADS,
                }
            ).data
        )


class UploadSessionListView(APIView):
    @extend_schema(
        operation_id="largefiles_uploads_create",
        request=UploadCreateSerializer,
        responses={201: UploadSessionSerializer, 400: INVALID, 413: TOO_LARGE, 507: QUOTA},
        description="Start a resumable upload of one large file (up to LARGE_FILE_MAX_BYTES): "
        "its size is reserved in your large-file quota (507 large_file_quota past it). Then "
        "PATCH the chunks in order; an upload with no chunk for LARGE_FILE_ABANDON_HOURS is "
        "removed.",
    )
    def post(self, request: Request) -> Response:
        data = UploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_field_errors():
            # Shown in the mail's link block and the download page: bidi and control
            # characters go here, as for attachment names (security.md W7).
            filename = display_filename(
                check_header_text(data.validated_data["filename"], "filename", limit=255),
                fallback="file",
            )
        try:
            upload = do_create_upload_session(
                acting_account=current_account(request),
                filename=filename,
                content_type=normalise_content_type(data.validated_data["content_type"]),
                size=data.validated_data["size"],
            )
        except LargeFileTooLargeError as exc:
            raise PayloadTooLarge(str(exc)) from exc
        response = _session(upload, status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/largefiles/uploads/{upload.upload_id}"
        return response


class UploadSessionView(APIView):
    @extend_schema(
        operation_id="largefiles_uploads_retrieve",
        responses={200: UploadSessionSerializer, 404: NOT_FOUND},
        description="Where an upload stands (also HEAD: the `Upload-Offset` header alone): "
        "after a reload or a dropped connection, resume from `offset`.",
    )
    def get(self, request: Request, upload_id: str) -> Response:
        return _session(access_upload(current_account(request), upload_id))

    @extend_schema(
        operation_id="largefiles_uploads_chunk",
        parameters=[
            OpenApiParameter(
                OFFSET_HEADER,
                int,
                OpenApiParameter.HEADER,
                required=True,
                description="where this chunk starts: the upload's offset",
            )
        ],
        request={CHUNK_TYPE: OpenApiTypes.BINARY},
        responses={
            200: UploadSessionSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: CONFLICT,
            411: LENGTH,
            413: TOO_LARGE,
        },
        description="One chunk (at most LARGE_FILE_CHUNK_MAX_BYTES, Content-Length required), "
        "the raw bytes as the body. Acknowledged only once written and fsynced; a chunk at "
        "another offset is 409 offset_mismatch with the right `offset`; a body that ends early "
        "(a dropped connection) stores nothing: send it again from the same offset.",
    )
    def patch(self, request: Request, upload_id: str) -> Response:
        upload = access_upload(current_account(request), upload_id)
        offset_text = request.headers.get(OFFSET_HEADER, "")
        length_text = request.META.get("CONTENT_LENGTH") or ""
        if not offset_text.isdigit():
            raise exceptions.ValidationError({OFFSET_HEADER: ["A byte offset is required."]})
        if not length_text.isdigit():
            return Response(
                {"error": "length_required", "detail": "Content-Length is required."},
                status=status.HTTP_411_LENGTH_REQUIRED,
            )
        try:
            upload = do_write_chunk(
                acting_account=current_account(request),
                upload=upload,
                offset=int(offset_text),
                length=int(length_text),
                read=request._request.read,
            )
        except ChunkTooLargeError as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ConflictError as exc:
            if exc.code != "offset_mismatch":
                raise
            upload.refresh_from_db()
            response = Response(
                {"error": exc.code, "detail": str(exc), "offset": upload.offset},
                status=status.HTTP_409_CONFLICT,
            )
            response[OFFSET_HEADER] = str(upload.offset)
            return response
        return _session(upload)

    @extend_schema(
        operation_id="largefiles_uploads_destroy",
        responses={204: OpenApiResponse(description="removed"), 404: NOT_FOUND, 409: CONFLICT},
        description="Drop an upload that was not sent (a sent file: DELETE /largefiles/{id}).",
    )
    def delete(self, request: Request, upload_id: str) -> Response:
        account = current_account(request)
        do_delete_upload_session(acting_account=account, upload=access_upload(account, upload_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadFinishView(APIView):
    @extend_schema(
        operation_id="largefiles_uploads_finish",
        request=FinishSerializer,
        responses={200: UploadSessionSerializer, 400: INVALID, 404: NOT_FOUND, 409: CONFLICT},
        description="Check the stored file against your SHA-256; then it can be sent "
        "(`large_files` of POST /api/v1/messages/send). A mismatch is 400 sha256_mismatch and "
        "empties the upload (offset 0) to be uploaded again.",
    )
    def post(self, request: Request, upload_id: str) -> Response:
        account = current_account(request)
        data = FinishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = do_finish_upload(
            acting_account=account,
            upload=access_upload(account, upload_id),
            sha256=data.validated_data["sha256"],
        )
        return _session(upload)


class LargeFileListView(APIView):
    @extend_schema(
        operation_id="largefiles_list",
        parameters=[OpenApiParameter("message", int, description="only those of this Sent copy")],
        responses={200: SentLargeFileSerializer(many=True)},
        description="Your sent large files (newest first, at most 500): downloads, expiry, "
        "and ended ones for LARGE_FILE_KEEP_ENDED_DAYS.",
    )
    def get(self, request: Request) -> Response:
        message = request.query_params.get("message", "")
        files = list_large_files(
            current_account(request), message_id=int(message) if message.isdigit() else None
        )
        return Response(SentLargeFileSerializer(files, many=True).data)


class LargeFileDetailView(APIView):
    @extend_schema(
        operation_id="largefiles_expire",
        responses={200: SentLargeFileSerializer, 404: NOT_FOUND},
        description="Expire a sent file now: the bytes are removed and its link answers 410.",
    )
    def delete(self, request: Request, upload_id: str) -> Response:
        account = current_account(request)
        upload = do_revoke_large_file(
            acting_account=account, upload=access_upload(account, upload_id)
        )
        return Response(SentLargeFileSerializer(upload).data)


class MessageLargeFilesView(APIView):
    @extend_schema(
        operation_id="messages_large_files",
        responses={200: LinkedLargeFileSerializer(many=True), 404: NOT_FOUND},
        description="The large files of this server that a message of yours links to (a "
        "received 대용량 첨부 shown beside the attachments).",
    )
    def get(self, request: Request, pk: int) -> Response:
        found = files_in_message(current_account(request), pk)
        rows = [
            {
                "filename": f.filename,
                "size": f.size,
                "expires_at": f.expires_at,
                "available": is_downloadable(f),
                "url": f"/f/{token}",
            }
            for token, f in found
        ]
        return Response(LinkedLargeFileSerializer(rows, many=True).data)
