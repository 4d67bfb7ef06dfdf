"""Small SQL helpers the ORM makes slow: updating many rows with different values in one
statement, inserting a row with its child rows in one round trip. Portable to PostgreSQL and
SQLite (≥ 3.35: UPDATE … FROM, INSERT … RETURNING)."""

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
    sql, params = bulk_set_sql(model, fields, rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def bulk_set_sql(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> tuple[str, list[Any]]:
    """bulk_set's statement and parameters (rows not empty), for a caller that joins several
    into one statement (PostgreSQL: data-modifying WITH clauses)."""
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk = meta.pk
    assert pk is not None
    model_fields = [meta.get_field(f) for f in fields]
    columns = [_column(f) for f in model_fields]
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
        f"WHERE {table}.{_column(pk)} = v.column1"
    )
    params: list[Any] = []
    for row in rows:
        params.append(pk.get_db_prep_value(row[0], connection))
        for field, value in zip(model_fields, row[1:], strict=True):
            params.append(field.get_db_prep_value(value, connection))  # type: ignore[union-attr]
    return sql, params


def bulk_set_many(
    updates: Sequence[tuple[type[models.Model], Sequence[str], Sequence[tuple[Any, ...]]]],
) -> None:
    """Several bulk_set()s, atomically: on PostgreSQL ONE statement (each but the last a
    data-modifying WITH clause: one round trip, no BEGIN/COMMIT), elsewhere one transaction."""
    from django.db import transaction

    updates = [u for u in updates if u[2]]
    if not updates:
        return
    if connection.vendor != "postgresql" or len(updates) == 1:
        with transaction.atomic():
            for model, fields, rows in updates:
                bulk_set(model, fields, rows)
        return
    parts = [bulk_set_sql(model, fields, rows) for model, fields, rows in updates]
    clauses = ", ".join(f"u{n} AS ({sql} RETURNING 1)" for n, (sql, _) in enumerate(parts[:-1]))
    params = [p for _, ps in parts for p in ps]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {clauses} {parts[-1][0]}", params)


# Field classes whose value is stored as the attribute holds it (get_db_prep_save would only
# check and copy it); the others (inet, JSON, binary, arrays, auto_now times …) go through the
# field.
_AS_IS = (
    models.CharField,
    models.TextField,
    models.BigIntegerField,
    models.IntegerField,
    models.SmallIntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.FloatField,
)


def array_params(fields: Sequence[models.Field[Any, Any]]) -> str:
    """One binary array parameter per field, cast to the column's array type: the unnest()
    arguments of the hand-built multi-row statements (PostgreSQL), whose values column_values
    gives. Binary: psycopg's text form escapes every element."""
    return ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)


def column_values(field: models.Field[Any, Any], objs: Sequence[models.Model]) -> list[Any]:
    """The database values of one column for the unsaved `objs`, as Model.save() would send
    them (pre_save, get_db_prep_save), without the field's round trip where the attribute is
    the value already: for the hand-built multi-row INSERTs of the hot paths."""
    cls = type(field)
    if cls in _AS_IS or (
        # psycopg takes aware datetimes as they are; SQLite wants Django's text form
        cls is models.DateTimeField
        and not field.auto_now  # type: ignore[attr-defined]
        and connection.vendor == "postgresql"
    ):
        name = field.attname
        return [getattr(obj, name) for obj in objs]
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs]


def insert_is_one_statement() -> bool:
    """Does insert_with_children() run as one statement (atomic without a transaction)?"""
    return connection.vendor == "postgresql"


def insert_with_children(obj: models.Model, children: Sequence[models.Model], fk: str) -> None:
    """INSERT `obj` and `children` (unsaved instances whose ForeignKey `fk` points to obj; of
    one model or of several, e.g. a message's body text and its IMAP metadata) and set the
    primary key on obj and the link on the children: no ORM query building, and one round
    trip on PostgreSQL (a data-modifying WITH); one per model elsewhere, so there the caller
    must hold a transaction.

    Field values go through pre_save (auto_now) and get_db_prep_save, as in Model.save().
    """
    meta = obj._meta
    qn = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(_column(f) for f in fields)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {_column(pk)}"
    )
    if not children:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            obj.pk = cursor.fetchone()[0]
        mark_saved(obj)
        return
    groups: dict[type[models.Model], list[models.Model]] = {}
    for child in children:
        groups.setdefault(type(child), []).append(child)
    # Per child model: INSERT INTO … (link, fields…), its fields, its rows' parameters.
    inserts: list[tuple[str, list[Any], list[list[Any]], Any]] = []
    for model, rows in groups.items():
        cmeta = model._meta
        link = cmeta.get_field(fk)
        cfields = [f for f in cmeta.concrete_fields if not f.primary_key and f is not link]
        crows = [
            [f.get_db_prep_save(f.pre_save(child, True), connection) for f in cfields]
            for child in rows
        ]
        into = (
            f"INSERT INTO {qn(cmeta.db_table)} ({', '.join(_column(f) for f in (link, *cfields))})"
        )
        inserts.append((into, cfields, crows, link))
    with connection.cursor() as cursor:
        if insert_is_one_statement():
            # VALUES columns are column1, column2, …; typed from their first row, hence casts.
            # Every child INSERT but the last is a CTE of its own (each runs exactly once).
            parts, cparams = [f"parent AS ({sql})"], list(params)
            last = ""
            for i, (into, cfields, crows, link) in enumerate(inserts):
                selected = ", ".join(f"v.column{j + 1}{_cast(f)}" for j, f in enumerate(cfields))
                row = "(" + ", ".join(["%s"] * len(cfields)) + ")"
                statement = (
                    f"{into} SELECT parent.{_column(pk)}, {selected} FROM parent, "  # noqa: S608
                    f"(VALUES {', '.join([row] * len(crows))}) AS v RETURNING {_column(link)}"
                )
                cparams += [p for r in crows for p in r]
                if i < len(inserts) - 1:
                    parts.append(f"c{i} AS ({statement})")
                else:
                    last = statement
            cursor.execute(f"WITH {', '.join(parts)} {last}", cparams)
            obj.pk = cursor.fetchone()[0]
        else:
            cursor.execute(sql, params)
            obj.pk = cursor.fetchone()[0]
            for into, cfields, crows, _link in inserts:
                row = "(" + ", ".join(["%s"] * (len(cfields) + 1)) + ")"
                cursor.execute(
                    f"{into} VALUES {', '.join([row] * len(crows))}",
                    [p for r in crows for p in (obj.pk, *r)],
                )
    mark_saved(obj)
    for child in children:
        setattr(child, child._meta.get_field(fk).attname, obj.pk)  # type: ignore[union-attr]


def _column(field: Any) -> str:
    """The quoted column of a concrete field (a reverse relation has none)."""
    column = field.column
    if not isinstance(column, str):
        raise TypeError(f"{field!r} has no column of its own")
    return connection.ops.quote_name(column)


def mark_saved(obj: models.Model) -> None:
    """As the ORM leaves an instance it has just inserted."""
    obj._state.adding = False
    obj._state.db = connection.alias


def _cast(field: Any) -> str:
    # PostgreSQL types VALUES columns from their first row; NULLs and text need a hint.
    if connection.vendor != "postgresql":
        return ""
    return f"::{field.db_type(connection)}"
