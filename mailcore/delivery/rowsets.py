"""The delivery batch's own statements on PostgreSQL, bound server-side and prepared: the
claim's rows read without the ORM, and the per-batch updates (verdicts, bookkeeping) as one
statement whose text never changes with the batch's size.

dbutil.bulk_set_many sends `UPDATE … FROM (VALUES (…), (…) …)`: its text grows with the
rows, so psycopg splits and quotes every value on the client and PostgreSQL parses and plans
it anew for every batch. Here every column is one array (`unnest`), sent in binary, and the
statement is prepared once per connection (as store.indexrows and the SMTP group commit do).
Callers use these on PostgreSQL only (`applies()`); elsewhere dbutil's portable statements.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from mailcore.dbutil import array_params

# Fields whose attribute value is what the column takes in binary (psycopg adapts it).
_PLAIN = (
    models.CharField,
    models.TextField,
    models.BigIntegerField,
    models.IntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.BigAutoField,
    models.AutoField,
)

Update = tuple[type[models.Model], Sequence[str], Sequence[tuple[Any, ...]]]


def applies() -> bool:
    return connection.vendor == "postgresql"


def update_many(updates: Sequence[Update]) -> None:
    """dbutil.bulk_set_many on PostgreSQL: for each (model, fields, rows), UPDATE model SET
    field_i = row[i+1] WHERE pk = row[0]; all of them in ONE prepared statement (each but the
    last a data-modifying WITH clause), atomic by itself. Updates without rows are left out."""
    import psycopg

    updates = [u for u in updates if u[2]]
    if not updates:
        return
    shape = tuple((model, tuple(fields)) for model, fields, _ in updates)
    params: list[Any] = []
    for model, fields, rows in updates:
        meta = model._meta
        columns = [meta.pk, *(meta.get_field(f) for f in fields)]
        for n, field in enumerate(columns):
            params.append(_values(field, [row[n] for row in rows]))
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_update_sql(shape), params, prepare=True)


def _values(field: Any, values: list[Any]) -> list[Any]:
    if isinstance(field, _PLAIN) or (
        isinstance(field, models.DateTimeField) and not getattr(field, "auto_now", False)
    ):
        return values
    conn = connections[DEFAULT_DB_ALIAS]  # not the proxy: no thread-local look-up per value
    return [field.get_db_prep_value(v, conn) for v in values]


@functools.cache
def _update_sql(shape: tuple[tuple[type[models.Model], tuple[str, ...]], ...]) -> str:
    qn = connection.ops.quote_name
    statements = []
    for model, fields in shape:
        meta = model._meta
        pk = meta.pk
        assert pk is not None
        columns = [pk, *(meta.get_field(f) for f in fields)]
        names = [f"c{n}" for n in range(len(columns))]
        arrays = array_params(columns)  # type: ignore[arg-type]  # get_field: concrete fields here
        table = qn(meta.db_table)
        sets = ", ".join(
            f"{qn(str(f.column))} = v.{name}"  # type: ignore[union-attr]
            for f, name in zip(columns[1:], names[1:], strict=True)
        )
        statements.append(
            f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) "  # noqa: S608
            f"WHERE {table}.{qn(str(pk.column))} = v.c0"
        )
    clauses = ", ".join(f"u{n} AS ({sql} RETURNING 1)" for n, sql in enumerate(statements[:-1]))
    return f"WITH {clauses} {statements[-1]}" if clauses else statements[-1]


def fetch_rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of a prepared, server-side bound statement (the claim's)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def models_from(model: type[models.Model], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Saved `model` instances of `rows` that hold every concrete column in field order (as
    `SELECT t.*` returns them), as the ORM reads them (Model.from_db, the fields' converters:
    a JSON column arrives as text)."""
    names, converters = _reading(model)
    alias = connection.alias
    out = []
    for row in rows:
        values = list(row)
        for n, field, convert in converters:
            values[n] = convert(values[n], field, connection)
        out.append(model.from_db(alias, names, values))
    return out


@functools.cache
def _reading(model: type[models.Model]) -> tuple[list[str], list[tuple[int, Any, Any]]]:
    fields = model._meta.concrete_fields
    converters = [
        (n, f, convert) for n, f in enumerate(fields) for convert in f.get_db_converters(connection)
    ]
    return [f.attname for f in fields], converters
