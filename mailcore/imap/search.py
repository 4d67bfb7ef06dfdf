"""IMAP SEARCH, SORT and THREAD over the database index (never the message files).

TEXT, BODY, SUBJECT, FROM, TO and CC go through the search backend (mailcore.search: the
web's fields, index and exact folded-substring rules); HEADER matches the listing columns;
flag, date, size, UID and MODSEQ keys are plain column filters.
Runs synchronously: the session calls it through mailcore.asyncdb.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from mailcore.errors import MailcoreError, StorageError, UserError
from mailcore.imap.protocol import SearchKey, SeqSet
from mailcore.mime import fold
from mailcore.search.backend import get_backend
from mailcore.search.query import SearchQuery
from mailcore.store.maildir import Maildir
from mailcore.store.models import Folder, Message
from mailcore.store.queries import _recipient_matches, search_terms

# HEADER keys answered from the index; other header names are read from the files.
_INDEXED_HEADERS = {
    "subject": ("subject",),
    "from": ("from_name", "from_addr"),
    "message-id": ("message_id",),
    "in-reply-to": ("in_reply_to",),
    "references": ("references",),
}

_ID_HEADERS = {"message-id", "in-reply-to", "references"}


# HEADER on any other field (and BCC) reads the header blocks of the message files, as
# Dovecot does, within these bounds: files read by one SEARCH, bytes read of one header.
HEADER_SCAN_MESSAGES = 50000
HEADER_SCAN_BYTES = 256 * 1024


class CannotSearchError(UserError):
    code = "cannot"


class SearchLimitError(UserError):
    code = "limit"


@dataclass(frozen=True, slots=True)
class Mapping:
    """The session's view: `uids` in sequence order (message n has uids[n-1]); `saved` is
    the SEARCHRES result ($) as UIDs."""

    uids: Sequence[int]
    saved: tuple[int, ...] = ()


def _uid_ranges_q(ranges: list[tuple[int, int]]) -> Q:
    if not ranges:
        return Q(pk__in=[])
    q = Q()
    for lo, hi in ranges:
        q |= Q(uid=lo) if lo == hi else Q(uid__gte=lo, uid__lte=hi)
    return q


def seq_to_uid_ranges(seqset: SeqSet, mapping: Mapping) -> list[tuple[int, int]]:
    """UID ranges of the messages a sequence set names (a range of sequence numbers is a
    range of UIDs: both grow together)."""
    if seqset.saved:
        return [(u, u) for u in mapping.saved]
    n = len(mapping.uids)
    out: list[tuple[int, int]] = []
    if n == 0:
        return out
    for lo, hi in seqset.resolve(n):
        lo, hi = max(lo, 1), min(hi, n)
        if lo <= hi:
            out.append((mapping.uids[lo - 1], mapping.uids[hi - 1]))
    return out


def uid_ranges(seqset: SeqSet, mapping: Mapping, uidnext: int) -> list[tuple[int, int]]:
    if seqset.saved:
        return [(u, u) for u in mapping.saved]
    largest = mapping.uids[-1] if mapping.uids else max(uidnext - 1, 0)
    return seqset.resolve(largest)


def _text_q(term_text: str) -> Q:
    """The web search's match for a query: every word in subject, sender, To/Cc or body."""
    match = Q()
    for term in search_terms(term_text):
        pattern = f"%{connection.ops.prep_for_like_query(term)}%"
        match &= (
            Q(subject__icontains=term)
            | Q(from_name__icontains=term)
            | Q(from_addr__icontains=term)
            | Q(text__text__contains=term.casefold())
            | Q(_recipient_matches(pattern))
        )
    return match


def _day_bounds(day: datetime) -> tuple[datetime, datetime]:
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def build_q(
    key: SearchKey, mapping: Mapping, uidnext: int, found: dict[SearchKey, Q] | None = None
) -> Q:
    """The filter of `key`; `found` holds the answers of the keys read from the files."""
    if found is not None and key in found:
        return found[key]
    op, args = key.op, key.args
    if op == "ALL":
        return Q()
    if op == "NONE":
        return Q(pk__in=[])
    if op == "AND":
        q = Q()
        for sub in args:
            assert isinstance(sub, SearchKey)
            q &= build_q(sub, mapping, uidnext, found)
        return q
    if op == "OR":
        a, b = args
        assert isinstance(a, SearchKey) and isinstance(b, SearchKey)
        return build_q(a, mapping, uidnext, found) | build_q(b, mapping, uidnext, found)
    if op == "NOT":
        (sub,) = args
        assert isinstance(sub, SearchKey)
        return ~build_q(sub, mapping, uidnext, found)
    if op == "SEQ":
        (seqset,) = args
        assert isinstance(seqset, SeqSet)
        return _uid_ranges_q(seq_to_uid_ranges(seqset, mapping))
    if op == "UID":
        (seqset,) = args
        assert isinstance(seqset, SeqSet)
        return _uid_ranges_q(uid_ranges(seqset, mapping, uidnext))
    if op == "FLAG":
        name, on = args
        return Q(**{str(name): bool(on)})
    if op in {"KEYWORD", "UNKEYWORD"}:
        # Keywords are atoms without '"' or '\\': their quoted JSON form matches exactly one.
        q = Q(keywords__icontains=f'"{args[0]}"')
        return q if op == "KEYWORD" else ~q
    text = str(args[0]) if args else ""
    if op in {"TEXT", "BODY", "SUBJECT", "FROM", "TO", "CC", "BCC", "HEADER"} and not text:
        if op == "HEADER" and not str(args[1]):
            return _header_q(str(args[0]), "")
        if op == "BCC":
            raise CannotSearchError("BCC is searched in the message files")
        return Q()
    if op == "TEXT":
        return _text_q(text)
    if op == "BODY":
        q = Q()
        for term in search_terms(text):
            q &= Q(text__text__contains=term.casefold())
        return q
    if op == "SUBJECT":
        return Q(subject__icontains=text)
    if op == "FROM":
        return Q(from_name__icontains=text) | Q(from_addr__icontains=text)
    if op in {"TO", "CC"}:
        pattern = f"%{connection.ops.prep_for_like_query(text)}%"
        field = "to_addrs" if op == "TO" else "cc_addrs"
        # _recipient_matches looks at To and Cc together; narrow by the JSON text too.
        return Q(_recipient_matches(pattern)) & Q(**{f"{field}__icontains": text})
    if op == "BCC":
        # Answered from the files (search_uids); build_q alone cannot read them.
        raise CannotSearchError("BCC is searched in the message files")
    if op == "HEADER":
        return _header_q(str(args[0]), str(args[1]))
    if op in {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}:
        day = args[0]
        assert isinstance(day, datetime)
        start, end = _day_bounds(day)
        column = "sent_date" if op.startswith("SENT") else "internal_date"
        kind = op.removeprefix("SENT")
        if kind == "BEFORE":
            return Q(**{f"{column}__lt": start})
        if kind == "SINCE":
            return Q(**{f"{column}__gte": start})
        return Q(**{f"{column}__gte": start, f"{column}__lt": end})
    if op == "LARGER":
        return Q(size__gt=int(str(args[0])))
    if op == "SMALLER":
        return Q(size__lt=int(str(args[0])))
    if op == "MODSEQ":
        return Q(modseq__gte=int(str(args[0])))
    if op in {"OLDER", "YOUNGER"}:
        edge = timezone.now() - timedelta(seconds=int(str(args[0])))
        return Q(internal_date__lte=edge) if op == "OLDER" else Q(internal_date__gte=edge)
    raise CannotSearchError(f"Search key {op} is not supported")


def _header_q(name: str, value: str) -> Q:
    fields = _INDEXED_HEADERS.get(name.lower())
    lname = name.lower()
    if lname in {"to", "cc"}:
        if value:
            return build_q(SearchKey(lname.upper(), (value,)), Mapping(()), 0)
        return ~Q(**{f"{lname}_addrs": []})  # the field is there (with an address)
    if fields is None:
        raise CannotSearchError(f"Searching the header {name} is not supported")
    if not value:
        q = Q()
        for f in fields:
            q |= ~Q(**{f: ""})
        return q
    if lname in _ID_HEADERS:
        # Kept without angle brackets: "<r@x>" and "<a@b> <c@d>" match "r@x" and "a@b c@d".
        value = " ".join(value.replace("<", " ").replace(">", " ").split()) or value
    q = Q()
    for f in fields:
        q |= Q(**{f"{f}__icontains": value})
    return q


def search_uids(folder: Folder, key: SearchKey, mapping: Mapping, uidnext: int) -> list[int]:
    """UIDs of the folder's messages matching `key`, ascending; only those in the session's
    view (a message that arrived since is not answered before its EXISTS)."""
    if not mapping.uids:
        return []
    key = _as_field_keys(key)
    flags = _flag_terms(key)
    if flags is not None:
        return _flag_search(folder, flags, mapping.uids[-1])
    found = _file_header_matches(folder, key, mapping, uidnext)
    found.update(_text_matches(folder, key))
    q = build_q(key, mapping, uidnext, found)
    qs = Message.objects.filter(folder=folder).filter(q)
    qs = qs.filter(uid__lte=mapping.uids[-1])
    # The compiled statement run on a plain cursor: thousands of UIDs (SEARCH UNSEEN) cost
    # Django's row iterator more than the query itself.
    try:
        sql, params = (
            qs.order_by("uid").values_list("uid", flat=True).distinct().query.sql_with_params()
        )
    except EmptyResultSet:  # a key that can match nothing (the ORM would not ask either)
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(r[0]) for r in cursor.fetchall()]


_FLAG_COLUMNS = frozenset({"answered", "flagged", "deleted", "seen", "draft"})


def _flag_terms(key: SearchKey) -> list[tuple[str, bool]] | None:
    """(column, value) pairs when `key` is only flags ANDed together (UNSEEN, UNSEEN
    FLAGGED, ALL: what clients send most), else None (the general path)."""
    if key.op == "ALL":
        return []
    if key.op == "FLAG":
        name, on = key.args
        return [(str(name), bool(on))] if str(name) in _FLAG_COLUMNS else None
    if key.op != "AND":
        return None
    terms: list[tuple[str, bool]] = []
    for sub in key.args:
        found = _flag_terms(sub) if isinstance(sub, SearchKey) else None
        if found is None:
            return None
        terms += found
    return terms


def _flag_search(folder: Folder, terms: list[tuple[str, bool]], last_uid: int) -> list[int]:
    """search_uids for _flag_terms: one plain statement (no query compilation)."""
    qn = connection.ops.quote_name
    where = "".join(f" AND {qn(column)} = %s" for column, _ in terms)  # known column names
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT uid FROM {qn(Message._meta.db_table)} "  # noqa: S608
            f"WHERE folder_id = %s AND uid <= %s{where} ORDER BY uid",
            [folder.pk, last_uid, *(on for _, on in terms)],
        )
        return [int(r[0]) for r in cursor.fetchall()]


def _as_field_keys(key: SearchKey) -> SearchKey:
    """HEADER Subject/From/To/Cc with a value asks what SUBJECT/FROM/TO/CC ask (RFC 9051 §6.4.4
    defines those as HEADER on the field), so both go through the search backend with the
    same Unicode folding; HEADER with an empty value (the field exists) stays as it is."""
    if key.op in {"AND", "OR", "NOT"}:
        args = tuple(_as_field_keys(a) if isinstance(a, SearchKey) else a for a in key.args)
        return SearchKey(key.op, args) if args != key.args else key
    if key.op == "HEADER" and len(key.args) == 2 and str(key.args[1]).strip():
        name = str(key.args[0]).lower()
        if name in {"subject", "from", "to", "cc"}:
            return SearchKey(name.upper(), (key.args[1],))
    return key


# Keys answered by the search backend besides TEXT and BODY: the web search field that
# narrows each (to: is To or Cc), then the exact IMAP field test (_field_has).
_BACKEND_FIELDS = {"SUBJECT": "subject", "FROM": "from", "TO": "to", "CC": "to"}


def _text_matches(folder: Folder, key: SearchKey) -> dict[SearchKey, Q]:
    """For each TEXT, BODY, SUBJECT, FROM, TO and CC key of the tree: the folder's messages
    the search backend finds for it (every word of it a substring of a field, or of the body
    for BODY, after NFKC and case folding: so SUBJECT ärger finds ÄRGER on SQLite too)."""
    out: dict[SearchKey, Q] = {}
    stack = [key]
    while stack:
        k = stack.pop()
        if k.op in {"AND", "OR", "NOT"}:
            stack.extend(sub for sub in k.args if isinstance(sub, SearchKey))
        elif (
            k.op in {"TEXT", "BODY", *_BACKEND_FIELDS}
            and k.args
            and str(k.args[0]).strip()
            and k not in out
            and not (k.op in _BACKEND_FIELDS and str(k.args[0]).isascii())
        ):
            # SUBJECT/FROM/TO/CC with an ASCII value (an address, mostly) are answered by the
            # columns: LIKE folds ASCII on both databases, and a scan of one folder's columns
            # beats collecting every match of common trigrams (example.net) from the index —
            # `FROM senderN@example.net` took 2.8 s p50 that way under 10 clients (bench/imap.py).
            words = tuple(dict.fromkeys(fold(str(k.args[0])).split()))
            if k.op == "TEXT":
                query = SearchQuery(terms=words)
            else:
                query = SearchQuery(fields={_BACKEND_FIELDS.get(k.op, "body"): words})
            uids = get_backend().search_uids(folder.account, query, folder)
            if k.op in _BACKEND_FIELDS:
                uids = _field_has(folder, k.op, " ".join(words), uids)
            out[k] = _uid_ranges_q(_compact(uids))
    return out


def _field_has(folder: Folder, op: str, phrase: str, uids: list[int]) -> list[int]:
    """The `uids` whose IMAP field `op` holds the folded `phrase` whole (the backend found
    each word of it in the web's field; IMAP wants the string, and TO and CC apart)."""
    if op in {"SUBJECT", "FROM"} and " " not in phrase:
        return uids  # the backend's answer is exactly this test
    out: list[int] = []
    for i in range(0, len(uids), 5000):
        rows = Message.objects.filter(folder=folder, uid__in=uids[i : i + 5000]).values_list(
            "uid", "subject", "from_name", "from_addr", "to_addrs", "cc_addrs"
        )
        for uid, subject, from_name, from_addr, to_addrs, cc_addrs in rows:
            if op == "SUBJECT":
                texts = [subject]
            elif op == "FROM":
                texts = [from_name, from_addr]
            else:
                pairs = to_addrs if op == "TO" else cc_addrs
                texts = [str(x) for pair in pairs or [] for x in pair]
            if any(phrase in " ".join(fold(t).split()) for t in texts):
                out.append(uid)
    return sorted(out)


def _file_keys(key: SearchKey, out: list[SearchKey]) -> list[SearchKey]:
    """The keys of the tree answered from the message files: HEADER on a field the index
    does not keep, and BCC."""
    if key.op in {"AND", "OR", "NOT"}:
        for sub in key.args:
            assert isinstance(sub, SearchKey)
            _file_keys(sub, out)
    elif key.op == "BCC" or (
        key.op == "HEADER"
        and str(key.args[0]).lower() not in _INDEXED_HEADERS
        and str(key.args[0]).lower() not in {"to", "cc"}
    ):
        out.append(key)
    return out


def _file_header_matches(
    folder: Folder, key: SearchKey, mapping: Mapping, uidnext: int
) -> dict[SearchKey, Q]:
    """For each key read from the files: a filter on the UIDs whose header block matches.
    Only the messages that the rest of a top-level AND leaves are read; a file that has gone
    (expunged meanwhile) matches nothing."""
    from mailcore.store.queries import maildir_for

    keys = _file_keys(key, [])
    if not keys:
        return {}
    others = Q()
    if key.op == "AND":
        for sub in key.args:
            assert isinstance(sub, SearchKey)
            if not _file_keys(sub, []):
                others &= build_q(sub, mapping, uidnext)
    rows = list(
        Message.objects.filter(folder=folder, uid__lte=mapping.uids[-1])
        .filter(others)
        .order_by("uid")
        .values_list("uid", "maildir_key", "in_cur", "info")[: HEADER_SCAN_MESSAGES + 1]
    )
    if len(rows) > HEADER_SCAN_MESSAGES:
        raise SearchLimitError(
            f"[LIMIT] Searching this header reads at most {HEADER_SCAN_MESSAGES} messages: "
            "narrow the search"
        )
    wanted = [(k, *_header_key(k)) for k in keys]
    matched: dict[SearchKey, list[int]] = {k: [] for k in keys}
    maildir = maildir_for(folder.account)
    for uid, mkey, in_cur, info in rows:
        try:
            block = _header_block(maildir, folder.path, mkey, in_cur, info)
        except MailcoreError:
            continue  # the file has gone: nothing to match
        values = _header_values(block, {name for _, name, _ in wanted})
        for k, name, needle in wanted:
            if any(needle in v for v in values.get(name, ())):
                matched[k].append(uid)
    return {k: _uid_ranges_q(_compact(uids)) for k, uids in matched.items()}


def _header_key(key: SearchKey) -> tuple[str, str]:
    if key.op == "BCC":
        return "bcc", _fold(str(key.args[0]))
    return str(key.args[0]).lower(), _fold(str(key.args[1]))


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _compact(uids: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for u in uids:
        if out and out[-1][1] == u - 1:
            out[-1] = (out[-1][0], u)
        else:
            out.append((u, u))
    return out


def _header_block(maildir: Maildir, path: str, key: str, in_cur: bool, info: str) -> bytes:
    """The header block of a message file (CRLF form), read up to its blank line and at most
    HEADER_SCAN_BYTES."""
    block = b""
    with maildir.open_crlf(path, key, in_cur=in_cur, info=info, chunk_size=8192) as reader:
        try:
            for chunk in reader.chunks():
                block += chunk
                if block.startswith(b"\r\n"):
                    return b""
                end = block.find(b"\r\n\r\n")
                if end >= 0:
                    return block[: end + 2]
                if len(block) >= HEADER_SCAN_BYTES:
                    return block[:HEADER_SCAN_BYTES]
        except OSError as exc:
            raise StorageError(f"cannot read message {key}: {exc}") from exc
    return block


def _header_values(block: bytes, names: set[str]) -> dict[str, list[str]]:
    """The unfolded, RFC 2047-decoded, whitespace-collapsed, casefolded values of the fields
    `names` (lower case) in a header block."""
    from email.header import decode_header, make_header

    out: dict[str, list[str]] = {}
    for field in re.split(rb"\r\n(?![ \t])", block):
        name, sep, raw = field.partition(b":")
        lname = name.strip().decode("latin-1").lower()
        if not sep or lname not in names:
            continue
        text = raw.decode("utf-8", "replace")
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            text = str(make_header(decode_header(text)))
        out.setdefault(lname, []).append(_fold(text))
    return out


def max_modseq(folder: Folder, uids: list[int]) -> int:
    if not uids:
        return 0
    rows = Message.objects.filter(folder=folder, uid__in=uids[:10000])
    return int(max(rows.values_list("modseq", flat=True), default=0))


# --- SORT and THREAD (RFC 5256) ---------------------------------------------------------------

_SUBJ_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|답장|전달)\s*(\[[^\]]*\])?\s*:\s*)", re.I)
_SUBJ_BLOB = re.compile(r"^\s*\[[^\]]*\]\s*")
_SUBJ_TRAILER = re.compile(r"\s*\(fwd\)\s*$", re.I)


def base_subject(subject: str) -> str:
    """RFC 5256 §2.1 base subject (decoded, so Korean reply prefixes count too)."""
    s = " ".join(subject.split())
    while True:
        before = s
        s = _SUBJ_TRAILER.sub("", s)
        while True:
            m = _SUBJ_PREFIX.match(s) or _SUBJ_BLOB.match(s)
            if not m or m.end() == len(s):
                break
            s = s[m.end() :]
        if s.lower().startswith("[fwd:") and s.endswith("]"):
            s = s[5:-1].strip()
        if s == before:
            return s.casefold()


_FIELDS = (
    "uid",
    "internal_date",
    "sent_date",
    "from_addr",
    "from_name",
    "subject",
    "size",
    "to_addrs",
    "cc_addrs",
    "message_id",
    "in_reply_to",
    "references",
)


def _rows(folder: Folder, uids: list[int]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(0, len(uids), 5000):
        chunk = uids[i : i + 5000]
        rows += list(
            Message.objects.filter(folder=folder, uid__gte=chunk[0], uid__lte=chunk[-1])
            .filter(uid__in=chunk)
            .values(*_FIELDS)
        )
    return rows


def _first_addr(value: object, display: bool) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list) and len(value[0]) == 2:
        name, addr = value[0]
        text = (name or addr) if display else str(addr).split("@")[0]
        return str(text).casefold()
    return ""


def sort_uids(folder: Folder, uids: list[int], criteria: tuple[str, ...]) -> list[int]:
    rows = _rows(folder, uids)
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())

    def key_of(name: str, row: dict[str, object]) -> object:
        if name == "ARRIVAL":
            return row["internal_date"]
        if name == "DATE":
            return row["sent_date"] or row["internal_date"] or epoch
        if name == "FROM":
            return str(row["from_addr"]).split("@")[0].casefold()
        if name == "DISPLAYFROM":
            return str(row["from_name"] or row["from_addr"]).casefold()
        if name in {"TO", "DISPLAYTO"}:
            return _first_addr(row["to_addrs"], name == "DISPLAYTO")
        if name == "CC":
            return _first_addr(row["cc_addrs"], False)
        if name == "SUBJECT":
            return base_subject(str(row["subject"]))
        if name == "SIZE":
            return row["size"]
        raise UserError(f"unknown sort key {name}")

    rows.sort(key=lambda r: int(str(r["uid"])))  # RFC 5256: ties go by sequence order
    reverse = False
    keys: list[tuple[str, bool]] = []
    for name in criteria:
        if name == "REVERSE":
            reverse = True
            continue
        keys.append((name, reverse))
        reverse = False
    for name, rev in reversed(keys):
        rows.sort(key=functools.partial(_sort_value, key_of, name), reverse=rev)
    return [int(str(r["uid"])) for r in rows]


Thread = list[object]  # [uid, child-thread, …] rendered by the session


def _sort_value(key_of: Any, name: str, row: dict[str, object]) -> Any:
    return key_of(name, row)


def thread_uids(folder: Folder, uids: list[int], algorithm: str) -> list[list[object]]:
    rows = _rows(folder, uids)

    def date_of(r: dict[str, object]) -> tuple[object, int]:
        return (r["sent_date"] or r["internal_date"], int(str(r["uid"])))

    rows.sort(key=date_of)
    if algorithm == "ORDEREDSUBJECT":
        groups: dict[str, list[dict[str, object]]] = {}
        for r in rows:
            groups.setdefault(base_subject(str(r["subject"])), []).append(r)
        threads = sorted(groups.values(), key=lambda g: date_of(g[0]))
        # RFC 5256 §3: the first message is the parent of all the others, which are siblings.
        return [
            _nest([int(str(g[0]["uid"]))], [[int(str(r["uid"]))] for r in g[1:]]) for g in threads
        ]
    # REFERENCES, simplified (RFC 5256 §3 steps 1-4): a message's parent is the nearest of its
    # references (In-Reply-To last) present in the result; threads with one base subject whose
    # roots have no parent are merged under the earliest.
    # The index keeps message ids without angle brackets ("a@b", References space-separated).
    by_id: dict[str, dict[str, object]] = {}
    for r in rows:
        mid = _bare_ids(str(r["message_id"]))
        if mid and mid[0] not in by_id:
            by_id[mid[0]] = r
    children: dict[int, list[int]] = {}
    roots: list[dict[str, object]] = []
    for r in rows:
        refs = _bare_ids(f"{r['references']} {r['in_reply_to']}")
        parent = None
        for ref in reversed(refs):
            cand = by_id.get(ref)
            if cand is not None and cand is not r:
                parent = cand
                break
        uid = int(str(r["uid"]))
        if parent is None or _ancestor(children, uid, int(str(parent["uid"]))):
            roots.append(r)
        else:
            children.setdefault(int(str(parent["uid"])), []).append(uid)
    merged: dict[str, dict[str, object]] = {}
    out_roots: list[dict[str, object]] = []
    for r in roots:
        subject = base_subject(str(r["subject"]))
        first = merged.get(subject) if subject else None
        if first is None:
            if subject:
                merged[subject] = r
            out_roots.append(r)
        else:
            children.setdefault(int(str(first["uid"])), []).append(int(str(r["uid"])))

    def build(uid: int, depth: int) -> list[object]:
        kids = children.get(uid, []) if depth < 200 else []
        return _nest([uid], [build(k, depth + 1) for k in kids])

    return [build(int(str(r["uid"])), 0) for r in out_roots]


def _bare_ids(text: str) -> list[str]:
    """Message ids as the index keeps them, from ids with or without angle brackets."""
    return [t for t in (w.strip("<>") for w in text.replace(">", "> ").split()) if t]


def _ancestor(children: dict[int, list[int]], uid: int, candidate: int) -> bool:
    """Would making `candidate` the parent of `uid` close a loop?"""
    stack = [uid]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if n == candidate:
            return True
        if n in seen:
            continue
        seen.add(n)
        stack.extend(children.get(n, []))
    return False


def _nest(head: list[object], subthreads: list[list[object]]) -> list[object]:
    """A thread node: [uid, …] continues a single chain; several children become sublists."""
    if len(subthreads) == 1:
        return head + subthreads[0]
    return [*head, *subthreads]
