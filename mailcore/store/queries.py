"""Read-only access to folders and messages. `access_*` is the one permission check: it answers
NotFoundError for anything the account cannot see, whoever asks (API, IMAP, POP3)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    Field,
    IntegerField,
    Max,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL

from mailcore.directory.models import Account
from mailcore.errors import NotFoundError, UserError
from mailcore.search import query as _query
from mailcore.store.maildir import CrlfReader, Maildir
from mailcore.store.models import Folder, Message, SpecialUse


def maildir_for(account: Account) -> Maildir:
    root = (settings.MAIL_ROOT / account.storage_path / "Maildir").resolve()
    if not root.is_relative_to(settings.MAIL_ROOT.resolve()):
        raise NotFoundError("account storage path escapes MAIL_ROOT")
    return Maildir(root)


def access_folder(account: Account, folder_id: int) -> Folder:
    try:
        return Folder.objects.get(pk=folder_id, account=account)
    except (Folder.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError("folder not found") from exc


def get_folder_by_special_use(account: Account, special_use: str) -> Folder:
    folder = Folder.objects.filter(account=account, special_use=special_use).first()
    if folder is None:
        raise NotFoundError(f"account has no {special_use} folder")
    return folder


def access_message(account: Account, message_id: int) -> Message:
    try:
        message = Message.objects.select_related("folder").get(pk=message_id, account=account)
    except (Message.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError("message not found") from exc
    message.account = account  # the caller's own row: no second query to read the file
    return message


def access_messages(account: Account, message_ids: list[int]) -> list[Message]:
    """All of `message_ids`, or NotFoundError if any one is not the account's."""
    ids = list(dict.fromkeys(message_ids))
    found = list(Message.objects.select_related("folder").filter(account=account, pk__in=ids))
    if len(found) != len(ids):
        raise NotFoundError("message not found")
    return found


def list_folders_with_counts(account: Account) -> list[Folder]:
    """Folders with `total` and `unread` (the maintained counters), in display order."""
    folders = list(Folder.objects.filter(account=account))
    for folder in folders:
        folder.total, folder.unread = folder.message_count, folder.unseen_count  # type: ignore[attr-defined]
    order = {"inbox": 0, "sent": 1, "drafts": 2, "tome": 3, "junk": 4, "trash": 5}
    folders.sort(key=lambda f: (order.get(f.special_use, 10), f.name.casefold()))
    return folders


@dataclass(frozen=True, slots=True)
class MessageFilters:
    """Narrowing of a list or search (the quick views 안읽은메일, 중요메일, 첨부메일): None
    leaves a property out, True/False keeps only messages with/without it."""

    unread: bool | None = None
    flagged: bool | None = None
    has_attachments: bool | None = None

    def __bool__(self) -> bool:
        return not (self.unread is None and self.flagged is None and self.has_attachments is None)


def filter_messages(qs: QuerySet[Message], filters: MessageFilters | None) -> QuerySet[Message]:
    if filters is None:
        return qs
    if filters.unread is not None:
        qs = qs.filter(seen=not filters.unread)
    if filters.flagged is not None:
        qs = qs.filter(flagged=filters.flagged)
    if filters.has_attachments is not None:
        qs = qs.filter(has_attachments=filters.has_attachments)
    return qs


def list_messages(
    folder: Folder, *, before_uid: int | None, limit: int, filters: MessageFilters | None = None
) -> QuerySet[Message]:
    """Newest first (arrival order = UID order), keyset-paginated: any page costs the same."""
    qs = filter_messages(Message.objects.filter(folder=folder), filters)
    if before_uid is not None:
        qs = qs.filter(uid__lt=before_uid)
    return qs.order_by("-uid")[:limit]


# --- conversations (keys: mailcore.store.conversation) -----------------------------------------

CONVERSATION_MAX_MESSAGES = 200  # the newest shown when one is opened


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: int
    count: int
    unread: int
    newest_date: datetime


# The correlated parts of a grouped page as fixed SQL: built through the ORM (Exists and three
# Subquery aggregates with OuterRef) the page spent several times the query's own execution
# time compiling it. Standard SQL for PostgreSQL and SQLite; the bare table name is the
# listed row (tests/api/test_conversations.py checks the table names still hold).
_NO_NEWER_HERE = (
    "NOT EXISTS (SELECT 1 FROM store_message n WHERE n.account_id = store_message.account_id"
    " AND n.conversation_id = store_message.conversation_id"
    " AND n.folder_id = store_message.folder_id AND n.uid > store_message.uid)"
)
_MEMBERS = (
    "FROM store_message c WHERE c.account_id = store_message.account_id"
    " AND c.conversation_id = store_message.conversation_id"
    " AND c.folder_id NOT IN (SELECT f.id FROM store_folder f WHERE f.account_id = %s"
    " AND f.special_use IN (%s, %s) AND f.id <> %s)"
)


def list_conversation_heads(
    folder: Folder, *, before_uid: int | None, limit: int, filters: MessageFilters | None = None
) -> list[Message]:
    """The newest message in `folder` of each conversation that has one there, newest first by
    UID, keyset-paginated like list_messages: a row is a head when no later UID of the folder
    shares its conversation (one probe of the (account, conversation_id) index per row).

    Each row carries `conversation_summary` (count, unread, newest arrival over every folder
    but Trash and Junk; those count too when they are the folder listed), computed in the same
    query as three correlated aggregates on that index. They run for the returned rows only,
    so a grouped page is one query, as a plain page is (issue 12: as fast as the plain list)."""
    hidden = (folder.account_id, SpecialUse.TRASH.value, SpecialUse.JUNK.value, folder.pk)

    def aggregate(expression: str, output: Field[Any, Any]) -> RawSQL:
        return RawSQL(f"SELECT {expression} {_MEMBERS}", hidden, output_field=output)  # noqa: S611

    # Quick-view filters apply to the head row (the newest message of the conversation here).
    qs = filter_messages(Message.objects.filter(folder=folder), filters).filter(
        RawSQL(_NO_NEWER_HERE, (), output_field=BooleanField())  # noqa: S611
    )
    if before_uid is not None:
        qs = qs.filter(uid__lt=before_uid)
    rows: list[Message] = []
    for row in qs.annotate(
        conversation_count=aggregate("COUNT(*)", IntegerField()),
        conversation_unread=aggregate(
            "COALESCE(SUM(CASE WHEN c.seen THEN 0 ELSE 1 END), 0)", IntegerField()
        ),
        conversation_newest=aggregate("MAX(c.internal_date)", DateTimeField()),
    ).order_by("-uid")[:limit]:
        row.conversation_summary = ConversationSummary(  # type: ignore[attr-defined]
            row.conversation_id,
            row.conversation_count or 0,
            row.conversation_unread or 0,
            row.conversation_newest or row.internal_date,
        )
        rows.append(row)
    return rows


def _hidden_folders(account_id: int, *, unless: Folder | None = None) -> QuerySet[Folder]:
    hidden = Folder.objects.filter(account_id=account_id, special_use__in=NOT_SEARCHED_BY_DEFAULT)
    return hidden.exclude(pk=unless.pk) if unless is not None else hidden


def access_conversation(account: Account, conversation_id: int) -> list[Message]:
    """The messages of one of the account's conversations in every folder (Sent included),
    oldest first, at most the newest CONVERSATION_MAX_MESSAGES. Trash and Junk are left out
    unless the conversation lives only there. NotFoundError when the account has none."""
    qs = Message.objects.select_related("folder").filter(
        account=account, conversation_id=conversation_id
    )
    visible = qs.exclude(folder_id__in=_hidden_folders(account.pk).values("pk"))
    rows = list(visible.order_by("-internal_date", "-pk")[:CONVERSATION_MAX_MESSAGES])
    if not rows:
        rows = list(qs.order_by("-internal_date", "-pk")[:CONVERSATION_MAX_MESSAGES])
    if not rows:
        raise NotFoundError("conversation not found")
    for message in rows:
        message.account = account
    rows.reverse()
    return rows


def read_message_bytes(message: Message) -> bytes:
    """The message in CRLF form, whole (the file on disk has LF line ends; raises StorageError
    if the file has gone). len() of it is message.size."""
    return maildir_for(message.account).read(
        message.folder.path, message.maildir_key, in_cur=message.in_cur, info=message.info
    )


def open_message_crlf(message: Message) -> CrlfReader:
    """A streaming reader of the message's CRLF form: .chunks(), .read_range(start, length),
    .size (IMAP FETCH, POP3 RETR/TOP without reading the whole file into memory). Close it."""
    return maildir_for(message.account).open_crlf(
        message.folder.path, message.maildir_key, in_cur=message.in_cur, info=message.info
    )


# --- search and contacts ----------------------------------------------------------------------

MAX_SEARCH_CHARS = _query.MAX_SEARCH_CHARS
MAX_SEARCH_TERMS = _query.MAX_SEARCH_TERMS
NOT_SEARCHED_BY_DEFAULT = (SpecialUse.TRASH, SpecialUse.JUNK)  # as Gmail: ask for them by name


def _default_scope(account: Account) -> QuerySet[Message]:
    hidden = Folder.objects.filter(account=account, special_use__in=NOT_SEARCHED_BY_DEFAULT)
    return Message.objects.filter(account=account).exclude(folder_id__in=hidden.values("pk"))


def list_view_messages(
    account: Account, filters: MessageFilters, *, before_id: int | None, limit: int
) -> list[Message]:
    """A quick view (안읽은메일, 중요메일, 첨부메일): the messages of every folder but Trash
    and Junk that pass `filters`, newest first by arrival (row id), keyset-paginated below
    `before_id`. The partial indexes of migration 0005 keep each page an index range scan."""
    qs = filter_messages(_default_scope(account), filters)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return list(qs.order_by("-pk")[:limit])


@dataclass(frozen=True, slots=True)
class ViewCounts:
    unread: int
    flagged: int
    has_attachments: int


def count_views(account: Account) -> ViewCounts:
    """How many messages each quick view holds (all folders but Trash and Junk): unread from
    the folders' maintained counters, the other two counted over their partial indexes."""
    folders = Folder.objects.filter(account=account).exclude(
        special_use__in=NOT_SEARCHED_BY_DEFAULT
    )
    unread = sum(f.unseen_count for f in folders)
    scope = _default_scope(account)
    return ViewCounts(
        unread,
        scope.filter(flagged=True).count(),
        scope.filter(has_attachments=True).count(),
    )


def search_terms(q: str) -> list[str]:
    """The whitespace-separated terms of a query (each must match); UserError if there are
    none, the query is longer than MAX_SEARCH_CHARS or has more than MAX_SEARCH_TERMS."""
    if len(q) > MAX_SEARCH_CHARS:
        raise UserError(f"The search is longer than {MAX_SEARCH_CHARS} characters.")
    terms = list(dict.fromkeys(q.split()))
    if not terms:
        raise UserError("Type something to search for.")
    if len(terms) > MAX_SEARCH_TERMS:
        raise UserError(f"Search for at most {MAX_SEARCH_TERMS} words at once.")
    return terms


def _recipient_matches(pattern: str) -> RawSQL:
    """SQL true when a To or Cc name or address of the message row matches `pattern` (a
    LIKE pattern, wildcards in the user's text already escaped). The index keeps recipients
    as JSON [[name, addr], …]; matching the JSON text instead would match its syntax."""
    # Only the model's own table name is formatted in; the user's text is a parameter.
    table = connection.ops.quote_name(Message._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({table}.to_addrs || {table}.cc_addrs)"  # noqa: S608
            " AS r(v) WHERE (r.v->>0) ILIKE %s OR (r.v->>1) ILIKE %s)"
        )
        return RawSQL(sql, (pattern, pattern), output_field=BooleanField())  # noqa: S611
    one = (
        "EXISTS (SELECT 1 FROM json_each({col}) AS r WHERE json_extract(r.value, '$[0]')"
        " LIKE %s ESCAPE '\\' OR json_extract(r.value, '$[1]') LIKE %s ESCAPE '\\')"
    )
    sql = f"({one.format(col=f'{table}.to_addrs')} OR {one.format(col=f'{table}.cc_addrs')})"
    return RawSQL(sql, (pattern,) * 4, output_field=BooleanField())  # noqa: S611


def search_messages(
    account: Account,
    q: str,
    *,
    folder: Folder | None = None,
    before_id: int | None = None,
    limit: int,
    filters: MessageFilters | None = None,
) -> list[Message]:
    """Messages of `account` matching the search `q` (mailcore.search.query: words and
    operators), through the database's search backend (mailcore.search.backend): every word
    a substring of the subject, the sender, a To/Cc name or address, the body text or an
    attachment's file name, after NFKC and case folding of both sides; in `folder` (the
    caller resolved it with access_folder), else as in:, else everywhere but Trash and Junk.
    Newest first by arrival (the row id), keyset-paginated below `before_id`."""
    from mailcore.search.backend import get_backend

    query = _query.parse_query(q)
    if filters:  # the API's quick-view filters narrow the query's own operators
        query = dataclasses.replace(
            query,
            unread=query.unread if filters.unread is None else filters.unread,
            starred=query.starred if filters.flagged is None else filters.flagged,
            has_attachment=(
                query.has_attachment if filters.has_attachments is None else filters.has_attachments
            ),
        )
    return get_backend().search(account, query, folder=folder, before_id=before_id, limit=limit)


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    address: str
    count: int


CONTACTS_SCAN = 5000  # recent messages looked at per source: autocomplete must stay cheap


def list_contacts(account: Account, q: str = "", *, limit: int = 10) -> list[Contact]:
    """Addresses the account wrote to (To/Cc of its Sent folder) and received mail from
    (every folder but Sent, Drafts, Junk and Trash), most used first, among the
    CONTACTS_SCAN most recent messages of each; `q` (may be empty) must be a
    case-insensitive substring of the name or the address. The account's own address is
    left out. The name is the one used most recently."""
    needle = q.strip().casefold()
    own = account.address.casefold()
    found: dict[str, list[Any]] = {}  # address key -> [name, address, count]

    def count(name: str, address: str, n: int) -> None:
        key = address.strip().casefold()
        if not key or "@" not in key or key == own:
            return
        if needle and needle not in key and needle not in name.casefold():
            return
        entry = found.setdefault(key, [name, address.strip(), 0])
        entry[2] += n
        if not entry[0] and name:
            entry[0] = name

    sent = Folder.objects.filter(account=account, special_use=SpecialUse.SENT).first()
    if sent is not None:
        rows = (
            Message.objects.filter(folder=sent)
            .order_by("-uid")
            .values_list("to_addrs", "cc_addrs")[:CONTACTS_SCAN]
        )
        for to_addrs, cc_addrs in rows:
            for pair in [*(to_addrs or []), *(cc_addrs or [])]:
                if isinstance(pair, list) and len(pair) == 2:
                    count(str(pair[0]), str(pair[1]), 1)
    skipped = (SpecialUse.SENT, SpecialUse.DRAFTS, SpecialUse.JUNK, SpecialUse.TRASH)
    received = Message.objects.filter(account=account).exclude(
        folder_id__in=Folder.objects.filter(account=account, special_use__in=skipped).values("pk")
    )
    recent = received.order_by("-pk").values("pk")[:CONTACTS_SCAN]
    senders = Message.objects.filter(pk__in=recent).exclude(from_addr="")
    if needle:
        senders = senders.filter(Q(from_addr__icontains=needle) | Q(from_name__icontains=needle))
    for row in (
        senders.values("from_addr")
        .annotate(n=Count("pk"), name=Max("from_name"))
        .order_by("-n")[: limit * 10]
    ):
        count(row["name"] or "", row["from_addr"], row["n"])
    ranked = sorted(found.values(), key=lambda e: (-e[2], e[1].casefold()))
    return [Contact(name=e[0], address=e[1], count=e[2]) for e in ranked[:limit]]
