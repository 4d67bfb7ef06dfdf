"""IMAP SEARCH, SORT and THREAD over the database index (never the message files).

Text keys use the web's search (mailcore.store.queries: the same fields, the same body text
index, the same LIKE rules); flag, date, size, UID and MODSEQ keys are plain column filters.
Runs synchronously: the session calls it through mailcore.asyncdb.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from mailcore.errors import UserError
from mailcore.imap.protocol import SearchKey, SeqSet
from mailcore.store.models import Folder, Message
from mailcore.store.queries import _recipient_matches, search_terms

# HEADER keys answered from the index; other header names are refused (NO [CANNOT]).
_INDEXED_HEADERS = {
    "subject": ("subject",),
    "from": ("from_name", "from_addr"),
    "message-id": ("message_id",),
    "in-reply-to": ("in_reply_to",),
    "references": ("references",),
}

_ID_HEADERS = {"message-id", "in-reply-to", "references"}


class CannotSearchError(UserError):
    code = "cannot"


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


def build_q(key: SearchKey, mapping: Mapping, uidnext: int) -> Q:
    op, args = key.op, key.args
    if op == "ALL":
        return Q()
    if op == "NONE":
        return Q(pk__in=[])
    if op == "AND":
        q = Q()
        for sub in args:
            assert isinstance(sub, SearchKey)
            q &= build_q(sub, mapping, uidnext)
        return q
    if op == "OR":
        a, b = args
        assert isinstance(a, SearchKey) and isinstance(b, SearchKey)
        return build_q(a, mapping, uidnext) | build_q(b, mapping, uidnext)
    if op == "NOT":
        (sub,) = args
        assert isinstance(sub, SearchKey)
        return ~build_q(sub, mapping, uidnext)
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
        return Q() if op != "BCC" else Q(pk__in=[])
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
        return Q(pk__in=[])  # Bcc is not kept in delivered mail's index (nor, mostly, in mail)
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
        return build_q(SearchKey(lname.upper(), (value,)), Mapping(()), 0) if value else Q()
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
    q = build_q(key, mapping, uidnext)
    qs = Message.objects.filter(folder=folder).filter(q)
    if mapping.uids:
        qs = qs.filter(uid__lte=mapping.uids[-1])
    else:
        return []
    return list(qs.order_by("uid").values_list("uid", flat=True).distinct())


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
