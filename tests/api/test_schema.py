"""The OpenAPI schema is the mobile apps' contract: it must generate without warnings and
list every public path."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

PATHS = {
    "/api/v1/auth/token": {"post", "delete"},
    "/api/v1/auth/session": {"get", "post", "delete"},
    "/api/v1/folders": {"get", "post"},
    "/api/v1/folders/{id}": {"patch", "delete"},
    "/api/v1/folders/{id}/messages": {"get"},
    "/api/v1/messages/{id}": {"get", "patch", "delete"},
    "/api/v1/messages/{id}/raw": {"get"},
    "/api/v1/messages/{id}/attachments/{index}": {"get"},
    "/api/v1/messages/{id}/cid/{content_id}": {"get"},
    "/api/v1/messages/move": {"post"},
    "/api/v1/messages/flags": {"post"},
    "/api/v1/messages/delete": {"post"},
    "/api/v1/messages/send": {"post"},
    "/api/v1/messages/{id}/delivery": {"get"},
    "/api/v1/uploads": {"post"},
    "/api/v1/uploads/{id}": {"delete"},
    "/api/v1/drafts": {"post"},
    "/api/v1/drafts/{id}": {"get", "put", "delete"},
}


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    assert {p: set(ops) - {"parameters"} for p, ops in schema["paths"].items()} == PATHS


def test_schema_endpoint_is_public(db: None) -> None:
    response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Mailroom API"
