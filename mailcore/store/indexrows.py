"""The index rows of a batch of new messages (Message, MessageText, MessageSearch,
MessageMeta), written by do_deliver_many's index transaction.

On PostgreSQL: one data-modifying WITH statement, every column one array (`unnest`), the
children joined to their new Message rows by (account_id, maildir_key), which is unique. Its
text never changes with the batch's size, so it is prepared once per connection and bound
server-side: no ORM query building, no client-side placeholder split of long VALUES lists, one
round trip instead of four. On SQLite: one multi-row INSERT per table built here (the
messages' keys from RETURNING), without the ORM's insert compiler, which cost more than
SQLite's own work (Django also splits at 999 values, where SQLite takes 32,766). Any other
database: the ORM's four bulk_creates.

Field values go through pre_save and get_db_prep_save, as in Model.save() and bulk_create, so
the rows are the ORM's (tests/store/test_indexrows.py compares them field by field).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

from mailcore.dbutil import column_values, mark_saved
from mailcore.store.models import Message, MessageMeta, MessageSearch, MessageText

_CHILDREN = (MessageText, MessageSearch, MessageMeta)
_Child = MessageText | MessageSearch | MessageMeta


def insert_index_rows(
    messages: Sequence[Message],
    texts: Sequence[MessageText],
    searches: Sequence[MessageSearch],
    metas: Sequence[MessageMeta],
) -> None:
    """INSERT the rows of `messages` (unsaved, distinct (account, maildir_key)) and of their
    children (unsaved, .message set to the message they belong to, in any order), inside the
    caller's transaction. The messages get their primary keys and the children their links,
    as bulk_create leaves them."""
    if not messages:
        return
    if connection.vendor == "sqlite":
        _sqlite_insert(messages, texts, searches, metas)
        return
    if connection.vendor != "postgresql":
        orm_insert(messages, texts, searches, metas)
        return
    import psycopg

    params: list[list[Any]] = [_values(f, messages) for f in _fields(Message)]
    groups: tuple[Sequence[_Child], ...] = (texts, searches, metas)
    for model, rows in zip(_CHILDREN, groups, strict=True):
        params.append([row.message.account_id for row in rows])
        params.append([row.message.maildir_key for row in rows])
        params += [_values(f, rows) for f in _fields(model)]
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_sql(), params, prepare=True)
        ids = {(account_id, key): pk for pk, account_id, key in cursor.fetchall()}
    for message in messages:
        message.pk = ids[(message.account_id, message.maildir_key)]
        mark_saved(message)
    children: tuple[_Child, ...] = (*texts, *searches, *metas)
    for child in children:
        child.message = child.message  # the link's id from the saved message
        mark_saved(child)


def _sqlite_insert(
    messages: Sequence[Message],
    texts: Sequence[MessageText],
    searches: Sequence[MessageSearch],
    metas: Sequence[MessageMeta],
) -> None:
    """insert_index_rows on SQLite: one multi-row INSERT per table (more only past SQLite's
    limit of bound values), the new messages' keys from RETURNING, matched by (account_id,
    maildir_key) as on PostgreSQL. Values as column_values gives them (the ORM's)."""
    import sqlite3

    connection.ensure_connection()
    raw = connection.connection
    room = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    ids: dict[tuple[int, str], int] = {}
    with connection.wrap_database_errors:
        cursor = raw.cursor()
        try:
            for rows, params in _chunks(_written(Message), messages, room):
                cursor.execute(_sqlite_sql(Message, rows), params)
                ids.update(((a, k), pk) for pk, a, k in cursor.fetchall())
            for message in messages:
                message.pk = ids[(message.account_id, message.maildir_key)]
                mark_saved(message)
            groups: tuple[Sequence[_Child], ...] = (texts, searches, metas)
            for model, group in zip(_CHILDREN, groups, strict=True):
                for child in group:
                    child.message = child.message  # the link's id from the saved message
                for rows, params in _chunks(_written(model), group, room):
                    cursor.execute(_sqlite_sql(model, rows), params)
                for child in group:
                    mark_saved(child)
        finally:
            cursor.close()


def _chunks(
    fields: list[models.Field[Any, Any]], objs: Sequence[models.Model], room: int
) -> list[tuple[int, list[Any]]]:
    """(rows, their values row by row) for INSERTs of `objs` of at most `room` values."""
    per = max(1, room // len(fields))
    out: list[tuple[int, list[Any]]] = []
    for start in range(0, len(objs), per):
        chunk = objs[start : start + per]
        columns = [column_values(f, chunk) for f in fields]
        out.append((len(chunk), [v for row in zip(*columns, strict=True) for v in row]))
    return out


@functools.cache
def _written(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns _sqlite_insert writes: _fields, after a child's link."""
    if model is Message:
        return _fields(model)
    link = model._meta.get_field("message")
    assert isinstance(link, models.Field)
    return [link, *_fields(model)]


@functools.cache
def _sqlite_sql(model: type[models.Model], rows: int) -> str:
    qn = connection.ops.quote_name
    fields = _written(model)
    row = "(" + ", ".join("?" * len(fields)) + ")"
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} "  # noqa: S608
        f"({', '.join(qn(str(f.column)) for f in fields)}) VALUES {', '.join([row] * rows)}"
    )
    return sql + " RETURNING id, account_id, maildir_key" if model is Message else sql


def orm_insert(
    messages: Sequence[Message],
    texts: Sequence[MessageText],
    searches: Sequence[MessageSearch],
    metas: Sequence[MessageMeta],
) -> None:
    """insert_index_rows by the ORM's four bulk_creates (SQLite; the tests' reference)."""
    Message.objects.bulk_create(messages)
    children: tuple[_Child, ...] = (*texts, *searches, *metas)
    for child in children:
        child.message = child.message  # the link's id from the saved message
    MessageText.objects.bulk_create(texts)
    MessageSearch.objects.bulk_create(searches)
    MessageMeta.objects.bulk_create(metas)


@functools.cache
def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns written: every one but Message's key and the children's link."""
    return [
        f
        for f in model._meta.concrete_fields
        if not (model is Message and f.primary_key) and f.name != "message"
    ]


@functools.cache
def _is_array(field: models.Field[Any, Any]) -> bool:
    return str(field.db_type(connection)).endswith("[]")


def _values(field: models.Field[Any, Any], objs: Sequence[models.Model]) -> list[Any]:
    values = column_values(field, objs)
    if _is_array(field):
        # An array column (the search keys' integer[]) travels as its text form, one per row:
        # unnest of a two-dimensional array would flatten it (and rows differ in length).
        return [None if v is None else "{" + ",".join(str(int(x)) for x in v) + "}" for v in values]
    return values


@functools.cache
def _sql() -> str:
    qn = connection.ops.quote_name

    def array_type(f: models.Field[Any, Any]) -> str:
        return "text[]" if _is_array(f) else f"{f.db_type(connection)}[]"

    def selected(f: models.Field[Any, Any], name: str) -> str:
        return f"{name}::{f.db_type(connection)}" if _is_array(f) else name

    fields = _fields(Message)
    cols = ", ".join(qn(str(f.column)) for f in fields)
    arrays = ", ".join(f"%b::{array_type(f)}" for f in fields)
    parts = [
        f"m AS (INSERT INTO {qn(str(Message._meta.db_table))} ({cols}) "  # noqa: S608
        f"SELECT * FROM unnest({arrays}) RETURNING id, account_id, maildir_key)"
    ]
    for n, model in enumerate(_CHILDREN):
        cfields = _fields(model)
        names = [f"c{i}" for i in range(len(cfields))]
        chosen = ", ".join(selected(f, "w." + c) for f, c in zip(cfields, names, strict=True))
        link = qn(str(model._meta.get_field("message").column))  # type: ignore[union-attr]
        parts.append(
            f"w{n} AS (INSERT INTO {qn(str(model._meta.db_table))} "  # noqa: S608
            f"({link}, {', '.join(qn(str(f.column)) for f in cfields)}) "
            f"SELECT m.id, {chosen} "
            f"FROM unnest(%b::bigint[], %b::varchar[], "
            f"{', '.join(f'%b::{array_type(f)}' for f in cfields)}) "
            f"AS w(a, k, {', '.join(names)}) "
            "JOIN m ON m.account_id = w.a AND m.maildir_key = w.k RETURNING 1)"
        )
    return f"WITH {', '.join(parts)} SELECT id, account_id, maildir_key FROM m"  # noqa: S608
