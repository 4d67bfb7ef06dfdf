"""Attachment limits derived from the message size limit (issue 9, item 18): what one upload
and one message's attachments may weigh once base64 has grown them, told to the compose screen
before a file is picked, and enforced with a clear error."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings as django_settings
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.mime.build import ComposeRequest, OutgoingAttachment, build_message, parse_recipient
from tests.api.compose_helpers import messages_in, send, upload, upload_dir

__all__ = ["upload_dir"]


def test_defaults_derive_from_the_smtp_limit() -> None:
    s = django_settings
    assert s.COMPOSE_MAX_MESSAGE_BYTES == s.SMTP_MAX_MESSAGE_BYTES == 25 * 1024 * 1024
    room = (s.COMPOSE_MAX_MESSAGE_BYTES - s.COMPOSE_MESSAGE_OVERHEAD_BYTES) * 57 // 78
    assert s.COMPOSE_MAX_ATTACHMENTS_BYTES == room == 18_965_110
    assert room == s.COMPOSE_MAX_UPLOAD_BYTES  # one file may take the whole room


def test_attachments_of_the_limit_fit_in_a_message_of_the_limit() -> None:
    """The derived room is real: attachments adding up to it, with a body, build (base64,
    MIME framing and all) into a message under the limit the SMTP server takes."""
    s = django_settings
    half = s.COMPOSE_MAX_ATTACHMENTS_BYTES // 2
    request = ComposeRequest(
        sender=parse_recipient("Alice <alice@example.com>"),
        to=(parse_recipient("bob@example.org"),),
        subject="두 파일",
        text="첨부합니다.\n" * 2000,
        html="<p>첨부합니다.</p>" * 2000,
        attachments=(
            OutgoingAttachment("a.bin", "application/octet-stream", os.urandom(half)),
            OutgoingAttachment(
                "b.bin",
                "application/octet-stream",
                os.urandom(s.COMPOSE_MAX_ATTACHMENTS_BYTES - half),
            ),
        ),
    )
    built = build_message(request, max_bytes=s.COMPOSE_MAX_MESSAGE_BYTES)
    assert len(built.data) <= s.SMTP_MAX_MESSAGE_BYTES


def test_compose_limits_endpoint(alice_api: APIClient) -> None:
    s = django_settings
    response = alice_api.get("/api/v1/compose-limits")
    assert response.status_code == 200
    assert response.json() == {
        "max_upload_bytes": s.COMPOSE_MAX_UPLOAD_BYTES,
        "max_attachments_bytes": s.COMPOSE_MAX_ATTACHMENTS_BYTES,
        "max_message_bytes": s.COMPOSE_MAX_MESSAGE_BYTES,
    }
    assert APIClient().get("/api/v1/compose-limits").status_code in (401, 403)


def test_attachments_that_cannot_fit_are_refused_before_building(
    settings,  # type: ignore[no-untyped-def]
    alice: Account,
    bob: Account,
    alice_api: APIClient,
    upload_dir: Path,
) -> None:
    settings.COMPOSE_MAX_ATTACHMENTS_BYTES = 1000
    first = upload(alice_api, b"\x00" * 600).json()
    second = upload(alice_api, b"\x01" * 600, name="b.bin").json()
    response = send(
        alice_api, to=["bob@example.com"], text="x", attachments=[first["id"], second["id"]]
    )
    assert response.status_code == 400
    assert response.json()["error"] == "attachments_too_large"
    assert (response.json()["size"], response.json()["limit"]) == (1200, 1000)
    [text] = response.json()["fields"]["attachments"]
    assert text.startswith("The attachments add up to 0.0 MiB; at most 0.0 MiB of attachments")
    assert messages_in(alice, "sent") == []
    # Drafts are held to the same limit: a draft that could never be sent is refused too.
    response = alice_api.post(
        "/api/v1/drafts", {"attachments": [first["id"], second["id"]]}, format="json"
    )
    assert response.status_code == 400 and "attachments" in response.json()["fields"]
    # One of them fits.
    assert (
        send(alice_api, to=["bob@example.com"], text="x", attachments=[first["id"]]).status_code
        == 201
    )
