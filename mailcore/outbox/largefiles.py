"""대용량 첨부 (large-file links, issue 14 §4): resumable upload sessions, attaching finished
files to a send (the mail carries a link block, not the bytes), the public link's lookup and
download count, revoke ("expire now"), and the beat clean-up. Views call one of these.

Rows are written only here; bytes only through largefile_storage. A chunk is acknowledged only
after its bytes are fsynced and the new offset is committed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import (
    ConflictError,
    InvalidMessageError,
    NotFoundError,
    OverQuotaError,
    UserError,
)
from mailcore.mime import parse_message
from mailcore.outbox import largefile_storage as storage
from mailcore.outbox.models import LargeFile, LargeFileState, OutboxItem
from mailcore.store.models import Message
from mailcore.store.queries import access_message, read_message_bytes

log = logging.getLogger("mailroom")

LIVE_STATES = (LargeFileState.UPLOADING, LargeFileState.READY, LargeFileState.SENT)
TOKEN_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters
TOKEN_RE = re.compile(r"/f/([A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])")
LINK_PREFIX = "f/"


class LargeFileTooLargeError(UserError):
    code = "large_file_too_large"


class LargeFileQuotaError(OverQuotaError):
    code = "large_file_quota"


class ChunkTooLargeError(UserError):
    code = "chunk_too_large"


class ChecksumMismatchError(UserError):
    code = "sha256_mismatch"


class ShortChunkError(UserError):
    code = "chunk_incomplete"


# --- queries ----------------------------------------------------------------------------------


def access_upload(account: Account, upload_id: str) -> LargeFile:
    """The account's large file by its upload id; NotFoundError for anyone else's."""
    found = LargeFile.objects.filter(account=account, upload_id=str(upload_id)[:32]).first()
    if found is None:
        raise NotFoundError("large file not found")
    return found


def list_large_files(account: Account, *, message_id: int | None = None) -> list[LargeFile]:
    """The account's sent large files (and ended ones still kept), newest first; with
    `message_id`, those of one Sent copy."""
    qs = LargeFile.objects.filter(
        account=account,
        state__in=(LargeFileState.SENT, LargeFileState.REVOKED, LargeFileState.EXPIRED),
    )
    if message_id is not None:
        qs = qs.filter(sent_copy_id=message_id)
    return list(qs.order_by("-sent_at", "-pk")[:500])


def used_bytes(account: Account) -> int:
    total = LargeFile.objects.filter(account=account, state__in=LIVE_STATES).aggregate(
        s=Sum("size")
    )["s"]
    return int(total or 0)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def file_for_token(token: str) -> LargeFile | None:
    """The file a public link names, or None. The lookup is by the token's SHA-256 (an
    attacker's guess does not steer the index comparison byte by byte), then compared in
    constant time."""
    if len(token) != 32:
        return None
    wanted = token_hash(token)
    found = LargeFile.objects.filter(token_hash=wanted).first()
    if found is None or not hmac.compare_digest(found.token_hash or "", wanted):
        return None
    return found


def files_linked_from(text: str) -> list[tuple[str, LargeFile]]:
    """(token, file) for each of this server's large-file links in a message text, in order
    (a local recipient's reading pane lists them beside the attachments)."""
    out: list[tuple[str, LargeFile]] = []
    seen: set[str] = set()
    for token in TOKEN_RE.findall(text)[:50]:
        if token in seen:
            continue
        seen.add(token)
        found = file_for_token(token)
        if found is not None and found.state != LargeFileState.UPLOADING:
            out.append((token, found))
    return out


def files_in_message(account: Account, message_id: int) -> list[tuple[str, LargeFile]]:
    """The large files a message of the account links to (NotFoundError if it is not the
    account's): read and parse its bytes, then files_linked_from its text and HTML."""
    message = access_message(account, message_id)
    parsed = parse_message(read_message_bytes(message))
    return files_linked_from(f"{parsed.text}\n{parsed.html}")


def is_downloadable(found: LargeFile, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        found.state == LargeFileState.SENT
        and found.expires_at is not None
        and found.expires_at > now
        and not download_limit_reached(found)
    )


def download_limit_reached(found: LargeFile) -> bool:
    limit = settings.LARGE_FILE_MAX_DOWNLOADS
    return bool(limit) and found.download_count >= limit


# --- upload sessions --------------------------------------------------------------------------


def do_create_upload_session(
    *, acting_account: Account, filename: str, content_type: str, size: int
) -> LargeFile:
    """Reserve `size` bytes of the account's large-file quota and create an empty file.
    LargeFileTooLargeError past LARGE_FILE_MAX_BYTES, LargeFileQuotaError past the quota."""
    limit = settings.LARGE_FILE_MAX_BYTES
    if size < 1:
        raise InvalidMessageError("the file is empty", field="size")
    if size > limit:
        raise LargeFileTooLargeError(
            f"The file is larger than the {limit / 1024**3:.1f} GiB large-file limit."
        )
    name = storage.create()
    try:
        with transaction.atomic():
            # The account row, locked: two sessions created at once cannot both take the last room.
            Account.objects.select_for_update().filter(pk=acting_account.pk).first()
            quota = settings.LARGE_FILE_QUOTA_BYTES
            if quota and used_bytes(acting_account) + size > quota:
                raise LargeFileQuotaError(
                    f"Your large files would use more than {quota / 1024**3:.1f} GiB; "
                    "expire some sent files or wait for them to expire."
                )
            now = timezone.now()
            return LargeFile.objects.create(
                account=acting_account,
                upload_id=secrets.token_hex(16),
                filename=filename[:255],
                content_type=content_type[:255],
                size=size,
                storage_name=name,
                created_at=now,
                updated_at=now,
            )
    except BaseException:
        storage.remove(name)
        raise


def do_write_chunk(
    *,
    acting_account: Account,
    upload: LargeFile,
    offset: int,
    length: int,
    read: Callable[[int], bytes],
) -> LargeFile:
    """Append one chunk at `offset` (which must be the committed offset: ConflictError
    'offset_mismatch' with the right one otherwise, 409). The bytes are fsynced, then the new
    offset committed; a body shorter than `length` commits nothing (ShortChunkError)."""
    if upload.account_id != acting_account.pk:
        raise NotFoundError("large file not found")
    if upload.state != LargeFileState.UPLOADING:
        raise ConflictError("this upload is finished", code="upload_finished")
    if length > settings.LARGE_FILE_CHUNK_MAX_BYTES:
        raise ChunkTooLargeError(
            f"A chunk may carry at most {settings.LARGE_FILE_CHUNK_MAX_BYTES} bytes."
        )
    if length < 1 or offset + length > upload.size:
        raise InvalidMessageError(
            "the chunk is empty or goes past the declared size", field="Upload-Offset"
        )

    def committed() -> int:
        row = LargeFile.objects.filter(pk=upload.pk, state=LargeFileState.UPLOADING)
        current = row.values_list("offset", flat=True).first()
        if current is None:
            raise ConflictError("this upload is finished", code="upload_finished")
        return int(current)

    try:
        storage.write_at(upload.storage_name, offset, length, read, committed=committed)
    except storage.ShortChunkError as exc:
        raise ShortChunkError("the chunk ended early; send it again from the same offset") from exc
    now = timezone.now()
    done = LargeFile.objects.filter(
        pk=upload.pk, offset=offset, state=LargeFileState.UPLOADING
    ).update(offset=offset + length, updated_at=now)
    if not done:  # cannot happen under the file lock; never acknowledge what was not recorded
        raise ConflictError("the upload changed meanwhile", code="offset_mismatch")
    upload.offset, upload.updated_at = offset + length, now
    return upload


def do_finish_upload(*, acting_account: Account, upload: LargeFile, sha256: str) -> LargeFile:
    """Check the whole file against the client's SHA-256 and mark it ready to send. A
    mismatch empties the upload (offset 0: upload it again under the same id) and raises
    ChecksumMismatchError; an incomplete upload is ConflictError('upload_incomplete')."""
    if upload.account_id != acting_account.pk:
        raise NotFoundError("large file not found")
    if upload.state == LargeFileState.READY and hmac.compare_digest(upload.sha256, sha256.lower()):
        return upload  # a retried finish whose answer was lost
    if upload.state != LargeFileState.UPLOADING:
        raise ConflictError("this upload is finished", code="upload_finished")
    if upload.offset != upload.size:
        raise ConflictError(
            f"{upload.size - upload.offset} bytes are still missing", code="upload_incomplete"
        )
    size, actual = storage.digest(upload.storage_name)
    if size != upload.size or not hmac.compare_digest(actual, sha256.lower()):
        storage.truncate(upload.storage_name, 0)
        LargeFile.objects.filter(pk=upload.pk).update(offset=0, updated_at=timezone.now())
        raise ChecksumMismatchError(
            "The file on the server does not match your file's SHA-256; it was emptied, "
            "upload it again."
        )
    upload.sha256, upload.state, upload.updated_at = actual, LargeFileState.READY, timezone.now()
    upload.save(update_fields=["sha256", "state", "updated_at"])
    return upload


def do_delete_upload_session(*, acting_account: Account, upload: LargeFile) -> None:
    """Drop an upload that was not sent (cancel in compose). A sent file is revoked instead."""
    if upload.account_id != acting_account.pk:
        raise NotFoundError("large file not found")
    if upload.state not in (LargeFileState.UPLOADING, LargeFileState.READY):
        raise ConflictError("this file was sent; expire it instead", code="upload_sent")
    LargeFile.objects.filter(pk=upload.pk).delete()
    storage.remove(upload.storage_name)


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedFile:
    """A ready file with the token its link will carry (only the hash is stored)."""

    file: LargeFile
    token: str
    url: str
    expires_at: datetime


def prepare_links(
    account: Account, upload_ids: Iterable[str], *, link_base: str, now: datetime | None = None
) -> list[LinkedFile]:
    """The account's READY files for a send, each with a fresh token and link; an id that is
    not the account's, or not uploaded completely, is InvalidMessageError on large_files."""
    ids = list(dict.fromkeys(str(i) for i in upload_ids))
    if not ids:
        return []
    files = {f.upload_id: f for f in LargeFile.objects.filter(account=account, upload_id__in=ids)}
    now = now or timezone.now()
    expires = now + timedelta(days=settings.LARGE_FILE_DAYS)
    out = []
    for upload_id in ids:
        found = files.get(upload_id)
        if found is None:
            raise NotFoundError("large file not found")
        if found.state != LargeFileState.READY:
            raise InvalidMessageError(
                f"{found.filename} is not completely uploaded (or was sent already)",
                field="large_files",
            )
        token = secrets.token_urlsafe(TOKEN_BYTES)
        out.append(
            LinkedFile(found, token, link_base.rstrip("/") + "/" + LINK_PREFIX + token, expires)
        )
    return out


def attach_links(
    links: list[LinkedFile], *, item: OutboxItem | None, sent_copy: Message | None
) -> None:
    """Inside the send's transaction: the files become the sent message's (their tokens'
    hashes stored, expiry set). A file taken by another send meanwhile aborts this one."""
    now = timezone.now()
    for link in links:
        done = LargeFile.objects.filter(pk=link.file.pk, state=LargeFileState.READY).update(
            state=LargeFileState.SENT,
            token_hash=token_hash(link.token),
            outbox_item=item,
            sent_copy=sent_copy,
            sent_at=now,
            expires_at=link.expires_at,
            updated_at=now,
        )
        if not done:
            raise ConflictError(f"{link.file.filename} was sent already", code="upload_sent")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def link_block_text(links: list[LinkedFile]) -> str:
    if not links:
        return ""
    until = links[0].expires_at.date().isoformat()
    lines = [
        "",
        f"----- 대용량 첨부 {len(links)}개 / Large files ({until}까지 / until {until}) -----",
    ]
    for link in links:
        lines.append(f"{link.file.filename} ({human_size(link.file.size)})")
        lines.append(link.url)
    return "\n".join(lines) + "\n"


def link_block_html(links: list[LinkedFile]) -> str:
    if not links:
        return ""
    until = links[0].expires_at.date().isoformat()
    rows = "".join(
        f'<li><a href="{escape(link.url)}">{escape(link.file.filename)}</a> '
        f"({escape(human_size(link.file.size))})</li>"
        for link in links
    )
    return (
        '<div class="mailroom-largefiles"><p><b>대용량 첨부 '
        f"{len(links)}개 / Large files</b> — {until}까지 / until {until}</p>"
        f"<ul>{rows}</ul></div>"
    )


# --- the public link --------------------------------------------------------------------------


def do_count_download(found: LargeFile) -> bool:
    """Count one download (a request from byte 0); False when the file cannot be
    downloaded any more (ended, expired, or its download limit reached meanwhile)."""
    now = timezone.now()
    qs = LargeFile.objects.filter(pk=found.pk, state=LargeFileState.SENT, expires_at__gt=now)
    limit = settings.LARGE_FILE_MAX_DOWNLOADS
    if limit:
        qs = qs.filter(download_count__lt=limit)
    return bool(qs.update(download_count=F("download_count") + 1, last_download_at=now))


# --- the sender: expire early -----------------------------------------------------------------


def do_revoke_large_file(*, acting_account: Account, upload: LargeFile) -> LargeFile:
    """Expire a sent file now (the link answers 410 from here on): bytes removed, row kept
    for LARGE_FILE_KEEP_ENDED_DAYS so the sender still sees it."""
    if upload.account_id != acting_account.pk:
        raise NotFoundError("large file not found")
    if upload.state in (LargeFileState.UPLOADING, LargeFileState.READY):
        do_delete_upload_session(acting_account=acting_account, upload=upload)
        return upload
    if upload.state == LargeFileState.SENT:
        now = timezone.now()
        LargeFile.objects.filter(pk=upload.pk, state=LargeFileState.SENT).update(
            state=LargeFileState.REVOKED, ended_at=now, updated_at=now
        )
        storage.remove(upload.storage_name)
        upload.refresh_from_db()
    return upload


# --- beat ---------------------------------------------------------------------------------------


def cleanup_large_files(now: datetime | None = None) -> dict[str, int]:
    """Remove abandoned uploads (no chunk for LARGE_FILE_ABANDON_HOURS) and files uploaded but
    never sent for as long; expire sent files past expires_at (bytes removed, row kept for
    LARGE_FILE_KEEP_ENDED_DAYS, then removed); remove files no row claims. Idempotent."""
    now = now or timezone.now()
    stale = now - timedelta(hours=settings.LARGE_FILE_ABANDON_HOURS)
    counts = {"abandoned": 0, "expired": 0, "purged": 0, "orphans": 0}
    abandoned = list(
        LargeFile.objects.filter(
            state__in=(LargeFileState.UPLOADING, LargeFileState.READY), updated_at__lt=stale
        ).values_list("pk", "storage_name")[:1000]
    )
    for pk, name in abandoned:
        if (
            LargeFile.objects.filter(pk=pk, updated_at__lt=stale)
            .filter(state__in=(LargeFileState.UPLOADING, LargeFileState.READY))
            .delete()[0]
        ):
            storage.remove(name)
            counts["abandoned"] += 1
    expired = list(
        LargeFile.objects.filter(state=LargeFileState.SENT, expires_at__lte=now).values_list(
            "pk", "storage_name"
        )[:1000]
    )
    for pk, name in expired:
        if LargeFile.objects.filter(pk=pk, state=LargeFileState.SENT).update(
            state=LargeFileState.EXPIRED, ended_at=now, updated_at=now
        ):
            storage.remove(name)
            counts["expired"] += 1
    keep = now - timedelta(days=settings.LARGE_FILE_KEEP_ENDED_DAYS)
    counts["purged"] = LargeFile.objects.filter(
        Q(state__in=(LargeFileState.REVOKED, LargeFileState.EXPIRED)), ended_at__lt=keep
    ).delete()[0]
    # Files of rows that never committed (a crash between create and insert).
    known = set(
        LargeFile.objects.filter(state__in=LIVE_STATES).values_list("storage_name", flat=True)
    )
    for name in storage.names():
        if name not in known and storage.path_of(name).stat().st_mtime < stale.timestamp():
            storage.remove(name)
            counts["orphans"] += 1
    if any(counts.values()):
        log.info("large files: %s", counts)
    return counts
