"""대용량 첨부 (issue 14 §4) through the API: resumable upload sessions (create, chunks in order,
resume from the committed offset, finish with the SHA-256), limits and quota, sending as a link
block, the public page and download (Range, counts, 410), expiry and revoke, the recipient's
list, and another user's ids."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.mime import parse_message
from mailcore.outbox.largefiles import cleanup_large_files
from mailcore.outbox.models import LargeFile, LargeFileState
from mailcore.outbox.tasks import cleanup_large_files_task
from mailcore.store.models import Message
from tests.api.compose_helpers import messages_in, raw, send
from tests.api.helpers import token_client
from tests.conftest import run_queue

pytestmark = pytest.mark.django_db

DATA = os.urandom(300_000)
CHUNK = 100_000


@pytest.fixture(autouse=True)
def largefile_dir(settings: Any, tmp_path: Path) -> Path:
    settings.LARGE_FILE_DIR = tmp_path / "largefiles"
    settings.LARGE_FILE_CHUNK_MAX_BYTES = CHUNK
    return tmp_path / "largefiles"


def streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def sent_copy(row: LargeFile) -> Message:
    assert row.sent_copy is not None
    return row.sent_copy


def create(client: APIClient, size: int = len(DATA), name: str = "영상.mp4") -> Any:
    return client.post(
        "/api/v1/largefiles/uploads",
        {"filename": name, "size": size, "content_type": "video/mp4"},
        format="json",
    )


def chunk(client: APIClient, upload_id: str, offset: int, data: bytes) -> Any:
    return client.generic(
        "PATCH",
        f"/api/v1/largefiles/uploads/{upload_id}",
        data,  # type: ignore[arg-type]
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


def finish(client: APIClient, upload_id: str, data: bytes = DATA) -> Any:
    return client.post(
        f"/api/v1/largefiles/uploads/{upload_id}/finish",
        {"sha256": hashlib.sha256(data).hexdigest()},
        format="json",
    )


def uploaded(client: APIClient, data: bytes = DATA, name: str = "영상.mp4") -> str:
    upload_id = str(create(client, len(data), name).json()["id"])
    for offset in range(0, len(data), CHUNK):
        assert chunk(client, upload_id, offset, data[offset : offset + CHUNK]).status_code == 200
    assert finish(client, upload_id, data).status_code == 200
    return upload_id


def sent_link(client: APIClient, to: str, upload_id: str, **extra: Any) -> str:
    response = send(
        client, to=[to], subject="큰 파일", text="받아 주세요", large_files=[upload_id], **extra
    )
    assert response.status_code == 201, response.json()
    row = LargeFile.objects.get(upload_id=upload_id)
    parsed = parse_message(raw(sent_copy(row)))
    match = re.search(r"http://testserver/f/([A-Za-z0-9_-]{32})", parsed.text)
    assert match, parsed.text
    if parsed.html:
        assert f'href="http://testserver/f/{match.group(1)}"' in parsed.html
    return match.group(1)


def test_upload_resume_and_finish(alice_api: APIClient, largefile_dir: Path) -> None:
    response = create(alice_api)
    assert response.status_code == 201, response.json()
    body = response.json()
    upload_id = body["id"]
    assert len(upload_id) == 32 and body["offset"] == 0 and body["state"] == "uploading"
    assert response["Upload-Offset"] == "0"
    assert chunk(alice_api, upload_id, 0, DATA[:CHUNK]).json()["offset"] == CHUNK
    # Out of order (a chunk ahead, or one already stored) is refused with where to go on.
    for wrong in (2 * CHUNK, 0):
        refused = chunk(alice_api, upload_id, wrong, DATA[wrong : wrong + CHUNK])
        assert refused.status_code == 409
        assert refused.json()["error"] == "offset_mismatch"
        assert refused.json()["offset"] == CHUNK and refused["Upload-Offset"] == str(CHUNK)
    # After a reload: HEAD (and GET) tell the committed offset, and the upload goes on there.
    head = alice_api.head(f"/api/v1/largefiles/uploads/{upload_id}")
    assert head.status_code == 200 and head["Upload-Offset"] == str(CHUNK)
    offset = alice_api.get(f"/api/v1/largefiles/uploads/{upload_id}").json()["offset"]
    while offset < len(DATA):
        offset = chunk(alice_api, upload_id, offset, DATA[offset : offset + CHUNK]).json()["offset"]
    # Not finished yet: not sendable.
    assert LargeFile.objects.get(upload_id=upload_id).state == LargeFileState.UPLOADING
    done = finish(alice_api, upload_id)
    assert done.status_code == 200 and done.json()["state"] == "ready"
    row = LargeFile.objects.get(upload_id=upload_id)
    assert (largefile_dir / row.storage_name).read_bytes() == DATA
    # A finish retried after a lost answer is the same answer.
    assert finish(alice_api, upload_id).status_code == 200
    # Chunks after the finish are refused.
    assert chunk(alice_api, upload_id, 0, b"x").json()["error"] == "upload_finished"


@pytest.mark.django_db(transaction=True)
def test_dropped_connection_commits_nothing(live_server: Any, alice: Account) -> None:
    """A real socket sends half a chunk and closes (a dropped connection): nothing of it
    counts, and the same chunk sent again from the same offset is taken."""
    client = token_client(alice)
    upload_id = create(client).json()["id"]
    token = Token.objects.get(user=alice).key
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=30) as sock:
        sock.sendall(
            f"PATCH /api/v1/largefiles/uploads/{upload_id} HTTP/1.1\r\n"
            f"Host: {url.hostname}\r\nAuthorization: Token {token}\r\n"
            "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {CHUNK}\r\nConnection: close\r\n\r\n".encode()
            + DATA[: CHUNK // 2]
        )
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while block := sock.recv(65536):
            answer += block
    assert b" 400 " in answer.split(b"\r\n", 1)[0], answer[:300]
    assert b"chunk_incomplete" in answer
    assert client.get(f"/api/v1/largefiles/uploads/{upload_id}").json()["offset"] == 0
    assert chunk(client, upload_id, 0, DATA[:CHUNK]).json()["offset"] == CHUNK


def test_finish_with_wrong_sha256_is_refused_and_empties(alice_api: APIClient) -> None:
    upload_id = create(alice_api, 10).json()["id"]
    assert finish(alice_api, upload_id, b"0123456789").json()["error"] == "upload_incomplete"
    chunk(alice_api, upload_id, 0, b"0123456789")
    response = finish(alice_api, upload_id, b"something else")
    assert response.status_code == 400
    assert response.json()["error"] == "sha256_mismatch"
    assert alice_api.get(f"/api/v1/largefiles/uploads/{upload_id}").json()["offset"] == 0
    assert LargeFile.objects.get(upload_id=upload_id).state == LargeFileState.UPLOADING
    # Sending it before it is finished is a field error.
    response = send(alice_api, to=["bob@example.com"], subject="x", large_files=[upload_id])
    assert response.status_code == 400 and "large_files" in response.json()["fields"]


def test_limits_quota_and_chunk_size(settings: Any, alice_api: APIClient) -> None:
    settings.LARGE_FILE_MAX_BYTES = 1000
    settings.LARGE_FILE_QUOTA_BYTES = 1500
    too_large = create(alice_api, 1001)
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "upload_too_large"
    assert create(alice_api, 1000).status_code == 201
    over = create(alice_api, 501)
    assert over.status_code == 507 and over.json()["error"] == "large_file_quota"
    assert create(alice_api, 500).status_code == 201
    limits = alice_api.get("/api/v1/largefiles/limits").json()
    assert limits["used_bytes"] == 1500 and limits["max_bytes"] == 1000
    settings.LARGE_FILE_MAX_BYTES = 10 * CHUNK
    settings.LARGE_FILE_QUOTA_BYTES = 0
    upload_id = create(alice_api, 3 * CHUNK).json()["id"]
    big = chunk(alice_api, upload_id, 0, os.urandom(CHUNK + 1))
    assert big.status_code == 413 and big.json()["error"] == "upload_too_large"
    small = create(alice_api, 10).json()["id"]
    past = chunk(alice_api, small, 0, b"01234567890")
    assert past.status_code == 400 and past.json()["error"] == "invalid_message"
    assert create(alice_api, 0).status_code == 400
    # A name that would display reversed ("invoiceexe.pdf") loses its bidi override.
    assert create(alice_api, 10, "invoice\u202efdp.exe").json()["filename"] == "invoicefdp.exe"


def test_other_users_upload_is_not_found(alice_api: APIClient, bob_api: APIClient) -> None:
    upload_id = create(alice_api).json()["id"]
    assert bob_api.get(f"/api/v1/largefiles/uploads/{upload_id}").status_code == 404
    assert chunk(bob_api, upload_id, 0, DATA[:10]).status_code == 404
    assert finish(bob_api, upload_id).status_code == 404
    assert bob_api.delete(f"/api/v1/largefiles/uploads/{upload_id}").status_code == 404
    assert bob_api.delete(f"/api/v1/largefiles/{upload_id}").status_code == 404
    done = uploaded(alice_api)
    response = send(bob_api, to=["alice@example.com"], subject="mine?", large_files=[done])
    assert response.status_code == 404
    assert alice_api.get(f"/api/v1/largefiles/uploads/{upload_id}").json()["offset"] == 0


def test_send_link_download_range_and_counts(
    settings: Any, alice_api: APIClient, bob: Account, bob_api: APIClient
) -> None:
    upload_id = uploaded(alice_api)
    token = sent_link(alice_api, "bob@example.com", upload_id, html="<p>받아 주세요</p>")
    sent = LargeFile.objects.get(upload_id=upload_id)
    parsed = parse_message(raw(sent_copy(sent)))
    assert "받아 주세요" in parsed.text and "대용량 첨부 1개" in parsed.text
    assert "영상.mp4 (293.0 KiB)" in parsed.text and "영상.mp4</a>" in parsed.html
    assert sent.state == LargeFileState.SENT and sent.outbox_item is not None
    assert sent.expires_at is not None
    assert sent.expires_at - timezone.now() > timedelta(days=settings.LARGE_FILE_DAYS - 1)
    assert len(DATA) == sent.size  # the bytes are not in the message
    assert len(raw(sent_copy(sent))) < 50_000

    anonymous = Client()
    page = anonymous.get(f"/f/{token}")
    assert page.status_code == 200
    assert "영상.mp4" in page.content.decode() and "Download" in page.content.decode()
    assert page["Referrer-Policy"] == "no-referrer"

    full = anonymous.get(f"/f/{token}/download")
    assert full.status_code == 200
    assert streamed(full) == DATA
    assert full["Content-Disposition"].startswith("attachment;")
    assert full["X-Content-Type-Options"] == "nosniff"
    assert full["Content-Security-Policy"] == "sandbox"
    assert full["Accept-Ranges"] == "bytes" and full["Content-Length"] == str(len(DATA))

    part = anonymous.get(f"/f/{token}/download", HTTP_RANGE="bytes=1000-1999")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    assert streamed(part) == DATA[1000:2000]
    tail = anonymous.get(f"/f/{token}/download", HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and streamed(tail) == DATA[-10:]
    open_end = anonymous.get(f"/f/{token}/download", HTTP_RANGE=f"bytes={len(DATA) - 5}-")
    assert streamed(open_end) == DATA[-5:]
    beyond = anonymous.get(f"/f/{token}/download", HTTP_RANGE=f"bytes={len(DATA)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(DATA)}"
    stale = anonymous.get(
        f"/f/{token}/download", HTTP_RANGE="bytes=10-19", HTTP_IF_RANGE='"another"'
    )
    assert stale.status_code == 200
    streamed(stale)
    assert anonymous.head(f"/f/{token}/download").status_code == 200

    # Counted: the two requests from byte 0 (the full one and the If-Range one), not the
    # resumed parts or HEAD.
    files = alice_api.get("/api/v1/largefiles").json()
    assert [(f["id"], f["download_count"], f["state"]) for f in files] == [(upload_id, 2, "sent")]
    assert (
        alice_api.get(f"/api/v1/largefiles?message={sent.sent_copy_id}").json()[0]["id"]
        == upload_id
    )
    assert bob_api.get("/api/v1/largefiles").json() == []

    # Bob, a local recipient, sees the file beside the attachments.
    run_queue()
    received = messages_in(bob, "inbox")[-1]
    listed = bob_api.get(f"/api/v1/messages/{received.pk}/large-files").json()
    assert listed == [
        {
            "filename": "영상.mp4",
            "size": len(DATA),
            "expires_at": listed[0]["expires_at"],
            "available": True,
            "url": f"/f/{token}",
        }
    ]
    assert alice_api.get(f"/api/v1/messages/{received.pk}/large-files").status_code == 404

    # The download limit (Naver's 100) ends the link with 410.
    settings.LARGE_FILE_MAX_DOWNLOADS = 3
    first = anonymous.get(f"/f/{token}/download", HTTP_RANGE="bytes=0-0")
    assert first.status_code == 206 and streamed(first) == DATA[:1]
    assert anonymous.get(f"/f/{token}/download").status_code == 410
    assert anonymous.get(f"/f/{token}").status_code == 410


def test_scheduled_send_counts_expiry_from_its_time(
    settings: Any, alice_api: APIClient, bob: Account
) -> None:
    upload_id = uploaded(alice_api)
    send_at = timezone.now() + timedelta(days=10)
    response = send(
        alice_api,
        to=["bob@example.com"],
        subject="later",
        text="x",
        large_files=[upload_id],
        send_at=send_at.isoformat(),
    )
    assert response.status_code == 201, response.json()
    row = LargeFile.objects.get(upload_id=upload_id)
    assert row.expires_at == send_at + timedelta(days=settings.LARGE_FILE_DAYS)
    until = row.expires_at.date().isoformat()
    assert f"until {until}" in parse_message(raw(sent_copy(row))).text
    # A file goes with one message only.
    again = send(alice_api, to=["bob@example.com"], subject="again", large_files=[upload_id])
    assert again.status_code == 400 and "large_files" in again.json()["fields"]


def test_revoke_answers_410_and_removes_bytes(
    alice_api: APIClient, bob: Account, largefile_dir: Path
) -> None:
    upload_id = uploaded(alice_api)
    token = sent_link(alice_api, "bob@example.com", upload_id)
    row = LargeFile.objects.get(upload_id=upload_id)
    response = alice_api.delete(f"/api/v1/largefiles/{upload_id}")
    assert response.status_code == 200 and response.json()["state"] == "revoked"
    assert not (largefile_dir / row.storage_name).exists()
    gone = Client().get(f"/f/{token}/download")
    assert gone.status_code == 410
    assert "expired this file" in gone.content.decode()
    assert Client().get(f"/f/{token}").status_code == 410
    assert Client().get("/f/" + "A" * 32).status_code == 404
    assert Client().get("/f/short/download").status_code == 404
    # A sent file cannot be dropped as an upload.
    assert alice_api.delete(f"/api/v1/largefiles/uploads/{upload_id}").status_code == 409


def test_expiry_and_cleanup(
    settings: Any, alice_api: APIClient, bob: Account, largefile_dir: Path
) -> None:
    upload_id = uploaded(alice_api)
    token = sent_link(alice_api, "bob@example.com", upload_id)
    abandoned = create(alice_api).json()["id"]
    ready_unsent = uploaded(alice_api, b"never sent")
    fresh = create(alice_api).json()["id"]
    orphan = largefile_dir / ("f" * 32)
    orphan.write_bytes(b"debris")
    old = timezone.now() - timedelta(hours=settings.LARGE_FILE_ABANDON_HOURS + 1)
    LargeFile.objects.filter(upload_id__in=[abandoned, ready_unsent]).update(updated_at=old)
    os.utime(orphan, (old.timestamp(), old.timestamp()))
    LargeFile.objects.filter(upload_id=upload_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    # Past its time the link is 410 even before the beat ran.
    assert Client().get(f"/f/{token}/download").status_code == 410
    counts = cleanup_large_files_task()  # the beat's task, run as the worker runs it
    assert counts == {"abandoned": 2, "expired": 1, "purged": 0, "orphans": 1}
    assert not orphan.exists()
    row = LargeFile.objects.get(upload_id=upload_id)
    assert row.state == LargeFileState.EXPIRED
    assert not (largefile_dir / row.storage_name).exists()
    assert Client().get(f"/f/{token}").status_code == 410
    assert set(LargeFile.objects.values_list("upload_id", flat=True)) == {upload_id, fresh}
    # Ended rows go after LARGE_FILE_KEEP_ENDED_DAYS; the link is then unknown (404).
    later = timezone.now() + timedelta(days=settings.LARGE_FILE_KEEP_ENDED_DAYS + 1)
    assert cleanup_large_files(later)["purged"] == 1
    assert Client().get(f"/f/{token}").status_code == 404
