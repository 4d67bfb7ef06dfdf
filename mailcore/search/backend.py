"""SearchBackend: index a message, remove it, find an account's messages for a SearchQuery
newest first with a keyset cursor, rebuild an account. One implementation per database
(`get_backend()` picks it by the connection in use); a third (OpenSearch, docs/search-at-
scale.md) would implement `candidates` and the index writes the same way.

The backends only narrow: `candidates` yields message ids, newest first, that have every
n-gram key of the query's terms. Every candidate is rechecked here against the stored texts
(subject, sender, recipients, body text, attachment file names, each folded), so results are
exactly "every term is a substring of one field" whatever the keys matched across words.

Index writes: `index_entry()` gives the MessageSearch row a store action inserts with the
message, in the same transaction; deleting the Message deletes it (a CASCADE; on SQLite a
trigger feeds its keys back to the contentless FTS5 table), moving a message keeps it.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Final

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import MailcoreError
from mailcore.mime import ParsedMessage, fold, parse_message, search_text
from mailcore.search.fields import key_hash
from mailcore.search.query import SearchQuery, SearchSyntaxError
from mailcore.search.text import (
    ATTACHMENT_KEY,
    date_keys,
    document_keys,
    flag_keys,
    folded_fields,
    range_keys,
    term_keys,
)
from mailcore.store.models import Folder, Message, MessageSearch, MessageText, SpecialUse
from mailcore.store.queries import NOT_SEARCHED_BY_DEFAULT

log = logging.getLogger(__name__)


def batched(items: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


# A query whose every term is too short for the keys (one Hangul syllable, one or two Latin
# letters) rechecks this many of the newest messages that pass its filters, no more.
SCAN_WITHOUT_KEYS: Final = 20_000
# A query with a flag (is:unread, is:starred) that at most this many of the account's
# messages have rechecks them all, newest first, without the index.
FILTER_FIRST: Final = 500
MAX_FILENAMES: Final = 100
MAX_FILENAMES_CHARS: Final = 8_000
REBUILD_BATCH: Final = 200
_GENERATED_NAME: Final = re.compile(r"^attachment-\d+\.[a-z0-9]+$")

_FOLDER_WORDS: Final = {
    "inbox": SpecialUse.INBOX,
    "받은메일함": SpecialUse.INBOX,
    "sent": SpecialUse.SENT,
    "보낸메일함": SpecialUse.SENT,
    "drafts": SpecialUse.DRAFTS,
    "draft": SpecialUse.DRAFTS,
    "임시보관함": SpecialUse.DRAFTS,
    "tome": SpecialUse.TOME,
    "내게쓴메일함": SpecialUse.TOME,
    "junk": SpecialUse.JUNK,
    "spam": SpecialUse.JUNK,
    "스팸메일함": SpecialUse.JUNK,
    "trash": SpecialUse.TRASH,
    "휴지통": SpecialUse.TRASH,
}
_EVERYWHERE: Final = {"anywhere", "all", "전체"}


def indexed_filenames(parsed: ParsedMessage) -> str:
    """The attachment file names a message is found by, folded, one a line (capped)."""
    names = [
        fold(a.filename)
        for a in parsed.attachments[:MAX_FILENAMES]
        if not _GENERATED_NAME.match(a.filename)
    ]
    return "\n".join(dict.fromkeys(n for n in names if n))[:MAX_FILENAMES_CHARS]


def search_entry(
    account_id: int, parsed: ParsedMessage, body: str, arrived: datetime
) -> MessageSearch:
    """The (unsaved) index row of a message being stored: parsed as `parsed`, its stored body
    text `body` (search_text), arriving at `arrived` (its internal date). The caller sets
    .message and inserts it with the message row, in the same transaction; computed before,
    outside any lock."""
    sender = parsed.from_[0] if parsed.from_ else None
    recipients = [[a.name, a.addr] for a in (*parsed.to[:100], *parsed.cc[:100])]
    names = indexed_filenames(parsed)
    fields = folded_fields(
        parsed.subject,
        sender.name if sender else "",
        sender.addr if sender else "",
        recipients,
        body,
        names,
    )
    return get_backend().entry_for(
        account_id, fields, names, arrived, has_attachments=parsed.has_attachments
    )


def _fields_of(message: Message, body: str, filenames: str) -> list[str]:
    recipients = [*(message.to_addrs or []), *(message.cc_addrs or [])]
    return folded_fields(
        message.subject, message.from_name, message.from_addr, recipients, body, filenames
    )


class SearchBackend(ABC):
    """See the module docstring. Subclasses say how keys are stored and looked up."""

    # Hangul trigrams too (a term of three or more syllables looks up its trigrams): with
    # bigrams only, a rare word made of two very common bigrams (적서류: 적서, 서류) has
    # nearly every message as a candidate, and each must be rechecked.
    cjk_trigrams: bool = True

    def entry_for(
        self,
        account_id: int,
        fields: list[str],
        filenames: str,
        arrived: datetime,
        *,
        has_attachments: bool,
    ) -> MessageSearch:
        """The (unsaved, unlinked) index row of a message of `account_id` whose folded field
        texts are `fields` (text.folded_fields) and attachment names `filenames`; its
        arrival day and month are keys too (before:/after: look them up), and whether it
        has attachments (has:attachment)."""
        keys = document_keys(fields, cjk_trigrams=self.cjk_trigrams)
        keys.update(date_keys(arrived))
        keys.update(flag_keys(has_attachments=has_attachments))
        return MessageSearch(
            account_id=account_id, filenames=filenames, keys=self.stored_keys(account_id, keys)
        )

    def index_entry(self, message: Message, body: str, filenames: str) -> MessageSearch:
        """The (unsaved) index row of the stored `message`, whose body text is `body`
        (search_text) and attachment names `filenames` (indexed_filenames)."""
        fields = _fields_of(message, body, filenames)
        entry = self.entry_for(
            message.account_id,
            fields,
            filenames,
            message.internal_date,
            has_attachments=message.has_attachments,
        )
        entry.message = message
        return entry

    def stored_keys(self, account_id: int, keys: set[str]) -> list[str]:
        return list(keys)

    def remove(self, message_ids: Iterable[int]) -> None:
        """Take messages out of the index (their rows stay). Deleting a Message does this."""
        MessageSearch.objects.filter(message_id__in=list(message_ids)).delete()

    @abstractmethod
    def candidates(
        self,
        account_id: int,
        keys: list[str],
        below: int | None,
        any_of: list[str] | None = None,
        want: int | None = None,
    ) -> Iterator[list[int]]:
        """Batches of ids of the account's messages below `below` having every key in
        `keys` and (unless None) one of `any_of` (date keys), newest first across batches;
        may hold ids that turn out not to match. `want`: about how many the caller needs
        (a page), None for all: a backend may choose its plan by it."""

    # --- searching -------------------------------------------------------------------------

    def search(
        self,
        account: Account,
        query: SearchQuery,
        *,
        folder: Folder | None = None,
        before_id: int | None = None,
        limit: int,
        scan_bound: int = SCAN_WITHOUT_KEYS,
    ) -> list[Message]:
        """The account's messages matching `query`, newest first by arrival (the row id),
        below `before_id`, at most `limit`. `folder` (already access-checked) wins over the
        query's in:; without either, Trash and Junk are left out."""
        filters = self.filters(account, query, folder)
        qs = Message.objects.filter(account=account).filter(filters)
        terms = query.all_terms()
        dates = _date_keys(query)
        if not terms and dates is None:
            if before_id is not None:
                qs = qs.filter(pk__lt=before_id)
            return list(qs.select_related("folder").order_by("-pk")[:limit])
        batches = self._batches(account, query, qs, before_id, scan_bound, want=limit)
        out: list[Message] = []
        # Rows are loaded in slices that start at about a page and grow: most candidates
        # match, and building a thousand model rows to show fifty costs more than the index.
        size = min(limit + 10, 1000)
        for batch in batches:
            i = 0
            while i < len(batch):
                ids, i = batch[i : i + size], i + size
                size = min(size * 4, 1000)
                # By primary key alone: with the account in the WHERE too, SQLite walks the
                # account's (account, maildir_key) index instead (150 ms at 100k rows). The
                # candidates are the account's; the owner is checked on each row all the same.
                rows = (
                    Message.objects.filter(pk__in=ids)
                    .filter(filters)
                    .select_related("folder", "text", "search")
                    .defer("search__keys")
                    .order_by("-pk")
                )
                for row in rows:
                    if row.account_id == account.pk and matches(row, query):
                        out.append(row)
                        if len(out) >= limit:
                            return out
        return out

    def _batches(
        self,
        account: Account,
        query: SearchQuery,
        qs: object,
        below: int | None,
        bound: int,
        want: int | None = None,
    ) -> Iterator[list[int]]:
        """Candidate ids, newest first in batches: from the index when the query's words (or
        its date range) give keys, else a scan of the newest `bound` rows of `qs`."""
        terms = query.all_terms()
        dates = _date_keys(query)
        keys = list(
            dict.fromkeys(k for t in terms for k in term_keys(t, cjk_trigrams=self.cjk_trigrams))
        )
        short = any(not term_keys(t, cjk_trigrams=self.cjk_trigrams) for t in terms)
        few = _few_flagged(query, qs, below)
        if few is not None:
            return iter([few])
        if keys or (dates is not None and not short):
            if query.has_attachment:
                keys.append(ATTACHMENT_KEY)
            return self.candidates(account.pk, keys, below, dates, want if want else None)
        return _scan(qs, below, bound)

    def search_all(self, account: Account, query: SearchQuery, folder: Folder) -> list[Message]:
        """Every message of `folder` matching `query`: no page, no scan bound."""
        return self.search(account, query, folder=folder, limit=1 << 62, scan_bound=1 << 62)

    def search_uids(self, account: Account, query: SearchQuery, folder: Folder) -> list[int]:
        """The UIDs of every message of `folder` matching `query` (IMAP SEARCH TEXT/BODY).
        The same candidates and the same exact recheck as search(), but the body part of the
        recheck runs in the database: the stored body text is folded already, so a plain
        substring test there is exact, and a common word no longer ships every matching body
        to Python (9,885 of 10,000 rows: 1.1 s that way). Only rows whose body lacks a term
        have their small fields loaded and checked here."""
        terms = query.all_terms()
        if not terms:
            return [m.uid for m in self.search_all(account, query, folder)]
        filters = self.filters(account, query, folder)
        qs = Message.objects.filter(account=account).filter(filters)
        batches = self._batches(account, query, qs, None, 1 << 62)
        words = list(dict.fromkeys(terms))
        flags = {
            f"b{i}": ExpressionWrapper(Q(text__text__contains=w), output_field=BooleanField())
            for i, w in enumerate(words)
        }
        uids: list[int] = []
        for batch in batches:
            for chunk in batched(batch, 2000):
                rows = (
                    Message.objects.filter(pk__in=chunk, account=account)
                    .filter(filters)
                    .annotate(**flags)
                    .values_list("pk", "uid", *flags)
                )
                undecided: dict[int, tuple[int, set[str]]] = {}
                for pk, uid, *has in rows:
                    in_body = {w for w, h in zip(words, has, strict=True) if h}
                    if _matches_fields(query, in_body.__contains__):
                        uids.append(uid)
                    else:
                        undecided[pk] = (uid, in_body)
                if undecided:
                    for row in (
                        Message.objects.filter(pk__in=list(undecided))
                        .select_related("search")
                        .defer("search__keys")
                    ):
                        uid, in_body = undecided[row.pk]
                        if _row_matches(row, query, in_body.__contains__):
                            uids.append(uid)
        return sorted(uids)

    def filters(self, account: Account, query: SearchQuery, folder: Folder | None) -> Q:
        q = Q()
        if folder is None and query.folder is not None:
            folder = resolve_folder(account, query.folder)  # None: in:anywhere
        if folder is not None:
            q &= Q(folder=folder)
        elif query.folder is None or fold(query.folder) not in _EVERYWHERE:
            hidden = Folder.objects.filter(account=account, special_use__in=NOT_SEARCHED_BY_DEFAULT)
            q &= ~Q(folder_id__in=hidden.values("pk"))
        if query.has_attachment is not None:
            q &= Q(has_attachments=query.has_attachment)
        if query.unread is not None:
            q &= Q(seen=not query.unread)
        if query.starred is not None:
            q &= Q(flagged=query.starred)
        if query.after is not None:
            q &= Q(internal_date__gte=_start_of(query.after))
        if query.before is not None:
            q &= Q(internal_date__lt=_start_of(query.before))
        return q

    # --- rebuilding ------------------------------------------------------------------------

    def rebuild_account(
        self,
        account: Account,
        *,
        progress: Callable[[int], None] | None = None,
        missing_only: bool = False,
    ) -> int:
        """Re-read every message file of the account (with `missing_only`, of those without
        an index entry) and rewrite its body text and index entry, REBUILD_BATCH messages
        per transaction (delivery goes on meanwhile). A message whose file has gone keeps
        its stored body text. Returns how many messages it indexed."""
        from mailcore.store.queries import maildir_for

        maildir = maildir_for(account)
        todo = Message.objects.filter(account=account)
        if missing_only:
            todo = todo.filter(search__isnull=True)
        ids = list(todo.order_by("pk").values_list("pk", flat=True))
        done = 0
        for chunk in batched(ids, REBUILD_BATCH):
            rows = list(Message.objects.filter(pk__in=chunk).select_related("folder", "text"))
            prepared: dict[int, tuple[Message, str, str]] = {}
            for row in rows:
                try:
                    data = maildir.read(
                        row.folder.path, row.maildir_key, in_cur=row.in_cur, info=row.info
                    )
                except MailcoreError:
                    log.warning("message %s: file gone, indexed from its stored text", row.pk)
                    body = row.text.text if hasattr(row, "text") else ""
                    prepared[row.pk] = (row, fold(body), "")
                    continue
                parsed = parse_message(data)
                prepared[row.pk] = (row, search_text(parsed), indexed_filenames(parsed))
            with transaction.atomic():
                alive = set(
                    Message.objects.select_for_update()
                    .filter(pk__in=list(prepared))
                    .values_list("pk", flat=True)
                )
                self.remove(alive)
                MessageText.objects.filter(message_id__in=alive).delete()
                MessageText.objects.bulk_create(
                    [MessageText(message_id=pk, text=prepared[pk][1]) for pk in alive]
                )
                MessageSearch.objects.bulk_create(
                    [self.index_entry(*prepared[pk]) for pk in sorted(alive)]
                )
            done += len(chunk)
            if progress is not None:
                progress(len(chunk))
        return done


def _date_keys(query: SearchQuery) -> list[str] | None:
    """The date keys of the query's range, one of which a message needs (None: no range, or
    one that needs too many keys)."""
    if query.after is None and query.before is None:
        return None
    start = _start_of(query.after) if query.after else None
    end = _start_of(query.before) - timedelta(microseconds=1) if query.before else None
    if start is None or end is None:
        return None  # open-ended: the rows' dates do it (the newest first stops early)
    return range_keys(start, end)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _few_flagged(query: SearchQuery, qs: object, below: int | None) -> list[int] | None:
    """The ids of every row of `qs` below `below` when the query asks for a flag that has its
    own partial index and no key (is:unread, is:starred) and at most FILTER_FIRST rows have
    it; else None. Rechecking those few is cheaper than any key lookup, and a common word
    with a flag few messages have no longer walks every message the word is in. (Finding
    out costs reading FILTER_FIRST rows: 35-60 ms for 2,000 on SQLite at load 25, so
    has:attachment, which the keys apply, is not asked.)"""
    from django.db.models import QuerySet

    assert isinstance(qs, QuerySet)
    if not (query.unread or query.starred):
        return None
    page = qs if below is None else qs.filter(pk__lt=below)
    ids = list(page.order_by("-pk").values_list("pk", flat=True)[: FILTER_FIRST + 1])
    return ids if len(ids) <= FILTER_FIRST else None


def _scan(qs: object, below: int | None, bound: int) -> Iterator[list[int]]:
    """Ids of the newest `bound` rows of `qs` (a filtered Message queryset), in batches."""
    from django.db.models import QuerySet

    assert isinstance(qs, QuerySet)
    seen, batch = 0, 500
    while seen < bound:
        page = qs if below is None else qs.filter(pk__lt=below)
        ids = list(page.order_by("-pk").values_list("pk", flat=True)[: min(batch, bound - seen)])
        if not ids:
            return
        yield ids
        seen += len(ids)
        below, batch = ids[-1], min(batch * 4, 5000)


def resolve_folder(account: Account, name: str) -> Folder | None:
    """The folder `in:name` means: a special folder by its word (inbox, sent, 보낸메일함…),
    else the folder of that name (case-insensitive); None for in:anywhere. Unknown names
    are a SearchSyntaxError (a search that silently ignored them would mislead)."""
    word = fold(name)
    if word in _EVERYWHERE:
        return None
    use = _FOLDER_WORDS.get(word)
    folders = Folder.objects.filter(account=account)
    found = (
        folders.filter(special_use=use).first()
        if use is not None
        else next((f for f in folders if fold(f.name) == word), None)
    )
    if found is None:
        raise SearchSyntaxError(f"in: there is no folder named {name!r}.")
    return found


def matches(row: Message, query: SearchQuery) -> bool:
    """Whether `row` (with its text and search rows loaded) has every term of `query`."""
    text = getattr(row, "text", None)
    body = text.text if isinstance(text, MessageText) else ""
    return _row_matches(row, query, body.__contains__)


def _matches_fields(query: SearchQuery, in_body: Callable[[str], bool]) -> bool:
    """Whether the body alone satisfies every term of `query` (terms for any field and
    body: terms); False means the other fields must be looked at."""
    return (
        all(in_body(t) for t in query.terms)
        and all(in_body(t) for name, ts in query.fields.items() for t in ts if name == "body")
        and all(name == "body" for name in query.fields)
    )


def _row_matches(row: Message, query: SearchQuery, in_body: Callable[[str], bool]) -> bool:
    """matches(), with the body tested by `in_body` (a substring test of the folded text)."""
    entry = getattr(row, "search", None)
    names = entry.filenames.split("\n") if isinstance(entry, MessageSearch) else []
    sender = [fold(row.from_name), fold(row.from_addr)]
    recipients = [
        fold(str(x)) for pair in [*(row.to_addrs or []), *(row.cc_addrs or [])] for x in pair
    ]
    subject = fold(row.subject)
    fields: dict[str, list[str]] = {
        "from": sender,
        "to": recipients,
        "subject": [subject],
        "filename": names,
    }
    every = [subject, *sender, *recipients, *names]
    if not all(in_body(t) or any(t in f for f in every) for t in query.terms):
        return False
    return all(
        in_body(t) if name == "body" else any(t in f for f in fields[name])
        for name, terms in query.fields.items()
        for t in terms
    )


class SqliteBackend(SearchBackend):
    """Contentless FTS5 (store_search_fts, `ascii` tokenizer: our keys are its tokens) fed
    by triggers on store_messagesearch; an account's rows carry the token ACCOUNT_PREFIX+id
    (keys are at most three characters, so it can never equal one)."""

    ACCOUNT_PREFIX: Final = "acct"

    def stored_keys(self, account_id: int, keys: set[str]) -> list[str]:
        return [f"{self.ACCOUNT_PREFIX}{account_id}", *sorted(keys)]

    def candidates(
        self,
        account_id: int,
        keys: list[str],
        below: int | None,
        any_of: list[str] | None = None,
        want: int | None = None,
    ) -> Iterator[list[int]]:
        parts = [f'"{k}"' for k in [f"{self.ACCOUNT_PREFIX}{account_id}", *keys]]
        if any_of:
            parts.append("(" + " OR ".join(f'"{k}"' for k in any_of) + ")")
        match = " AND ".join(parts)
        below = (1 << 62) if below is None else below
        batch = 200
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT rowid FROM store_search_fts WHERE store_search_fts MATCH %s"
                    " AND rowid < %s ORDER BY rowid DESC LIMIT %s",
                    [match, below, batch],
                )
                ids = [r[0] for r in cursor.fetchall()]
            if ids:
                yield ids
            if len(ids) < batch:
                return
            below, batch = ids[-1], min(batch * 4, 10_000)


class PostgresBackend(SearchBackend):
    """Keys as 32-bit hashes in store_messagesearch.keys, GIN-indexed with account_id
    (btree_gin). Looks through the account's RECENT_WINDOW newest entries first (a filter on
    a few thousand rows: fast for any term, and a common term fills its page there), and
    only below them asks the GIN index, whose planner estimates cannot then turn a rare
    term into a scan of the whole mailbox. While the windows stay dense (DENSE: common keys,
    the page not full because row filters rejected the matches) they go on, growing, instead
    of the GIN step, whose cost grows with the number of matches."""

    RECENT_WINDOW: Final = 5000
    # A window sized by density has at least this many entries.
    MIN_WINDOW: Final = 1000
    # Windows grow this much while they stay dense, up to MAX_WINDOW entries each.
    WINDOW_GROWTH: Final = 4
    MAX_WINDOW: Final = 80_000
    # A window where at least this share of the entries has the keys says the keys are
    # common: the GIN step would materialise and sort a fifth or more of the mailbox (a
    # second at a million) to give the rows that a further window gives in milliseconds.
    # That happens when the row filters (folder, is:read) reject most key matches.
    DENSE: Final = 0.2
    # A key in more than this share of the entries (column statistics) is tested on the
    # rows the GIN step finds, not looked up in it.
    COMMON: Final = 0.05
    # Entries the windows may look through in all before the GIN step takes over.
    MAX_SCANNED: Final = 200_000

    def candidates(
        self,
        account_id: int,
        keys: list[str],
        below: int | None,
        any_of: list[str] | None = None,
        want: int | None = None,
    ) -> Iterator[list[int]]:
        # Only fixed SQL text is formatted in; keys and ids are parameters.
        tests: list[str] = []
        params: list[list[int]] = []
        if keys:
            tests.append("keys @> %s::integer[]")
            params.append(sorted({key_hash(k) for k in keys}))
        if any_of:
            tests.append("keys && %s::integer[]")
            params.append(sorted({key_hash(k) for k in any_of}))
        test = " AND ".join(tests) or "true"
        below = (1 << 62) if below is None else below
        size, found, scanned = self.RECENT_WINDOW, 0, 0
        while True:
            window = self._window(account_id, test, params, below, size)
            hits = [pk for pk, hit in window if hit]
            if hits:
                yield hits
            if len(window) < size:
                return
            below, found, scanned = window[-1][0], found + len(hits), scanned + len(window)
            size = self._next_window(len(hits) / len(window), want, found, scanned, size)
            if size == 0:
                break
        test, params = self._index_test(keys, any_of)
        with connection.cursor() as cursor:
            # MATERIALIZED and unordered inside: a bitmap scan of the GIN index, then a sort
            # of the (few) matches, never a walk down the primary key filtering every row.
            cursor.execute(
                "WITH c AS MATERIALIZED (SELECT message_id FROM store_messagesearch"  # noqa: S608
                f" WHERE account_id = %s AND {test} AND message_id < %s)"
                " SELECT message_id FROM c ORDER BY message_id DESC",
                [account_id, *params, below],
            )
            while rows := cursor.fetchmany(2000):
                yield [r[0] for r in rows]

    def _index_test(self, keys: list[str], any_of: list[str] | None) -> tuple[str, list[list[int]]]:
        """The key test of the GIN step: keys that the column statistics call common (in
        more than COMMON of the entries) are tested on the rows the rarer ones give, not
        looked up. A bitmap scan reads each looked-up key's whole posting list (a word in
        nine mails of ten: a million entries), while the rare key alone (a date, s13 of a
        sender) gives the same few rows. At least one key, or the date keys, stay looked up."""
        freq = _common_key_freqs()
        hashes = sorted({key_hash(k) for k in keys}, key=lambda h: freq.get(h, 0.0))
        looked = [h for h in hashes if freq.get(h, 0.0) < self.COMMON]
        if not looked and not any_of and hashes:
            looked = hashes[:1]
        tested = [h for h in hashes if h not in looked]
        tests: list[str] = []
        params: list[list[int]] = []
        if looked:
            tests.append("keys @> %s::integer[]")
            params.append(sorted(looked))
        if any_of:
            tests.append("keys && %s::integer[]")
            params.append(sorted({key_hash(k) for k in any_of}))
        if tested:
            # IS TRUE: not an index condition, the planner tests it on the rows found.
            tests.append("(keys @> %s::integer[]) IS TRUE")
            params.append(sorted(tested))
        return " AND ".join(tests) or "true", params

    def _next_window(
        self, density: float, want: int | None, found: int, scanned: int, size: int
    ) -> int:
        """The size of the next window, or 0 for the GIN step: the cost-based choice. A dense
        window (common keys) grows; a sparse one whose density says the page is filled within
        MAX_WINDOW more entries (a filter in the keys, as from:, left a page just short) gets
        a window that size, twice over; no hits, or too many entries to go, is the index's
        job (its cost grows with the matches, which are then few)."""
        if density >= self.DENSE:
            return min(size * self.WINDOW_GROWTH, self.MAX_WINDOW)
        if density == 0 or want is None or scanned >= self.MAX_SCANNED:
            return 0
        need = want - found if want > found else want  # the row filters took some
        rows = need / density * 2
        return max(self.MIN_WINDOW, int(rows)) if rows <= self.MAX_WINDOW else 0

    def _window(
        self, account_id: int, test: str, params: list[list[int]], below: int, size: int
    ) -> list[tuple[int, bool]]:
        """(message id, has the keys) of the account's `size` newest entries below `below`:
        the key test filters exactly those rows, whatever the planner thinks of the keys."""
        with connection.cursor() as cursor:
            # A LIMIT subquery: the planner cannot push the key test into an index scan.
            cursor.execute(
                f"SELECT message_id, {test} FROM ("  # noqa: S608
                " SELECT message_id, keys FROM store_messagesearch"
                " WHERE account_id = %s AND message_id < %s"
                " ORDER BY message_id DESC LIMIT %s) w ORDER BY message_id DESC",
                [*params, account_id, below, size],
            )
            return [(int(pk), bool(hit)) for pk, hit in cursor.fetchall()]


_FREQS_TTL: Final = 600.0
_freqs: dict[str, tuple[float, dict[int, float]]] = {}


def _common_key_freqs() -> dict[int, float]:
    """Key hash -> share of index entries holding it, for the keys PostgreSQL's statistics
    of store_messagesearch.keys list as most common (ANALYZE keeps them); cached for
    _FREQS_TTL seconds per database. A key not listed is rarer than every listed one."""
    import time as _time

    alias = connection.alias
    now = _time.monotonic()
    cached = _freqs.get(alias)
    if cached is not None and now - cached[0] < _FREQS_TTL:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::integer[], most_common_elem_freqs FROM pg_stats"
            " WHERE tablename = 'store_messagesearch' AND attname = 'keys'"
            " AND schemaname = current_schema()"
        )
        row = cursor.fetchone()
    out: dict[int, float] = {}
    if row is not None and row[0] is not None:
        # The frequencies end with three summary values (min, max, null share).
        out = dict(zip(row[0], row[1][: len(row[0])], strict=True))
    _freqs[alias] = (now, out)
    return out


@cache
def _backend_for(vendor: str) -> SearchBackend:
    return PostgresBackend() if vendor == "postgresql" else SqliteBackend()


def get_backend() -> SearchBackend:
    """The backend of the database in use."""
    return _backend_for(connection.vendor)
