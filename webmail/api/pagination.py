"""Opaque keyset cursors for message listings. Encoding only: the query itself lives in
mailcore.store.queries.list_messages, which pages by UID so every page costs the same."""

from __future__ import annotations

import base64
import binascii
import re

from rest_framework import exceptions

_CURSOR = re.compile(r"^v1:([1-9][0-9]{0,18}):([1-9][0-9]{0,18})$")


class InvalidCursor(exceptions.APIException):
    status_code = 400
    default_code = "invalid_cursor"
    default_detail = "The cursor is not valid for this folder; start from the first page."


def encode_opaque(raw: str) -> str:
    """`raw` (ASCII) as an unpadded URL-safe base64 cursor."""
    return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_opaque(cursor: str) -> str:
    """What encode_opaque was given; InvalidCursor for an empty, over-long or undecodable one."""
    if not cursor or len(cursor) > 64:
        raise InvalidCursor
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor from exc


def encode_cursor(uidvalidity: int, last_uid: int) -> str:
    # UIDVALIDITY rides along: a folder re-created under the same id renumbers its UIDs, and
    # an old cursor must fail loudly rather than skip or repeat messages (RFC 9051 §2.3.1.1).
    return encode_opaque(f"v1:{uidvalidity}:{last_uid}")


def decode_cursor(cursor: str, *, uidvalidity: int) -> int:
    """The UID to continue below; InvalidCursor for anything this module did not produce."""
    match = _CURSOR.match(decode_opaque(cursor))
    if match is None or int(match.group(1)) != uidvalidity:
        raise InvalidCursor
    return int(match.group(2))
