"""Small SQL helpers the ORM makes slow: updating many rows with different values in one
statement. Portable to PostgreSQL and SQLite (≥ 3.33, UPDATE … FROM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def bulk_set(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """UPDATE model SET field_i = row[i+1] WHERE pk = row[0], for every row, in one statement.

    Values go through each field's get_db_prep_value, so datetimes and the like are adapted
    exactly as the ORM would.
    """
    if not rows:
        return
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk = meta.pk
    assert pk is not None
    model_fields = [meta.get_field(f) for f in fields]
    columns = [connection.ops.quote_name(f.column) for f in model_fields]  # type: ignore[union-attr]
    width = len(fields) + 1
    values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    # VALUES columns are called column1, column2, … on both PostgreSQL and SQLite.
    casts = [_cast(f) for f in model_fields]
    assignments = ", ".join(
        f"{col} = v.column{i + 2}{cast}"
        for i, (col, cast) in enumerate(zip(columns, casts, strict=True))
    )
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v "  # noqa: S608
        f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v.column1"
    )
    params: list[Any] = []
    for row in rows:
        params.append(pk.get_db_prep_value(row[0], connection))
        for field, value in zip(model_fields, row[1:], strict=True):
            params.append(field.get_db_prep_value(value, connection))  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _cast(field: Any) -> str:
    # PostgreSQL types VALUES columns from their first row; NULLs and text need a hint.
    if connection.vendor != "postgresql":
        return ""
    return f"::{field.db_type(connection)}"
