"""Helpers of the compose API tests: uploads into a per-test UPLOAD_DIR, sending, listing
folders, reading stored bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Message
from mailcore.store.queries import read_message_bytes
from tests.api.helpers import folder


@pytest.fixture(autouse=True)
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    settings.UPLOAD_DIR = tmp_path / "uploads"
    return tmp_path / "uploads"  # type: ignore[no-any-return]


def upload(
    client: APIClient, data: bytes, name: str = "report.pdf", content_type: str = "application/pdf"
) -> Any:
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post("/api/v1/uploads", {"file": file}, format="multipart")


def send(client: APIClient, **body: Any) -> Any:
    return client.post("/api/v1/messages/send", body, format="json")


def messages_in(account: Account, special_use: str) -> list[Message]:
    return list(Message.objects.filter(folder=folder(account, special_use)).order_by("uid"))


def raw(message: Message) -> bytes:
    message.refresh_from_db()
    return read_message_bytes(message)
