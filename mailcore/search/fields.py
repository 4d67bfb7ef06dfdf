"""The column that holds a message's search keys, in the form each database indexes.

PostgreSQL: integer[] of 32-bit hashes of the keys (a GIN index with the account id through
btree_gin; a collision only adds a candidate, and candidates are rechecked). SQLite: the keys
as text separated by spaces, which triggers feed to the contentless FTS5 table on insert and
feed back on delete (contentless tables need the same tokens to remove a row).
"""

from __future__ import annotations

import zlib
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


def key_hash(key: str) -> int:
    """A key as a signed 32-bit integer (PostgreSQL's integer)."""
    h = zlib.crc32(key.encode())
    return h - (1 << 32) if h >= 1 << 31 else h


class SearchKeysField(models.Field):  # type: ignore[type-arg]
    """Python value: a list of key strings (written only; reading gives the stored form)."""

    description = "search keys"

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "integer[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if value is None or isinstance(value, str):
            return value
        keys = list(value)
        if connection.vendor == "postgresql":
            return sorted({key_hash(k) for k in keys})
        return " ".join(keys)
