"""Small SQL helpers the ORM makes slow: updating many rows with different values in one
statement, inserting a row with its child rows in one round trip. Portable to PostgreSQL and
SQLite (≥ 3.35: UPDATE … FROM, INSERT … RETURNING)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone


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


# The element type of an array parameter, by the base of its column's type (the cast of
# array_params; CharField's varchar(n) takes text, as psycopg sends a list of str).
_ELEMENTS = {
    "varchar": "text",
    "text": "text",
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "boolean": "bool",
    "timestamp with time zone": "timestamptz",
    "inet": "inet",
    "jsonb": "jsonb",
    "double precision": "float8",
}


@functools.cache
def _typed_list(element: str) -> tuple[type[list[Any]], Any]:
    """A list type whose psycopg dumper has a fixed element type (binary), and that dumper."""
    import struct

    import psycopg
    from psycopg.types.array import ListBinaryDumper

    info = psycopg.postgres.types[element]
    head = struct.Struct("!IIIII").pack  # 1 dimension, has nulls, element type, length, 1
    length = struct.Struct("!i").pack
    null = length(-1)
    empty = struct.pack("!III", 0, 0, info.oid)

    def dump(self: Any, obj: list[Any]) -> bytes:
        # psycopg's dump, for one dimension (no nested lists to size and check).
        if not obj:
            return empty
        item_dump = self.sub_dumper.dump
        out = [b""]
        hasnull = 0
        for item in obj:
            if item is None or (data := item_dump(item)) is None:
                hasnull = 1
                out.append(null)
            else:
                out.append(length(len(data)))
                out.append(data)
        out[0] = head(1, hasnull, info.oid, len(obj), 1)
        return b"".join(out)

    cls: type[list[Any]] = type(f"{element}_array", (list,), {"__slots__": ()})
    dumper = type(
        f"{element}_array_dumper",
        (ListBinaryDumper,),
        {"oid": info.array_oid, "element_oid": info.oid, "dump": dump},
    )
    return cls, dumper  # registered per connection: typed_arrays_on


@functools.cache
def _array_type(field: models.Field[Any, Any]) -> type[list[Any]] | None:
    element = _ELEMENTS.get(str(field.db_type(connection)).partition("(")[0])
    return None if element is None else _typed_list(element)[0]


_typed_connections: weakref.WeakSet[Any] = weakref.WeakSet()


def array_values(field: models.Field[Any, Any], objs: Sequence[models.Model]) -> list[Any]:
    """column_values as the array parameter of array_params (PostgreSQL), of a list type
    whose element type is the column's: psycopg then dumps it without looking at every
    element (twice) to choose one (a tenth of the group commit's thread). The value stored
    is the same. Call typed_arrays_on() for the connection first."""
    return array_of(field, column_values(field, objs))


def array_of(field: models.Field[Any, Any], values: list[Any]) -> list[Any]:
    """`values` (the database values of `field`) as array_values gives them."""
    cls = _array_type(field)
    return values if cls is None else cls(values)


def typed_arrays_on(pgconn: Any) -> None:
    """Make the psycopg connection `pgconn` dump array_values() lists with their element
    type (without it they are dumped as any list is: right, only slower)."""
    if pgconn in _typed_connections:
        return
    for element in dict.fromkeys(_ELEMENTS.values()):
        cls, dumper = _typed_list(element)
        pgconn.adapters.register_dumper(cls, dumper)
    _typed_connections.add(pgconn)


def column_values(field: models.Field[Any, Any], objs: Sequence[models.Model]) -> list[Any]:
    """The database values of one column for the unsaved `objs`, as Model.save() would send
    them (pre_save, get_db_prep_save), without the field's round trip where the attribute is
    the value already: for the hand-built multi-row INSERTs of the hot paths."""
    cls = type(field)
    name = field.attname
    if cls in _AS_IS:
        return [getattr(obj, name) for obj in objs]
    vendor = connection.vendor
    if cls is models.DateTimeField and vendor == "postgresql":
        # psycopg takes aware datetimes as they are; SQLite wants Django's text form
        if not (field.auto_now or field.auto_now_add):  # type: ignore[attr-defined]
            return [getattr(obj, name) for obj in objs]
        now = timezone.now()  # pre_save's, once for the statement's rows
        for obj in objs:
            setattr(obj, name, now)
        return [now] * len(objs)
    if cls is models.GenericIPAddressField:
        return [_ip_value(field, vendor, getattr(obj, name)) for obj in objs]
    # The connection itself, not the `connection` proxy: a field's get_db_prep_save reads
    # its features and ops, and each read through the proxy is a thread-local look-up.
    conn = connections[DEFAULT_DB_ALIAS]
    return [field.get_db_prep_save(field.pre_save(obj, True), conn) for obj in objs]


@functools.lru_cache(maxsize=1024)
def _ip_value(field: models.Field[Any, Any], vendor: str, value: str | None) -> Any:
    """get_db_prep_save of an address (`vendor`: the database it is for), remembered: a
    client's address recurs, and parsing one (ipaddress) is most of a row's cost. The
    values are immutable (str, ipaddress objects)."""
    return field.get_db_prep_save(value, connection)


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
    obj._state.db = DEFAULT_DB_ALIAS  # connection.alias, without the proxy


def _cast(field: Any) -> str:
    # PostgreSQL types VALUES columns from their first row; NULLs and text need a hint.
    if connection.vendor != "postgresql":
        return ""
    return f"::{field.db_type(connection)}"
