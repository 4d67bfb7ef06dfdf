"""Helpers for the API tests: token clients, real RFC 5322 messages stored through
do_append (so real Maildir files exist), and where those files are on disk."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.actions import do_append
from mailcore.store.maildir import key_stem, split_filename
from mailcore.store.models import Folder, Message
from mailcore.store.queries import get_folder_by_special_use


def token_client(account: Account) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=account)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def folder(account: Account, special_use: str = "inbox") -> Folder:
    return get_folder_by_special_use(account, special_use)


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A valid PNG (white pixels), so sniffing sees a real image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


Part = tuple[bytes, str, str]  # (data, "type/subtype", filename)


def build_message(
    *,
    subject: str = "Hello",
    text: str = "Hello Alice,\nsee you.\n",
    html: str | None = None,
    attachments: Sequence[Part] = (),
    inline_images: Sequence[tuple[bytes, str, str]] = (),  # (data, type, content-id)
    sender: str = "Bob Sender <bob@remote.test>",
    to: str = "Alice <alice@example.com>",
    cc: str | None = None,
    reply_to: str | None = None,
    date: datetime | None = None,
    message_id: str = "<m1@remote.test>",
    references: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = message_id
    if references:
        msg["References"] = references
        msg["In-Reply-To"] = references.split()[-1]
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        if inline_images:
            html_part = msg.get_payload()[1]
            for data, ctype, cid in inline_images:
                maintype, subtype = ctype.split("/")
                html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{cid}>")
    for data, ctype, filename in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def put(
    account: Account,
    data: bytes | None = None,
    *,
    into: Folder | None = None,
    flags: Sequence[str] = (),
    **build: object,
) -> Message:
    """Store a message the way every producer does: do_append writes the Maildir file."""
    return do_append(
        acting_account=account,
        folder=into or folder(account),
        data=data if data is not None else build_message(**build),  # type: ignore[arg-type]
        flags=flags,
    )


def message_path(account: Account, message: Message) -> Path:
    """Where the row says the file is: cur/<stem>,S=..,W=..:2,<info> (or new/…), the file of
    the row's key (same stem) with the row's flags; the legacy name when there is none."""
    message.refresh_from_db()
    folder_dir = settings.MAIL_ROOT / account.storage_path / "Maildir" / message.folder.path
    sub = folder_dir / ("cur" if message.in_cur else "new")
    for p in sub.iterdir() if sub.is_dir() else ():
        base, info = split_filename(p.name)
        if key_stem(base) == key_stem(message.maildir_key) and info == message.info:
            return p
    if message.in_cur:
        return sub / f"{message.maildir_key}:2,{message.info}"
    return sub / message.maildir_key
