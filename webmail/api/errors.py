"""The one exception handler of the API: mailcore errors and DRF exceptions become
`{"error": code, "detail": text}` bodies. No business decisions are made here."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from mailcore.errors import (
    ConflictError,
    DailyLimitError,
    MessageTooLargeError,
    NotFoundError,
    OverQuotaError,
    StorageError,
    TooManyRecipientsError,
    UserError,
)

log = logging.getLogger(__name__)


class InvalidCredentials(exceptions.APIException):
    # 400, not 401: the request was well formed and there is no auth scheme to retry with.
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_credentials"
    default_detail = "Wrong address or password."


class WrongSecondFactor(InvalidCredentials):
    default_code = "wrong_code"
    default_detail = "That code, recovery code or passkey was not accepted."


class EnrolmentRequired(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "second_factor_enrolment_required"
    default_detail = "Your domain requires two-step verification: set it up in the browser first."


class LoginBlocked(exceptions.APIException):
    """Too many wrong passwords from this client or for this account (mailcore.ratelimit). The
    password was not checked, so the answer is the same whether it was right or wrong."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_failures"
    default_detail = "Too many failed sign-ins; try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.wait = retry_after  # DRF turns .wait into the Retry-After header


def error_response(code: str, detail: str, http_status: int, **extra: Any) -> Response:
    return Response({"error": code, "detail": detail, **extra}, status=http_status)


def _first_message(detail: Any) -> str:
    """The first human-readable message inside a ValidationError's nested detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _first_message(value)
            return text if key == "non_field_errors" else f"{key}: {text}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, NotFoundError):
        # The text of a NotFoundError may name what was looked for; "not found" is all the
        # caller learns, whether the object is missing or someone else's (security.md W9).
        return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, ConflictError):
        return error_response(exc.code, str(exc), status.HTTP_409_CONFLICT)
    if isinstance(exc, OverQuotaError):  # RFC 4918's 507: the user must make room first
        return error_response(exc.code, str(exc), status.HTTP_507_INSUFFICIENT_STORAGE)
    if isinstance(exc, DailyLimitError):  # try again later, like SMTP's 4xx would say
        # `limit` lets a client say it in its own words; check_daily_limit counts against it.
        return error_response(
            exc.code,
            str(exc),
            status.HTTP_429_TOO_MANY_REQUESTS,
            limit=exc.limit or settings.SUBMISSION_MAX_MESSAGES_PER_DAY,
        )
    if isinstance(exc, TooManyRecipientsError):
        return error_response(
            exc.code,
            str(exc),
            status.HTTP_400_BAD_REQUEST,
            limit=settings.SUBMISSION_MAX_RECIPIENTS,
        )
    if isinstance(exc, MessageTooLargeError):
        # Sizes in bytes for the client's own text; "fields" keeps forms pointing at the
        # attachments, as the 400 of a field error would.
        return error_response(
            exc.code,
            str(exc),
            status.HTTP_400_BAD_REQUEST,
            fields={"attachments": [str(exc)]},
            size=exc.size,
            limit=exc.limit,
        )
    if isinstance(exc, UserError):
        return error_response(exc.code, str(exc), status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, StorageError):
        log.error("storage error in %s", context.get("view"), exc_info=exc)
        return error_response(
            "storage_unavailable",
            "Mail storage is unavailable; try again.",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # unexpected: Django's 500 handling and logging take over

    if isinstance(exc, exceptions.ValidationError):
        # Field errors stay machine-readable under "fields" for forms; "detail" is one line.
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "error": "invalid",
            "detail": _first_message(exc.detail),
            "fields": fields,
            # The same tree with each message's stable code (e.g. password_too_common), so a
            # client can show its own words in the user's language.
            "field_codes": exc.get_codes()
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.get_codes()},
        }
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = {"error": code, "detail": _first_message(exc.detail)}
    return response
