"""Every error body is {"error": code, "detail": text}; mailcore errors map to fixed statuses."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.errors import (
    ConflictError,
    InvalidFolderNameError,
    NotFoundError,
    StorageError,
    UserError,
)
from webmail.api.errors import exception_handler


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (NotFoundError("message 7 of bob"), 404, {"error": "not_found", "detail": "Not found."}),
        (ConflictError("exists"), 409, {"error": "conflict", "detail": "exists"}),
        (
            InvalidFolderNameError("bad name"),
            400,
            {"error": "invalid_folder_name", "detail": "bad name"},
        ),
        (UserError("nope"), 400, {"error": "invalid", "detail": "nope"}),
        (
            StorageError("/var/mail/x: EIO"),
            503,
            {"error": "storage_unavailable", "detail": "Mail storage is unavailable; try again."},
        ),
    ],
)
def test_mailcore_errors(exc: Exception, status: int, body: dict[str, str]) -> None:
    response = exception_handler(exc, {})
    assert response is not None
    # Nothing of the internal message leaks for 404 and 503 (ids, paths).
    assert (response.status_code, response.data) == (status, body)


def test_unexpected_errors_are_left_to_django() -> None:
    assert exception_handler(RuntimeError("bug"), {}) is None


def _assert_shape(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]


def test_drf_errors_have_the_same_shape(alice_api: APIClient) -> None:
    _assert_shape(alice_api.put("/api/v1/folders", {}, format="json"), 405, "method_not_allowed")
    _assert_shape(
        alice_api.post("/api/v1/folders", "{not json", content_type="application/json"),
        400,
        "parse_error",
    )
    _assert_shape(alice_api.post("/api/v1/folders", {"name": "x"}), 415, "unsupported_media_type")
    missing = alice_api.post("/api/v1/folders", {}, format="json")
    _assert_shape(missing, 400, "invalid")
    assert missing.json() == {
        "error": "invalid",
        "detail": "name: This field is required.",
        "fields": {"name": ["This field is required."]},
        "field_codes": {"name": ["required"]},
    }
