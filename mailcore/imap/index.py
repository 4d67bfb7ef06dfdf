"""The hot reads of IMAP sessions, straight from the index as column tuples: the UID list of
SELECT and the FETCH responses that need no message file (flags, dates, sizes, MODSEQ and
the ENVELOPE, BODYSTRUCTURE and prefetched header fields that MessageMeta keeps already in
IMAP syntax). No model objects per row and one query per batch: a 100,000-message
`UID FETCH 1:* (… ENVELOPE BODYSTRUCTURE)` is copied from the rows to the client batch by
batch, in constant memory, never opening a message file.

Runs synchronously (callers go through mailcore.asyncdb).
"""

from __future__ import annotations

import json
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from mailcore.imap.protocol import MONTHS, FetchAtt
from mailcore.mime import imapmeta
from mailcore.store.models import Folder, Message, MessageMeta

# Attributes answered from the columns alone (BODY without a section needs the JSON form).
_COLUMN_ATTS = frozenset(
    {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "MODSEQ", "EMAILID", "THREADID"}
)
_META_ATTS = frozenset({"ENVELOPE", "BODYSTRUCTURE"})
_MONTHS = tuple(m.encode() for m in MONTHS)
_FLAG_NAMES = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
# Column order of fetch_rows: pk, uid, modseq, size, internal_date, keywords, the five flags,
# then (with meta) version, envelope_imap, bodystructure_imap, header_fields, complete.
_BASE = (
    "id",
    "uid",
    "modseq",
    "size",
    "internal_date",
    "keywords",
    "answered",
    "flagged",
    "deleted",
    "seen",
    "draft",
)
_META = (
    "version",
    "envelope_imap",
    "bodystructure_imap",
    "header_fields",
    "header_fields_complete",
)


# SELECT's view of a folder, kept per process: (highestmodseq, uidnext, message_count) →
# (UIDs, first unseen, keywords). Every change of a folder's UIDs, flags or keywords moves
# its highestmodseq in the same transaction, so an entry whose counters match the Folder row
# just read is that folder's current view. Bounded by VIEW_CACHE_UIDS UIDs in all.
VIEW_CACHE_UIDS = 2_000_000
_views: OrderedDict[int, tuple[tuple[int, int, int], array[int], int, tuple[str, ...]]] = (
    OrderedDict()
)
_views_size = 0
_views_lock = threading.Lock()


def _state(folder: Folder) -> tuple[int, int, int]:
    return (int(folder.highestmodseq), int(folder.uidnext), int(folder.message_count))


def folder_view(folder: Folder) -> tuple[array[int], int, list[str]]:
    """(UIDs in order, first unseen UID or 0, keywords in use) of a folder for SELECT, as of
    the `folder` row just read: from the cache when nothing changed since, else two plain
    queries (instead of three ORM ones and a model per row)."""
    global _views_size
    state = _state(folder)
    with _views_lock:
        hit = _views.get(folder.pk)
        if hit is not None and hit[0] == state:
            _views.move_to_end(folder.pk)
            return array("Q", hit[1]), hit[2], list(hit[3])
    table = connection.ops.quote_name(Message._meta.db_table)  # a constant, not input
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT uid, seen FROM {table} WHERE folder_id = %s ORDER BY uid",  # noqa: S608
            [folder.pk],
        )
        rows = cursor.fetchall()
        # The keywords of the newest 2,000 messages that have any (as _folder_keywords did).
        cursor.execute(
            f"SELECT keywords FROM {table} WHERE folder_id = %s AND keywords <> %s "  # noqa: S608
            "ORDER BY uid DESC LIMIT 2000",
            [folder.pk, "[]"],
        )
        kw_rows = cursor.fetchall()
        # Cached only if no change committed while the two were read (they may see newer
        # rows than `folder`: read committed).
        cursor.execute(
            f"SELECT highestmodseq, uidnext, message_count FROM {qn_folder()} WHERE id = %s",  # noqa: S608
            [folder.pk],
        )
        after = cursor.fetchone()
    uids = array("Q", [int(r[0]) for r in rows])
    first_unseen = next((int(r[0]) for r in rows if not r[1]), 0)
    seen: dict[str, None] = {}
    for (value,) in kw_rows:
        for k in _json_list(value):
            seen.setdefault(str(k), None)
    keywords = [k for k in seen if k][:64]
    if after is not None and tuple(int(x) for x in after) == state and len(uids) == state[2]:
        with _views_lock:
            old = _views.pop(folder.pk, None)
            if old is not None:
                _views_size -= len(old[1])
            if len(uids) <= VIEW_CACHE_UIDS:
                _views[folder.pk] = (state, array("Q", uids), first_unseen, tuple(keywords))
                _views_size += len(uids)
                while _views_size > VIEW_CACHE_UIDS:
                    _, dropped = _views.popitem(last=False)
                    _views_size -= len(dropped[1])
    return uids, first_unseen, keywords


def folder_by_name(account_id: int, name: str) -> Folder | None:
    """The account's folder named `name` on the wire ("INBOX" is the root), or None. On
    PostgreSQL one plain statement (the ORM's query compilation was most of a SELECT)."""
    if connection.vendor != "postgresql":
        folders = Folder.objects.filter(account_id=account_id)
        if name == "INBOX":
            return folders.filter(path="").first()
        return folders.filter(name=name).first()
    fields = [f.attname for f in Folder._meta.concrete_fields]
    cols = ", ".join(connection.ops.quote_name(str(f.column)) for f in Folder._meta.concrete_fields)
    where = "path = %s" if name == "INBOX" else "name = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {cols} FROM {qn_folder()} WHERE account_id = %s AND {where} "  # noqa: S608
            "ORDER BY id LIMIT 1",
            [account_id, "" if name == "INBOX" else name],
        )
        row = cursor.fetchone()
    return None if row is None else Folder.from_db(connection.alias, fields, row)


def qn_folder() -> str:
    return connection.ops.quote_name(Folder._meta.db_table)


def folder_counters(folder_id: int) -> tuple[int, int, int] | None:
    """(highestmodseq, uidnext, message_count) of a folder, None when it is gone: one plain
    statement (the look every command after a change notice takes first)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT highestmodseq, uidnext, message_count FROM {qn_folder()} WHERE id = %s",  # noqa: S608
            [folder_id],
        )
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def changed_flags(folder_id: int, modseq: int) -> list[tuple[int, tuple[str, ...], int]]:
    """(uid, flags, modseq) of the folder's messages changed after `modseq`, UID order: one
    plain statement, no model or ORM row iterator (a session's look after each change)."""
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT uid, modseq, keywords, answered, flagged, deleted, seen, draft "  # noqa: S608
            f"FROM {table} WHERE folder_id = %s AND modseq > %s ORDER BY uid",
            [folder_id, modseq],
        )
        rows = cursor.fetchall()
    out = []
    for uid, mseq, keywords, *columns in rows:
        flags = [f for f, on in zip(_FLAG_NAMES, columns, strict=True) if on]
        if keywords and keywords != "[]":
            flags += [str(k) for k in _json_list(keywords)]
        out.append((int(uid), tuple(flags), int(mseq)))
    return out


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


@dataclass(frozen=True, slots=True)
class Plan:
    """How a FETCH is answered from the columns: `atts` in the client's order (plus MODSEQ
    when CONDSTORE asks for it); `meta` when MessageMeta columns are needed."""

    atts: tuple[FetchAtt, ...]
    meta: bool
    modseq: bool
    # `BODY[HEADER.FIELDS (…)]` of each header-fields att (None for the others), rendered once
    labels: tuple[bytes | None, ...] = ()


def plan(atts: Sequence[FetchAtt], *, condstore: bool) -> Plan | None:
    """A Plan when every attribute comes from the index, else None (the general path)."""
    meta = False
    for att in atts:
        if att.name in _COLUMN_ATTS and att.section is None:
            continue
        if att.name in _META_ATTS and att.section is None:
            meta = True
            continue
        section = att.section
        if (
            att.name == "BODY"
            and att.peek
            and section is not None
            and not section.part
            and section.text == "HEADER.FIELDS"
            and att.partial is None
            and {f.lower() for f in section.fields} <= imapmeta.PREFETCH_FIELDS
        ):
            meta = True
            continue
        return None
    names = {a.name for a in atts}
    labels = tuple(
        b"BODY[" + a.section.render().encode() + b"]" if a.section is not None else None
        for a in atts
    )
    return Plan(tuple(atts), meta, condstore and "MODSEQ" not in names, labels)


def fetch_rows(
    folder_id: int,
    lo: int,
    hi: int,
    uids: Sequence[int] | None,
    changedsince: int | None,
    meta: bool,
) -> list[tuple[Any, ...]]:
    """Rows of fetch_plan's columns for UIDs lo..hi (only `uids` when given), in UID order.
    On PostgreSQL one plain statement (no query compilation and no per-row converters: a
    50-message header FETCH is mostly this); elsewhere the same through the ORM."""
    if connection.vendor != "postgresql":
        return _fetch_rows_orm(folder_id, lo, hi, uids, changedsince, meta)
    qn = connection.ops.quote_name
    # internal_date as whole seconds since the epoch: INTERNALDATE has no fraction, and an
    # integer skips the time zone loader run for every row (a tenth of a header FETCH).
    cols = ", ".join(
        f"floor(extract(epoch FROM m.{qn(c)}))::bigint" if c == "internal_date" else f"m.{qn(c)}"
        for c in _BASE
    )
    tables = f"{qn(Message._meta.db_table)} m"
    if meta:
        cols += ", " + ", ".join(f"x.{qn(c)}" for c in _META)
        tables += f" LEFT JOIN {qn(MessageMeta._meta.db_table)} x ON x.message_id = m.id"
    where = "m.folder_id = %s AND m.uid >= %s AND m.uid <= %s"
    params: list[Any] = [folder_id, lo, hi]
    if uids is not None:
        where += " AND m.uid = ANY(%s)"
        params.append([int(u) for u in uids])
    if changedsince is not None:
        where += " AND m.modseq > %s"
        params.append(changedsince)
    with connection.cursor() as cursor:
        # Names from the models' metadata, values as parameters.
        cursor.execute(f"SELECT {cols} FROM {tables} WHERE {where} ORDER BY m.uid", params)  # noqa: S608
        return [tuple(r) for r in cursor.fetchall()]


def message_rows(
    folder_id: int, uids: Sequence[int], changedsince: int | None
) -> list[Message] | None:
    """The Message rows of `uids` (sorted) through one plain statement on PostgreSQL, skipping
    the ORM's query compilation (most of a one-message body FETCH); None elsewhere."""
    if connection.vendor != "postgresql" or not uids:
        return None
    lo, hi = uids[0], uids[-1]
    where = "folder_id = %s AND uid >= %s AND uid <= %s"
    params: list[Any] = [folder_id, lo, hi]
    if hi - lo + 1 != len(uids):
        where += " AND uid = ANY(%s)"
        params.append([int(u) for u in uids])
    if changedsince is not None:
        where += " AND modseq > %s"
        params.append(changedsince)
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = f"SELECT * FROM {table} WHERE {where} ORDER BY uid"  # noqa: S608
    return list(Message.objects.raw(sql, params))


def _fetch_rows_orm(
    folder_id: int,
    lo: int,
    hi: int,
    uids: Sequence[int] | None,
    changedsince: int | None,
    meta: bool,
) -> list[tuple[Any, ...]]:
    fields = [*_BASE, *(f"meta__{m}" for m in _META)] if meta else list(_BASE)
    qs = Message.objects.filter(folder_id=folder_id, uid__gte=lo, uid__lte=hi)
    if uids is not None:
        qs = qs.filter(uid__in=list(uids))
    if changedsince is not None:
        qs = qs.filter(modseq__gt=changedsince)
    return list(qs.order_by("uid").values_list(*fields))


def render_row(seq: int, r: tuple[Any, ...], p: Plan) -> bytes | None:
    """`* seq FETCH (…)` of one row; None when its metadata cannot answer (general path)."""
    items: list[bytes] = []
    for i, att in enumerate(p.atts):
        name = att.name
        if name == "UID":
            items.append(b"UID %d" % r[1])
        elif name == "FLAGS":
            items.append(b"FLAGS (" + _flags(r).encode() + b")")
        elif name == "INTERNALDATE":
            items.append(_internaldate(r[4]))
        elif name == "RFC822.SIZE":
            items.append(b"RFC822.SIZE %d" % r[3])
        elif name == "MODSEQ":
            items.append(b"MODSEQ (%d)" % r[2])
        elif name == "EMAILID":
            items.append(b"EMAILID (M%d)" % r[0])
        elif name == "THREADID":
            items.append(b"THREADID NIL")
        elif name == "ENVELOPE":
            value = r[12]
            if r[11] != imapmeta.VERSION or not value:
                return None
            items.append(b"ENVELOPE " + bytes(value))
        elif name == "BODYSTRUCTURE":
            value = r[13]
            if r[11] != imapmeta.VERSION or not value:
                return None
            items.append(b"BODYSTRUCTURE " + bytes(value))
        else:  # BODY.PEEK[HEADER.FIELDS (…)] from the prefetched block
            section = att.section
            assert section is not None
            if r[11] != imapmeta.VERSION:
                return None
            block = imapmeta.pick_header_fields(
                bytes(r[14] or b""), section.fields, complete=bool(r[15])
            )
            if block is None:
                return None
            label = p.labels[i]
            assert label is not None
            items.append(label + b" {%d}\r\n" % len(block) + block)
    if p.modseq:
        items.append(b"MODSEQ (%d)" % r[2])
    return b"* %d FETCH (" % seq + b" ".join(items) + b")\r\n"


def _internaldate(when: datetime | int) -> bytes:
    """INTERNALDATE item (protocol.format_datetime's text, without strftime: it is on every
    row of a full-folder FETCH), from a datetime or (fetch_rows on PostgreSQL) seconds since
    the epoch."""
    if isinstance(when, int):
        t = time.gmtime(when)
        day, month, year, hour, minute, second = (
            t.tm_mday, t.tm_mon, t.tm_year, t.tm_hour, t.tm_min, t.tm_sec
        )  # fmt: skip
    else:
        if when.utcoffset():
            when = when.astimezone(UTC)
        day, month, year = when.day, when.month, when.year
        hour, minute, second = when.hour, when.minute, when.second
    return b'INTERNALDATE "%02d-%s-%04d %02d:%02d:%02d +0000"' % (
        day,
        _MONTHS[month - 1],
        year,
        hour,
        minute,
        second,
    )


def _flags(r: tuple[Any, ...]) -> str:
    flags = [f for f, on in zip(_FLAG_NAMES, r[6:11], strict=True) if on]
    keywords = r[5]
    if keywords and keywords != "[]":  # most messages have none: no JSON to decode
        flags += [str(k) for k in _json_list(keywords)]
    return " ".join(flags)


# --- where each message's file is, for body FETCHes --------------------------------------------

# Per process: folder id → (uidvalidity, {uid: (maildir key, in cur/, info, CRLF size)}). A
# UID names one message for the life of its UIDVALIDITY, and a message's key never changes
# (its flags letters may: the Maildir finds the file by its key's stem then), so an entry
# never goes wrong; a message expunged or moved away since has no file in the folder any
# more, which the FETCH reports as expunged, as it does when the row was read just before.
# Flags, MODSEQs and which UIDs exist still come from the database.
FILES_CACHE_ENTRIES = 400_000  # in all folders
FILES_WHOLE_FOLDER = 100_000  # a folder this big or smaller is loaded whole at its first use
FileEntry = tuple[str, bool, str, int]
_files: OrderedDict[int, tuple[int, dict[int, FileEntry]]] = OrderedDict()
_files_size = 0


def cached_files(folder_id: int, uidvalidity: int, uids: Sequence[int]) -> list[FileEntry] | None:
    """The file entries of `uids` when this process knows them all, else None."""
    with _views_lock:
        hit = _files.get(folder_id)
        if hit is None or hit[0] != uidvalidity:
            return None
        known = hit[1]
        out = []
        for uid in uids:
            entry = known.get(uid)
            if entry is None:
                return None
            out.append(entry)
        _files.move_to_end(folder_id)
        return out


def load_files(folder: Folder, uids: Sequence[int]) -> None:
    """Learn the file entries of `uids` (of the whole folder when it is not too big and not
    known yet): one plain query; UIDs without a row (expunged) stay unknown."""
    global _files_size
    uidvalidity = int(folder.uidvalidity)
    with _views_lock:
        hit = _files.get(folder.pk)
        fresh = hit is None or hit[0] != uidvalidity
    table = connection.ops.quote_name(Message._meta.db_table)
    where, params = "folder_id = %s", [folder.pk]
    if not (fresh and int(folder.message_count) <= FILES_WHOLE_FOLDER):
        where += f" AND uid IN ({', '.join('%s' for _ in uids)})"
        params += [int(u) for u in uids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT uid, maildir_key, in_cur, info, size FROM {table} WHERE {where}",  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    with _views_lock:
        hit = _files.get(folder.pk)
        if hit is None or hit[0] != uidvalidity:
            if hit is not None:
                _files_size -= len(hit[1])
            hit = (uidvalidity, {})
            _files[folder.pk] = hit
        known = hit[1]
        before = len(known)
        for uid, key, in_cur, info, size in rows:
            known[int(uid)] = (str(key), bool(in_cur), str(info), int(size))
        _files_size += len(known) - before
        _files.move_to_end(folder.pk)
        while _files_size > FILES_CACHE_ENTRIES and len(_files) > 1:
            _, (_, dropped) = _files.popitem(last=False)
            _files_size -= len(dropped)
