"""POST/DELETE /api/v1/uploads: stored durably, limited in size (413), private to their owner,
cleaned up after a day."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from tests.api.compose_helpers import upload, upload_dir
from webmail.compose.actions import cleanup_uploads
from webmail.compose.models import Upload

__all__ = ["upload_dir"]


def test_upload_and_delete(alice: Account, alice_api: APIClient, upload_dir: Path) -> None:
    response = upload(alice_api, b"%PDF-1.4 data", name="보고서.pdf")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {
        "id": body["id"],
        "filename": "보고서.pdf",
        "content_type": "application/pdf",
        "size": 13,
    }
    row = Upload.objects.get(pk=body["id"])
    assert (upload_dir / row.storage_name).read_bytes() == b"%PDF-1.4 data"
    assert alice_api.delete(f"/api/v1/uploads/{body['id']}").status_code == 204
    assert not (upload_dir / row.storage_name).exists()
    assert alice_api.delete(f"/api/v1/uploads/{body['id']}").status_code == 404


def test_upload_limit_is_413_with_a_clear_error(
    settings,
    alice: Account,
    alice_api: APIClient,
    upload_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    settings.COMPOSE_MAX_UPLOAD_BYTES = 1000
    response = upload(alice_api, b"x" * 1001)
    assert response.status_code == 413
    assert response.json()["error"] == "upload_too_large"
    # 1000 bytes are 0.001 MiB (1024-based sizes are named in binary units, never "MB")
    assert response.json()["detail"] == "The file is larger than the 0.0 MiB upload limit."
    # Refused by Content-Length before the body is read at all.
    response = upload(alice_api, b"x" * 200_000)
    assert response.status_code == 413
    assert Upload.objects.count() == 0 and list(upload_dir.iterdir()) == []
    assert upload(alice_api, b"x" * 1000).status_code == 201


def test_pending_upload_quota(settings, alice: Account, alice_api: APIClient) -> None:  # type: ignore[no-untyped-def]
    settings.COMPOSE_UPLOAD_QUOTA_BYTES = 1500
    assert upload(alice_api, b"x" * 1000).status_code == 201
    response = upload(alice_api, b"x" * 1000)
    assert response.status_code == 413 and "quota" in response.json()["detail"]


def test_upload_needs_multipart_and_a_file(alice_api: APIClient) -> None:
    assert alice_api.post("/api/v1/uploads", {"file": "x"}, format="json").status_code == 415
    assert alice_api.post("/api/v1/uploads", {}, format="multipart").status_code == 400


def test_upload_needs_authentication(db: None) -> None:
    assert upload(APIClient(), b"x").status_code in (401, 403)


def test_cleanup_removes_old_uploads_and_orphan_files(
    alice: Account, alice_api: APIClient, upload_dir: Path
) -> None:
    old = Upload.objects.get(pk=upload(alice_api, b"old").json()["id"])
    fresh = Upload.objects.get(pk=upload(alice_api, b"fresh").json()["id"])
    Upload.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    orphan = upload_dir / "0123456789abcdef.tmp"
    orphan.write_bytes(b"debris")
    two_days_ago = time.time() - 2 * 86400
    os.utime(orphan, (two_days_ago, two_days_ago))

    assert cleanup_uploads() == 2
    assert list(Upload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert sorted(p.name for p in upload_dir.iterdir()) == [fresh.storage_name]
