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
    "/api/v1/messages/{id}/body": {"get"},
    "/api/v1/messages/{id}/print": {"get"},
    "/api/v1/quota": {"get"},
    "/api/v1/settings": {"get", "patch"},
    "/api/v1/sending-status": {"get"},
    "/api/v1/settings/password": {"post"},
    "/api/v1/settings/password-policy": {"get"},
    "/api/v1/settings/login-history": {"get"},
    "/api/v1/settings/sessions": {"get"},
    "/api/v1/settings/sessions/{id}": {"delete"},
    "/api/v1/settings/sessions/token": {"delete"},
    "/api/v1/settings/pop3": {"get", "patch"},
    "/api/v1/settings/rules": {"get", "put"},
    "/api/v1/settings/rules/script": {"get", "put"},
    "/api/v1/settings/rules/jobs": {"post"},
    "/api/v1/settings/rules/jobs/{id}": {"get"},
    "/api/v1/settings/blocked-senders": {"get", "post"},
    "/api/v1/settings/blocked-senders/{id}": {"delete"},
    "/api/v1/settings/forwarding": {"get", "put"},
    "/api/v1/settings/vacation": {"get", "put"},
    "/api/v1/settings/mobileconfig": {"post"},
    "/api/v1/settings/fetch-accounts": {"get", "post"},
    "/api/v1/settings/fetch-accounts/{id}": {"get", "patch", "delete"},
    "/api/v1/settings/fetch-accounts/{id}/runs": {"post"},
    "/api/v1/auth/logout-everywhere": {"post"},
    "/api/v1/image-senders": {"get", "post"},
    "/api/v1/image-senders/{id}": {"delete"},
    "/api/v1/app-passwords": {"get", "post"},
    "/api/v1/app-passwords/{id}": {"delete"},
    "/api/v1/messages/move": {"post"},
    "/api/v1/messages/flags": {"post"},
    "/api/v1/messages/delete": {"post"},
    "/api/v1/messages/send": {"post"},
    "/api/v1/outbox": {"get"},
    "/api/v1/outbox/settings": {"get", "patch"},
    "/api/v1/outbox/sent-status": {"get"},
    "/api/v1/outbox/{id}": {"get", "patch", "delete"},
    "/api/v1/outbox/{id}/recall": {"post"},
    "/api/v1/messages/{id}/read-status": {"get"},
    "/api/v1/messages/{id}/receipt": {"get", "post"},
    "/api/v1/messages/{id}/delivery": {"get"},
    "/api/v1/compose-limits": {"get"},
    "/api/v1/uploads": {"post"},
    "/api/v1/uploads/{id}": {"delete"},
    "/api/v1/drafts": {"post"},
    "/api/v1/drafts/{id}": {"get", "put", "delete"},
    "/api/v1/messages/search": {"get"},
    "/api/v1/messages": {"get"},
    "/api/v1/messages/counts": {"get"},
    "/api/v1/messages/spam": {"post"},
    "/api/v1/folders/{id}/empty": {"post"},
    "/api/v1/contacts": {"get"},
    "/api/v1/contacts/entries": {"get", "post"},
    "/api/v1/contacts/entries/{id}": {"get", "put", "delete"},
    "/api/v1/contacts/entries/delete": {"post"},
    "/api/v1/contacts/groups": {"get", "post"},
    "/api/v1/contacts/groups/{id}": {"patch", "delete"},
    "/api/v1/contacts/import": {"post"},
    "/api/v1/contacts/export": {"get"},
    "/api/v1/conversations/{id}": {"get"},
    "/api/v1/events": {"get"},
    # The admin console (webmail/adminconsole/urls.py).
    "/api/v1/admin/dashboard": {"get"},
    "/api/v1/admin/domains": {"get", "post"},
    "/api/v1/admin/domains/{name}": {"get", "patch", "delete"},
    "/api/v1/admin/domains/{name}/catchall": {"put", "delete"},
    "/api/v1/admin/domains/{name}/dkim": {"get", "post"},
    "/api/v1/admin/domains/{name}/dkim/{selector}/activate": {"post"},
    "/api/v1/admin/domains/{name}/dns": {"get"},
    "/api/v1/admin/accounts": {"get", "post"},
    "/api/v1/admin/accounts/{id}": {"get", "patch", "delete"},
    "/api/v1/admin/accounts/{id}/password": {"post"},
    "/api/v1/admin/accounts/{id}/pop3": {"get", "patch"},
    "/api/v1/admin/accounts/{id}/app-passwords": {"get", "post"},
    "/api/v1/admin/accounts/{id}/app-passwords/{app_password_id}": {"delete"},
    "/api/v1/admin/accounts/{id}/aliases": {"get", "post"},
    "/api/v1/admin/aliases": {"get", "post"},
    "/api/v1/admin/aliases/{id}": {"get", "put", "delete"},
    "/api/v1/admin/relay-rules": {"get", "post"},
    "/api/v1/admin/relay-rules/{id}": {"delete"},
    "/api/v1/admin/queue": {"get"},
    "/api/v1/admin/queue/flush": {"post"},
    "/api/v1/admin/queue/{queue_id}": {"get", "delete"},
    "/api/v1/admin/queue/{queue_id}/retry": {"post"},
    "/api/v1/admin/queue/{queue_id}/bounce": {"post"},
    "/api/v1/admin/sending-holds": {"get"},
    "/api/v1/admin/sending-holds/{id}/release": {"post"},
    "/api/v1/admin/sending-holds/{id}/delete": {"post"},
    "/api/v1/admin/accounts/{id}/hold": {"post"},
    "/api/v1/admin/accounts/{id}/sending-policy": {"get", "put", "delete"},
    "/api/v1/admin/domains/{name}/sending-policy": {"get", "put", "delete"},
    "/api/v1/admin/delivery-log": {"get"},
    "/api/v1/admin/audit-log": {"get"},
    "/api/v1/admin/login-history": {"get"},
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
