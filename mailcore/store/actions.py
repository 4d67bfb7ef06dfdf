"""Writes to mailboxes: deliver/append, flags, move, delete, folders.

Every action writes the Maildir first and the rows second (Maildir is the truth), publishes a
Change after commit, and takes the acting account explicitly. Nothing else writes these rows.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from mailcore.dbutil import insert_with_children
from mailcore.directory.models import Account
from mailcore.errors import (
    ConflictError,
    MailcoreError,
    MessageFileMissingError,
    NotEmptiableError,
    NotFoundError,
    StorageError,
    UserError,
)
from mailcore.faults import fault_point
from mailcore.fsutil import fsync_dir
from mailcore.mime import ParsedMessage, parse_message, search_text
from mailcore.mime.authresults import trust_fields, without_forged
from mailcore.search.backend import search_entry
from mailcore.store.changes import Change, publish_on_commit
from mailcore.store.conversation import conversation_fields
from mailcore.store.history import (
    add_tombstones,
    commit_mode,
    modseq_cte,
    next_modseq,
    next_modseqs,
    tombstone_folders,
)
from mailcore.store.indexrows import insert_index_rows
from mailcore.store.maildir import (
    Maildir,
    PendingFile,
    StoredFile,
    abandon_deliveries,
    finish_deliveries,
    folder_path_for_name,
)
from mailcore.store.meta import meta_row
from mailcore.store.models import (
    Folder,
    Message,
    MessageText,
    Source,
    SpecialUse,
    Tombstone,
    TombstoneKind,
)
from mailcore.store.queries import get_folder_by_special_use, maildir_for

DEFAULT_FOLDERS: tuple[tuple[str, str], ...] = (
    ("INBOX", SpecialUse.INBOX),
    ("Sent", SpecialUse.SENT),
    ("Drafts", SpecialUse.DRAFTS),
    ("To Me", SpecialUse.TOME),
    ("Junk", SpecialUse.JUNK),
    ("Trash", SpecialUse.TRASH),
)
SYSTEM_FLAGS = {"seen": "S", "answered": "R", "flagged": "F", "deleted": "T", "draft": "D"}
MAX_KEYWORD_LEN = 64
MAX_KEYWORDS = 64
log = logging.getLogger("mailroom")


def new_uidvalidity() -> int:
    # Seconds since the epoch plus a random spread: distinct for a folder re-created at once.
    return (int(time.time()) + secrets.randbelow(1 << 20)) & 0x7FFFFFFF or 1


def info_for(message: Message) -> str:
    return message.info


def _system_letters(flags: dict[str, bool]) -> str:
    return "".join(sorted(SYSTEM_FLAGS[name] for name, on in flags.items() if on))


def _message_flags(message: Message) -> dict[str, bool]:
    return {name: bool(getattr(message, name)) for name in SYSTEM_FLAGS}


def _clean_keywords(keywords: Iterable[str]) -> list[str]:
    out: list[str] = []
    for kw in keywords:
        # RFC 9051 §2.3.2: flag keywords are atoms; no '\\' system-flag names here.
        if (
            not kw
            or len(kw) > MAX_KEYWORD_LEN
            or not kw.isprintable()
            or any(c in kw for c in ' (){%*"\\]')
        ):
            raise UserError(f"invalid keyword {kw!r}")
        if kw not in out:
            out.append(kw)
    if len(out) > MAX_KEYWORDS:
        raise UserError("too many keywords")
    return out


# --- folders --------------------------------------------------------------------------------


def ensure_default_folders(account: Account) -> list[Folder]:
    """Create INBOX and the special-use folders (rows and directories); safe to repeat."""
    maildir = maildir_for(account)
    folders = []
    for name, special_use in DEFAULT_FOLDERS:
        folder = Folder.objects.filter(account=account, special_use=special_use).first()
        if folder is None:
            folder = _create_folder(account, maildir, name, special_use)
        else:
            maildir.create_folder(folder.path, folder.uidvalidity)
        folders.append(folder)
    return folders


def _create_folder(account: Account, maildir: Maildir, name: str, special_use: str = "") -> Folder:
    path = folder_path_for_name(name)
    if Folder.objects.filter(account=account, path=path).exists():
        raise ConflictError(f"folder {name!r} exists already")
    uidvalidity, _ = maildir.read_uidlist(path)
    folder = Folder(
        account=account,
        name="INBOX" if path == "" else name,
        path=path,
        special_use=special_use,
        uidvalidity=uidvalidity or new_uidvalidity(),
    )
    maildir.create_folder(path, folder.uidvalidity)
    # A change of the account (rule 8); also keeps a folder re-created with the UIDVALIDITY of
    # its old uidlist above any modseq a client cached for it.
    folder.highestmodseq = next_modseq(account.pk)
    folder.save()
    return folder


@transaction.atomic
def do_create_folder(*, acting_account: Account, name: str) -> Folder:
    folder = _create_folder(acting_account, maildir_for(acting_account), name.strip())
    publish_on_commit(
        acting_account.pk,
        Change("folder", folder.pk, extra={"op": "create"}, modseq=folder.highestmodseq),
    )
    return folder


@transaction.atomic
def do_rename_folder(*, acting_account: Account, folder: Folder, name: str) -> Folder:
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    if folder.special_use:
        raise UserError("special folders cannot be renamed")
    new_path = folder_path_for_name(name.strip())
    if new_path == "" or Folder.objects.filter(account=acting_account, path=new_path).exists():
        raise ConflictError(f"folder {name!r} exists already")
    old_path = folder.path
    modseq = next_modseq(acting_account.pk)
    maildir_for(acting_account).rename_folder(old_path, new_path)
    # Children ('.A.B' under '.A') follow the parent on disk; keep their rows in step.
    for child in Folder.objects.filter(account=acting_account, path__startswith=old_path + "."):
        child.path = new_path + child.path[len(old_path) :]
        child.name = name.strip() + child.name[len(folder.name) :]
        child.highestmodseq = modseq
        child.save(update_fields=["path", "name", "highestmodseq"])
    folder.path, folder.name, folder.highestmodseq = new_path, name.strip(), modseq
    folder.save(update_fields=["path", "name", "highestmodseq"])
    publish_on_commit(
        acting_account.pk, Change("folder", folder.pk, extra={"op": "rename"}, modseq=modseq)
    )
    return folder


@transaction.atomic
def do_set_subscribed(*, acting_account: Account, folder: Folder, subscribed: bool) -> Folder:
    """IMAP SUBSCRIBE/UNSUBSCRIBE (RFC 9051 §6.3.7): the folder's subscription flag, a
    preference with no file behind it (Dovecot keeps it in a `subscriptions` file beside the
    Maildir; here the row is its only home). Publishes a folder change."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    Folder.objects.filter(pk=folder.pk).update(subscribed=subscribed)
    folder.subscribed = subscribed
    publish_on_commit(acting_account.pk, Change("folder", folder.pk, extra={"op": "subscribe"}))
    return folder


def do_delete_folder(*, acting_account: Account, folder: Folder) -> None:
    """Delete a user folder with its messages (and subfolders). Special folders stay."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    if folder.special_use:
        raise UserError("special folders cannot be deleted")
    victims = list(
        Folder.objects.filter(account=acting_account, path__startswith=folder.path + ".")
    )
    victims.append(folder)
    maildir = maildir_for(acting_account)
    for victim in victims:
        maildir.delete_folder(victim.path)  # Maildir first: it is the truth
    with transaction.atomic():
        modseq = next_modseq(acting_account.pk)
        tombstone_folders(acting_account.pk, [v.pk for v in victims], modseq)
        for victim in victims:
            publish_on_commit(
                acting_account.pk,
                Change("folder", victim.pk, extra={"op": "delete"}, modseq=modseq),
            )
            victim.delete()


# --- delivery and append ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivered:
    message: Message
    created: bool


def do_deliver(
    account: Account,
    folder: Folder,
    data: bytes,
    *,
    key: str,
    source: str,
    parsed: ParsedMessage | None = None,
    flags: Iterable[str] = (),
    keywords: Iterable[str] = (),
    internal_date: datetime | None = None,
) -> Delivered:
    """Store `data` under Maildir key `key` in `folder` and index it.

    Idempotent per (account, key): a repeat finds the first message (row, or the file left by
    a crash before commit) and stores nothing twice. The file is written and fsynced before
    the row; if the row cannot be committed, a file this call created is removed again.
    """
    if folder.account_id != account.pk:
        raise NotFoundError("folder not found")
    from mailcore.store.maildir import canonical_crlf

    data = canonical_crlf(data)  # what reads back: its length is the file's W=, Message.size
    parsed = parsed if parsed is not None else parse_message(data)
    flag_state = {name: name in set(flags) for name in SYSTEM_FLAGS}
    kw = _clean_keywords(keywords)
    maildir = maildir_for(account)
    info = _system_letters(flag_state) + maildir.keyword_letters(folder.path, kw)
    when = internal_date or datetime.now(tz=UTC)
    stored, created = maildir.deliver(
        folder.path, key, data, info=info, in_cur=bool(info), mtime=when.timestamp()
    )
    if not created:
        # The file was there already: a repeat, or a crash between file and commit.
        existing = Message.objects.filter(account=account, maildir_key=key).first()
        if existing is not None:
            return Delivered(existing, False)
    fault_point("deliver.after_file")
    outer = transaction.get_connection().in_atomic_block
    text = MessageText(text=search_text(parsed))  # parsed outside the folder-row lock
    entry = search_entry(account.pk, parsed, text.text, when)
    meta = meta_row(data, parsed)
    [conversation] = conversation_fields([(account, parsed, when, key)])
    try:
        with transaction.atomic():
            uid, modseq = _modseq_and_uid(
                account.pk, folder.pk, unseen=0 if flag_state["seen"] else 1, size=len(data)
            )
            message = Message(
                account=account,
                folder=folder,
                uid=uid,
                maildir_key=key,
                in_cur=stored.in_cur,
                info=stored.info,
                size=len(data),
                internal_date=when,
                modseq=modseq,
                created_modseq=modseq,
                keywords=kw,
                source=source,
                **flag_state,
                **listing_fields(parsed),
                **conversation,
            )
            # Row, body text, IMAP metadata and search keys in one round trip on PostgreSQL.
            insert_with_children(message, [text, meta, entry], "message")
            # Written under the lock (UIDs in order), made durable after the commit.
            maildir.append_uid(folder.path, uid, key, sync=outer)
            publish_on_commit(
                account.pk, Change("add", folder.pk, (message.pk,), modseq=modseq, uids=(uid,))
            )
    except IntegrityError:
        # Same key indexed in another folder (the user moved the first copy): keep that one.
        if created and not outer:
            maildir.unlink(folder.path, key, in_cur=stored.in_cur, info=stored.info)
        existing = Message.objects.filter(account=account, maildir_key=key).first()
        if existing is None:
            raise
        return Delivered(existing, False)
    except BaseException:
        if created and not outer:
            maildir.unlink(folder.path, key, in_cur=stored.in_cur, info=stored.info)
        raise
    if not outer:
        _sync_uidlist(maildir, folder.path)
    return Delivered(message, True)


def _sync_uidlist(maildir: Maildir, path: str) -> None:
    """After the commit, outside the account's modseq lock (which every other write of the
    account waits for): the uidlist lines the transaction wrote reach the disk before the
    caller answers. The row and the file are durable already (the commit; the file's fsync
    before it), so a failure here is logged, not raised: the message is stored, and an
    error would make a client send it again; reindex gives a file without a line its UID
    from the row."""
    try:
        maildir.sync_uidlist(path)
    except StorageError:
        log.exception("folder %s: the uidlist could not be synced", path or "INBOX")


@dataclass(frozen=True, slots=True)
class Arrival:
    """One copy of an arriving message for do_deliver_many: `data` into `folder` under `key`."""

    account: Account
    folder: Folder
    data: bytes
    key: str
    parsed: ParsedMessage
    internal_date: datetime
    source: str = Source.SMTP
    # No copy under `key` can be indexed yet (the first delivery attempt of its queue entry:
    # the key names the entry): do_deliver_many skips the look-up for an earlier one. A row
    # there after all still cannot be doubled (unique key; the batch then goes one by one).
    new_key: bool = False

    def __post_init__(self) -> None:
        from mailcore.store.maildir import canonical_crlf

        # The bytes that read back (Maildir stores LF): len(data) is W=, Message.size.
        object.__setattr__(self, "data", canonical_crlf(self.data))


def do_deliver_many(arrivals: list[Arrival]) -> list[Delivered | MailcoreError]:
    """Deliver several arriving messages (no flags, no keywords: new/, unseen) at once, with
    the guarantees of do_deliver for each: one result per arrival, in order, a Delivered or
    the MailcoreError that stopped that copy (the others go on).

    Precondition: each folder belongs to its arrival's account (else NotFoundError for it).

    Effects, in two phases: every Maildir file is written and fsynced first (a file that is
    there already is kept: a repeat, or a crash before the index commit); then ONE transaction
    reserves each folder's UIDs with a single allocate_uids, inserts all rows, appends each
    folder's uidlist lines with one fdatasync, and publishes one change per folder after
    commit. Idempotent per (account, key) like do_deliver: a key already indexed is not stored
    again (a file this call created beside it is removed), and a key given twice is stored
    once. If that transaction fails (a concurrent delivery of the same key, say), each copy not
    yet indexed goes through do_deliver on its own, so a failing row loses no message.
    """
    results: list[Delivered | MailcoreError | None] = [None] * len(arrivals)
    outer = transaction.get_connection().in_atomic_block
    maildirs = _Maildirs()
    created: set[int] = set()
    written: list[tuple[int, StoredFile]] = []
    first_of: dict[tuple[int, str], int] = {}
    repeats: list[tuple[int, int]] = []
    dirs: dict[str, list[int]] = {}  # new links by directory: one fsync each, below
    pending: list[tuple[int, PendingFile]] = []
    try:
        for i, item in enumerate(arrivals):
            if item.folder.account_id != item.account.pk:
                results[i] = NotFoundError("folder not found")
                continue
            ident = (item.account.pk, item.key)
            if ident in first_of:
                repeats.append((i, first_of[ident]))
                continue
            first_of[ident] = i
            try:
                started = maildirs.of(item.account).start_delivery(
                    item.folder.path, item.key, item.data, mtime=item.internal_date.timestamp()
                )
            except (StorageError, OSError) as exc:
                results[i] = exc if isinstance(exc, StorageError) else StorageError(str(exc))
                continue
            if isinstance(started, StoredFile):
                written.append((i, started))  # there already: kept untouched
            else:
                pending.append((i, started))
    except BaseException:
        abandon_deliveries([p for _, p in pending])
        raise
    # The batch's new files fsynced side by side, then each linked into new/ (every file
    # durable before its link, as deliver() does it one by one).
    finished = finish_deliveries([p for _, p in pending], dirs_to_sync=[])
    for (i, started), outcome in zip(pending, finished, strict=True):
        if isinstance(outcome, StorageError):
            results[i] = outcome
            continue
        dirs.setdefault(started.parent, []).append(i)
        written.append((i, outcome[0]))
        if outcome[1]:
            created.add(i)
    written.sort(key=lambda w: w[0])  # arrival order, as the index takes them
    # Every new link durable before any row: one directory fsync per folder for the batch.
    for d, members in dirs.items():
        try:
            fsync_dir(d)
        except OSError as exc:  # not durable: those copies are not delivered (the retry finds
            failed = set(members)  # their files and indexes them then)
            for i in failed:
                results[i] = StorageError(f"cannot write message {arrivals[i].key}: {exc}")
            written = [(i, s) for i, s in written if i not in failed]
    fresh: list[tuple[int, StoredFile]] = []
    if written:
        # Keys indexed already (a repeat, or the user moved the first copy): keep that message.
        repeatable = [i for i, _ in written if not arrivals[i].new_key]
        indexed = (
            {
                (m.account_id, m.maildir_key): m
                for m in Message.objects.filter(
                    account_id__in={arrivals[i].account.pk for i in repeatable},
                    maildir_key__in={arrivals[i].key for i in repeatable},
                )
            }
            if repeatable
            else {}
        )
        for i, stored in written:
            existing = indexed.get((arrivals[i].account.pk, arrivals[i].key))
            if existing is None:
                fresh.append((i, stored))
                continue
            if i in created and not outer:
                _unlink_stored(maildirs, arrivals[i], stored)
            results[i] = Delivered(existing, False)
    if fresh:
        fault_point("deliver.after_file")
        try:
            for i, message in _index_arrivals(maildirs, arrivals, fresh):
                results[i] = Delivered(message, True)
        except (DatabaseError, StorageError):
            log.warning("batch index failed; indexing one by one", exc_info=True)
            removable = created if not outer else set()
            _deliver_one_by_one(maildirs, arrivals, fresh, removable, results)
        except BaseException:
            if not outer:  # as do_deliver: a file whose row cannot be committed goes again
                for i, stored in fresh:
                    if i in created:
                        _unlink_stored(maildirs, arrivals[i], stored)
            raise
    for i, first in repeats:
        done = results[first]
        results[i] = Delivered(done.message, False) if isinstance(done, Delivered) else done
    assert None not in results  # every path above settles its arrival
    _arrived_on_commit(arrivals, results)
    return cast(list[Delivered | MailcoreError], results)


def _arrived_on_commit(
    arrivals: list[Arrival], results: list[Delivered | MailcoreError | None]
) -> None:
    """The registered arrival hooks (mailcore.store.hooks) see each new copy with its parse."""
    from mailcore.store import hooks

    new = [
        (r.message, a.parsed)
        for a, r in zip(arrivals, results, strict=True)
        if isinstance(r, Delivered) and r.created
    ]
    if new:
        transaction.on_commit(lambda: hooks.arrived(new))


def _index_arrivals(
    maildirs: _Maildirs, arrivals: list[Arrival], fresh: list[tuple[int, StoredFile]]
) -> list[tuple[int, Message]]:
    """Rows and uidlist lines for message files already in place, in one transaction."""
    by_folder: dict[int, list[tuple[int, StoredFile]]] = {}
    for i, stored in fresh:
        by_folder.setdefault(arrivals[i].folder.pk, []).append((i, stored))
    rows: list[tuple[int, Message]] = []
    texts = {i: search_text(arrivals[i].parsed) for i, _ in fresh}  # before the row locks
    entries = {
        i: search_entry(a.account.pk, a.parsed, texts[i], a.internal_date)
        for i, a in ((i, arrivals[i]) for i in texts)
    }
    # An arrival's data is in CRLF form (Arrival.__post_init__): not scanned for it again.
    metas = {i: meta_row(arrivals[i].data, arrivals[i].parsed, crlf=True) for i, _ in fresh}
    found = conversation_fields([(a.account, a.parsed, a.internal_date, a.key) for a in arrivals])
    convs = {i: found[i] for i, _ in fresh}
    with transaction.atomic():
        # Counters first, in account order, then folders: the lock order of every action.
        modseqs = next_modseqs(arrivals[i].account.pk for i, _ in fresh)
        for folder_id, group in by_folder.items():
            modseq = modseqs[arrivals[group[0][0]].account.pk]
            uid, _ = allocate_uids(
                folder_id,
                len(group),
                unseen=len(group),
                size=sum(len(arrivals[i].data) for i, _ in group),
                modseq=modseq,
            )
            for i, stored in group:
                item = arrivals[i]
                message = Message(
                    account=item.account,
                    folder=item.folder,
                    uid=uid,
                    maildir_key=item.key,
                    in_cur=stored.in_cur,
                    info=stored.info,
                    size=len(item.data),
                    internal_date=item.internal_date,
                    modseq=modseq,
                    created_modseq=modseq,
                    keywords=[],
                    source=item.source,
                    **listing_fields(item.parsed),
                    **convs[i],
                )
                rows.append((i, message))
                uid += 1
        for i, m in rows:
            entries[i].message = m
            metas[i].message = m
        insert_index_rows(
            [m for _, m in rows],
            [MessageText(message=m, text=texts[i]) for i, m in rows],
            [entries[i] for i, _ in rows],
            [metas[i] for i, _ in rows],
        )
        by_index = dict(rows)
        for folder_id, group in by_folder.items():
            item = arrivals[group[0][0]]
            maildirs.of(item.account).append_uids(
                item.folder.path, [(by_index[i].uid, arrivals[i].key) for i, _ in group]
            )
            publish_on_commit(
                item.account.pk,
                Change(
                    "add",
                    folder_id,
                    tuple(by_index[i].pk for i, _ in group),
                    modseq=modseqs[item.account.pk],
                    uids=tuple(by_index[i].uid for i, _ in group),
                ),
            )
    return rows


def _deliver_one_by_one(
    maildirs: _Maildirs,
    arrivals: list[Arrival],
    fresh: list[tuple[int, StoredFile]],
    removable: set[int],
    results: list[Delivered | MailcoreError | None],
) -> None:
    """do_deliver_many's fallback: each copy whose file is in place gets its own do_deliver
    (which finds the file and indexes it). Files in `removable` were created by this call
    and go again when their copy ends up not indexed."""
    for n, (i, stored) in enumerate(fresh):
        item = arrivals[i]
        try:
            done = do_deliver(
                item.account,
                item.folder,
                item.data,
                key=item.key,
                source=item.source,
                parsed=item.parsed,
                internal_date=item.internal_date,
            )
        except (MailcoreError, OSError) as exc:
            if i in removable:
                _unlink_stored(maildirs, item, stored)
            results[i] = exc if isinstance(exc, MailcoreError) else StorageError(str(exc))
            continue
        except BaseException:
            for j, left in fresh[n:]:
                if j in removable:
                    _unlink_stored(maildirs, arrivals[j], left)
            raise
        if i in removable and not done.created and done.message.folder_id != item.folder.pk:
            # Indexed meanwhile in another folder: the file this call created is a duplicate.
            _unlink_stored(maildirs, item, stored)
        results[i] = done


class _Maildirs:
    """maildir_for once per account of a batch (it resolves the path: a syscall per level)."""

    def __init__(self) -> None:
        self._by_account: dict[int, Maildir] = {}

    def of(self, account: Account) -> Maildir:
        maildir = self._by_account.get(account.pk)
        if maildir is None:
            maildir = self._by_account[account.pk] = maildir_for(account)
        return maildir


def _unlink_stored(maildirs: _Maildirs, item: Arrival, stored: StoredFile) -> None:
    maildirs.of(item.account).unlink(
        item.folder.path, item.key, in_cur=stored.in_cur, info=stored.info
    )


def allocate_uids(
    folder_id: int, count: int = 1, *, unseen: int = 0, size: int = 0, modseq: int
) -> tuple[int, int]:
    """Reserve `count` consecutive UIDs of a folder for `count` arriving messages (`unseen` of
    them without \\Seen, `size` bytes in all) that get account modseq `modseq` (taken first
    with history.next_modseq, in the same transaction): (first uid, modseq).

    One UPDATE … RETURNING: the row stays locked until the caller's transaction ends, so UIDs
    are unique and increasing (RFC 9051 §2.3.1.1) across processes.
    """
    table = Folder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET uidnext = uidnext + %s, highestmodseq = %s, "  # noqa: S608
            "message_count = message_count + %s, unseen_count = unseen_count + %s, "
            "size_bytes = size_bytes + %s WHERE id = %s RETURNING uidnext, highestmodseq",
            [count, modseq, count, unseen, size, folder_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFoundError("folder not found")
    return int(row[0]) - count, int(row[1])


def _modseq_and_uid(account_id: int, folder_id: int, *, unseen: int, size: int) -> tuple[int, int]:
    """next_modseq and allocate_uids for one arriving message, inside the caller's
    transaction: (uid, modseq). One statement on PostgreSQL (history.modseq_cte: the
    counter's lock first, then the folder's), so an APPEND holds the account's lock for one
    round trip less; its commit stays synchronous (an APPEND answered is durable)."""
    if connection.vendor != "postgresql":
        modseq = next_modseq(account_id)
        return allocate_uids(folder_id, unseen=unseen, size=size, modseq=modseq)[0], modseq
    counter, params = modseq_cte(account_id)
    table = Folder._meta.db_table
    sql = (
        f"WITH {counter}, f AS (UPDATE {table} fo SET uidnext = fo.uidnext + 1, "  # noqa: S608
        "highestmodseq = c.highestmodseq, message_count = fo.message_count + 1, "
        "unseen_count = fo.unseen_count + %s, size_bytes = fo.size_bytes + %s FROM c "
        "WHERE fo.id = %s RETURNING fo.uidnext) "
        "SELECT c.highestmodseq, f.uidnext FROM c LEFT JOIN f ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, unseen, size, folder_id])
        row = cursor.fetchone()
    if row is None or row[1] is None:
        raise NotFoundError("folder not found")
    return int(row[1]) - 1, int(row[0])


CUT_MARK = "…"  # ends a listing field that was longer than its column


def clip(value: str, limit: int) -> str:
    """`value`, or its first `limit` - 1 characters and CUT_MARK when it is longer: a cut
    value shows that it was cut, within the column (the detail view has the whole value)."""
    return value if len(value) <= limit else value[: limit - 1] + CUT_MARK


def listing_fields(parsed: ParsedMessage) -> dict[str, object]:
    """The index row's copy of the headers a list shows, cut to the columns (with CUT_MARK).
    Identifiers (Message-ID, In-Reply-To, References) are cut without a mark: they are matched,
    not read, and a mark would make a cut one look like a different real one."""
    sender = parsed.from_[0] if parsed.from_ else None
    return {
        "message_id": parsed.message_id[:998],
        "subject": clip(parsed.subject, 998),
        "from_name": clip(sender.name if sender else "", 500),
        "from_addr": clip(sender.addr if sender else "", 500),
        "to_addrs": [[clip(a.name, 500), clip(a.addr, 500)] for a in parsed.to[:100]],
        "cc_addrs": [[clip(a.name, 500), clip(a.addr, 500)] for a in parsed.cc[:100]],
        "sent_date": parsed.date,
        "in_reply_to": parsed.in_reply_to[:998],
        "references": " ".join(parsed.references)[:10000],
        "snippet": parsed.snippet[:300],
        "has_attachments": parsed.has_attachments,
        **trust_fields(parsed.header_items, settings.MAIL_HOSTNAME),
    }


def do_append(
    *,
    acting_account: Account,
    folder: Folder,
    data: bytes,
    source: str = Source.API,
    flags: Iterable[str] = (),
    keywords: Iterable[str] = (),
    internal_date: datetime | None = None,
    dedupe_sent: bool = False,
) -> Message:
    """Add a message a user uploads (API, IMAP APPEND, Sent copy) under a fresh key.

    dedupe_sent (IMAP APPEND): when `folder` is the Sent folder and SMTP submission or the
    API put a message with the same Message-ID there within SENT_DEDUPE_SECONDS, that
    message is returned (with the APPEND's flags and keywords added) instead of storing a
    second copy: a client that saves its own copy after sending leaves one (Gmail does the
    same)."""
    from django.conf import settings

    from mailcore.store.maildir import new_key

    # Only the delivery worker writes our Authentication-Results (the index reads the sender
    # verdict from it): a copy a client uploads keeps none in our name. Its X-Spam-* fields
    # stay (an old server's, moved here by the user: searchable, as Dovecot keeps them).
    data = without_forged(data, settings.MAIL_HOSTNAME, spam=False)
    parsed = parse_message(data)
    if dedupe_sent:
        copy = find_sent_copy(acting_account, folder, parsed.message_id)
        if copy is not None:
            wanted = [f for f in flags if not getattr(copy, f, True)]
            new_kw = [k for k in _clean_keywords(keywords) if k not in copy.keywords]
            if wanted or new_kw:
                do_set_flags(
                    acting_account=acting_account,
                    messages=[copy],
                    add=wanted,
                    add_keywords=new_kw,
                )
            return copy
    key = new_key(settings.MAIL_HOSTNAME, len(data))
    return do_deliver(
        acting_account,
        folder,
        data,
        key=key,
        source=source,
        parsed=parsed,
        flags=flags,
        keywords=keywords,
        internal_date=internal_date,
    ).message


SENT_DEDUPE_SCAN = 1000  # the newest UIDs of Sent looked at: a window, never a folder scan


def find_sent_copy(account: Account, folder: Folder, message_id: str) -> Message | None:
    """The message with `message_id` that SMTP submission or the API stored in `folder` (the
    account's Sent folder) within SENT_DEDUPE_SECONDS, among its newest SENT_DEDUPE_SCAN
    UIDs; None otherwise (or for a message without Message-ID)."""
    from django.conf import settings

    if (
        not message_id
        or folder.account_id != account.pk
        or folder.special_use != SpecialUse.SENT
        or settings.SENT_DEDUPE_SECONDS <= 0
    ):
        return None
    uidnext = Folder.objects.filter(pk=folder.pk).values_list("uidnext", flat=True).first()
    if uidnext is None:
        return None
    since = datetime.now(tz=UTC) - timedelta(seconds=settings.SENT_DEDUPE_SECONDS)
    found = (
        Message.objects.select_related("folder")
        .filter(
            folder_id=folder.pk,
            uid__gte=uidnext - SENT_DEDUPE_SCAN,
            message_id=message_id[:998],
            source__in=(Source.SMTP, Source.API),
            internal_date__gte=since,
        )
        .order_by("-uid")
        .first()
    )
    if found is not None:
        found.account = account
    return found


# --- flags, move, delete -------------------------------------------------------------------


def do_set_flags(
    *,
    acting_account: Account,
    messages: list[Message],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    add_keywords: Iterable[str] = (),
    remove_keywords: Iterable[str] = (),
) -> list[Message]:
    """Change flags: the file is renamed first (Maildir is the truth), then the row.

    The caller's rows may be stale: opening a message marks it seen while a star on it is
    being saved. So the rows are written from their locked, current state (ordered by id):
    the change is applied again to that, the file renamed again if this gives other letters
    (rare), and the unseen counters move by what really changed; no flag is lost. The
    caller's Message objects are brought up to date."""
    add_s, remove_s = set(add), set(remove)
    unknown = (add_s | remove_s) - set(SYSTEM_FLAGS)
    if unknown:
        raise UserError(f"unknown flag(s): {', '.join(sorted(unknown))}")
    if any(m.account_id != acting_account.pk for m in messages):
        raise NotFoundError("message not found")  # before any file is touched
    add_kw, remove_kw = _clean_keywords(add_keywords), set(_clean_keywords(remove_keywords))
    maildir = maildir_for(acting_account)

    def changed_state(message: Message) -> tuple[dict[str, bool], list[str], str] | None:
        state = _message_flags(message)
        for name in add_s:
            state[name] = True
        for name in remove_s:
            state[name] = False
        keywords = [k for k in [*message.keywords, *add_kw] if k not in remove_kw]
        keywords = list(dict.fromkeys(keywords))
        if state == _message_flags(message) and keywords == message.keywords:
            return None
        info = _system_letters(state) + maildir.keyword_letters(message.folder.path, keywords)
        return state, keywords, info

    def rename(message: Message, info: str) -> None:
        maildir.set_info(
            message.folder.path,
            message.maildir_key,
            in_cur=message.in_cur,
            info=message.info,
            new_info=info,
        )

    # The files first, from the caller's view: outside any lock, like every store write.
    renamed: dict[int, str] = {}
    planned: list[_FlagPlan] = []
    for message in messages:
        change = changed_state(message)
        if change is not None and _file_still_there(
            functools.partial(rename, message, change[2]), message
        ):
            renamed[message.pk] = change[2]
            planned.append((message, *change))
    newly_seen: list[Message] = []
    if planned and connection.vendor == "postgresql":
        opened = [m for m, state, _, _ in planned if state["seen"] and not m.seen]
        done = _set_flags_pg(acting_account, planned)
        newly_seen += [m for m in opened if m.pk in done]
        # Rows another change got to since the caller read them: from their locked rows.
        renamed = {pk: info for pk, info in renamed.items() if pk not in done}
    if not renamed:
        _first_seen_on_commit(acting_account, newly_seen)
        return messages
    with transaction.atomic():
        # First: the account's lock order. Asynchronous commit: see history.next_modseq.
        modseq = next_modseq(acting_account.pk, durable=False)
        locked = (
            Message.objects.select_for_update(of=("self",))
            .select_related("folder")
            .filter(pk__in=list(renamed))
            .order_by("pk")
        )
        current = {m.pk: m for m in locked}  # expunged meanwhile: gone, nothing to write
        written: list[Message] = []
        # Rows that end in the same flags, keywords and letters: one UPDATE for them all
        # (a STORE on a whole folder is a few statements inside the lock, not one per row).
        same: dict[tuple[tuple[bool, ...], tuple[str, ...], str], list[int]] = {}
        unseen_by_folder: dict[int, int] = {}
        for message in current.values():
            change = changed_state(message)
            if change is None:
                continue  # another change got there first: the row already says so
            state, keywords, info = change
            if info != renamed[message.pk]:
                # Someone else changed its flags between our rename and this lock.
                maildir.set_info(
                    message.folder.path,
                    message.maildir_key,
                    in_cur=True,
                    info=renamed[message.pk],
                    new_info=info,
                )
            unseen_by_folder[message.folder_id] = (
                unseen_by_folder.get(message.folder_id, 0) + int(message.seen) - int(state["seen"])
            )
            if state["seen"] and not message.seen:
                newly_seen.append(message)
            _flags_written(message, state, keywords, info, modseq)
            group = (tuple(state[name] for name in SYSTEM_FLAGS), tuple(keywords), info)
            same.setdefault(group, []).append(message.pk)
            written.append(message)
        for (flags, keywords_t, info), pks in same.items():
            for i in range(0, len(pks), 1000):  # bounded statement size (SQLite's variables)
                Message.objects.filter(pk__in=pks[i : i + 1000]).update(
                    **dict(zip(SYSTEM_FLAGS, flags, strict=True)),
                    keywords=list(keywords_t),
                    info=info,
                    in_cur=True,
                    modseq=modseq,
                )
        for folder_id, delta in sorted(unseen_by_folder.items()):
            _adjust_folder(folder_id, modseq, unseen_delta=delta)
        _publish_by_folder(acting_account, "flags", written, modseq)
    for message in messages:
        fresh = current.get(message.pk)
        if fresh is not None:
            for name in (*SYSTEM_FLAGS, "keywords", "info", "in_cur", "modseq"):
                setattr(message, name, getattr(fresh, name))
    _first_seen_on_commit(acting_account, newly_seen)
    return messages


def _first_seen_on_commit(account: Account, newly_seen: list[Message]) -> None:
    """After commit, tell the registered hooks (mailcore.store.hooks) which messages this
    change marked seen for the first time (nothing to do, nothing queued, when none)."""
    from mailcore.store import hooks

    if newly_seen:
        rows = list(newly_seen)
        transaction.on_commit(lambda: hooks.first_seen(account, rows))


def _flags_written(
    message: Message, state: dict[str, bool], keywords: list[str], info: str, modseq: int
) -> None:
    """`message` as its row now is: these flags, keywords and letters, in cur/, at `modseq`."""
    for name, on in state.items():
        setattr(message, name, on)
    message.keywords, message.info, message.in_cur, message.modseq = keywords, info, True, modseq


# (the caller's message, its new flags, keywords and ':2,' letters)
_FlagPlan = tuple[Message, dict[str, bool], list[str], str]


def _set_flags_pg(acting_account: Account, planned: list[_FlagPlan]) -> set[int]:
    """do_set_flags on PostgreSQL for the rows still as the caller read them (their files
    already renamed): ONE statement, its own transaction when the caller has none, with an
    asynchronous commit (history.next_modseq says why that is safe). It takes the account's
    next modseq (history.modseq_cte: the counter's lock first), writes the rows whose flags,
    keywords, letters and place are still those the caller saw (a row changed meanwhile is
    re-checked against its newest version, so it is left out, not overwritten), and moves
    their folders' highestmodseq and unseen counters. The counter's lock is held for one
    statement and an asynchronous commit, instead of six round trips and a WAL flush.
    Returns the ids written (the caller's messages brought up to date, notices published);
    the others are for do_set_flags' locked path. A modseq taken when no row was still as
    seen is skipped: modseqs rise, they need not be consecutive."""
    names = list(SYSTEM_FLAGS)
    spec = ", ".join(
        [
            "id bigint",
            "folder_id bigint",
            *(f"o_{n} boolean, n_{n} boolean" for n in names),
            "o_kw jsonb, n_kw jsonb, o_info text, n_info text, o_cur boolean, unseen integer",
        ]
    )
    values = [
        {
            "id": m.pk,
            "folder_id": m.folder_id,
            **{f"o_{n}": bool(getattr(m, n)) for n in names},
            **{f"n_{n}": state[n] for n in names},
            "o_kw": m.keywords,
            "n_kw": keywords,
            "o_info": m.info,
            "n_info": info,
            "o_cur": m.in_cur,
            "unseen": int(m.seen) - int(state["seen"]),
        }
        for m, state, keywords, info in planned
    ]
    messages, folders = Message._meta.db_table, Folder._meta.db_table
    sets = ", ".join(f"{n} = v.n_{n}" for n in names)
    same = " AND ".join(f"m.{n} = v.o_{n}" for n in names)
    counter, params = modseq_cte(acting_account.pk)
    sql = (
        f"WITH {counter}, v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v({spec})), "  # noqa: S608
        f"u AS (UPDATE {messages} m SET {sets}, keywords = v.n_kw, info = v.n_info, "
        "in_cur = true, modseq = c.highestmodseq FROM v, c "
        f"WHERE m.id = v.id AND m.account_id = %s AND m.folder_id = v.folder_id AND {same} "
        "AND m.keywords = v.o_kw AND m.info = v.o_info AND m.in_cur = v.o_cur "
        "RETURNING m.id, m.folder_id, v.unseen), "
        f"f AS (UPDATE {folders} fo SET highestmodseq = c.highestmodseq, "
        "unseen_count = fo.unseen_count + g.unseen FROM c, (SELECT folder_id, "
        "sum(unseen)::integer AS unseen FROM u GROUP BY folder_id) g WHERE fo.id = g.folder_id) "
        f"SELECT c.highestmodseq, {commit_mode(not connection.in_atomic_block)}, "
        "ARRAY(SELECT id FROM u) FROM c"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, json.dumps(values), acting_account.pk])
        row = cursor.fetchone()
    assert row is not None  # the counter's UPSERT returns its row
    modseq, done = int(row[0]), {int(pk) for pk in row[2]}
    written: list[Message] = []
    for message, state, keywords, info in planned:
        if message.pk in done:
            _flags_written(message, state, keywords, info, modseq)
            written.append(message)
    _publish_by_folder(acting_account, "flags", written, modseq)
    return done


def _file_still_there(op: Callable[[], object], message: Message) -> bool:
    """op() on the message's file; False when the file is gone: expunged or moved by another
    request or Maildir client since the caller read the row (IMAP servers ignore a STORE on
    such a message too). The others of a bulk action go ahead; the index follows the disk at
    the next change notice or reindex."""
    try:
        op()
    except MessageFileMissingError:
        log.warning("message %s: its file is gone, left as it is", message.pk)
        return False
    return True


def _adjust_folder(
    folder_id: int,
    modseq: int,
    *,
    removed: int = 0,
    unseen_delta: int = 0,
    removed_size: int = 0,
) -> None:
    """A folder touched by a change at account modseq `modseq` (its highestmodseq now), its
    counters adjusted for removed messages / seen changes."""
    Folder.objects.filter(pk=folder_id).update(
        highestmodseq=modseq,
        message_count=F("message_count") - removed,
        unseen_count=F("unseen_count") + unseen_delta,
        size_bytes=F("size_bytes") - removed_size,
    )


def _publish_by_folder(
    account: Account,
    kind: str,
    messages: list[Message],
    modseq: int,
    uids: dict[int, int] | None = None,
) -> None:
    """One notice per folder; `uids` maps pk → the UID to report (else the row's)."""
    by_folder: dict[int, list[Message]] = {}
    for m in messages:
        by_folder.setdefault(m.folder_id, []).append(m)
    for folder_id, rows in by_folder.items():
        publish_on_commit(
            account.pk,
            Change(
                kind,
                folder_id,
                tuple(m.pk for m in rows),
                modseq=modseq,
                uids=tuple((uids or {}).get(m.pk, m.uid) for m in rows),
            ),
        )


def do_move(
    *, acting_account: Account, messages: list[Message], destination: Folder
) -> list[Message]:
    """Move messages to another folder of the same account (new UIDs there, RFC 6851)."""
    if destination.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    maildir = maildir_for(acting_account)
    moved: list[tuple[Message, int]] = []
    for message in messages:
        if message.account_id != acting_account.pk:
            raise NotFoundError("message not found")
        if message.folder_id == destination.pk:
            continue
        info = message.info
        if message.keywords:
            info = _system_letters(_message_flags(message)) + maildir.keyword_letters(
                destination.path, message.keywords
            )
        moving = functools.partial(
            maildir.move,
            message.folder.path,
            destination.path,
            message.maildir_key,
            in_cur=message.in_cur,
            info=message.info,
            new_info=info,
        )
        if not _file_still_there(moving, message):
            continue
        message.info = info
        moved.append((message, message.folder_id))
    if not moved:
        return messages
    outer = transaction.get_connection().in_atomic_block
    with transaction.atomic():
        modseq = next_modseq(acting_account.pk)  # first: the account's lock order
        # The counters move by the rows as they are now (a message marked seen since the
        # caller read it counts as seen); a row moved or expunged meanwhile is not counted.
        locked = Message.objects.select_for_update(of=("self",)).filter(
            pk__in=[m.pk for m, _ in moved]
        )
        current = {m.pk: m for m in locked.order_by("pk")}
        moved = [
            (_with_row(message, current[message.pk]), old)
            for message, old in moved
            if message.pk in current and current[message.pk].folder_id == old
        ]
        if not moved:
            return messages
        lines: list[tuple[int, str]] = []
        uid, _ = allocate_uids(
            destination.pk,
            len(moved),
            unseen=sum(1 for m, _ in moved if not m.seen),
            size=sum(m.size for m, _ in moved),
            modseq=modseq,
        )
        # The UIDs leave their folders (QRESYNC VANISHED); the message lives on (same pk).
        old_uids = {m.pk: current[m.pk].uid for m, _ in moved}
        add_tombstones(
            acting_account.pk,
            TombstoneKind.MOVED,
            [(old, old_uids[m.pk], m.pk) for m, old in moved],
            modseq,
        )
        for source_id in sorted({old for _, old in moved}):
            gone = [m for m, old in moved if old == source_id]
            _publish_by_folder(
                acting_account,
                "expunge",
                gone,
                modseq,
                old_uids,
            )
            _adjust_folder(
                source_id,
                modseq,
                removed=len(gone),
                unseen_delta=-sum(1 for m in gone if not m.seen),
                removed_size=sum(m.size for m in gone),
            )
        for message, _old_folder_id in moved:
            row = current[message.pk]
            wanted = row.info
            if row.keywords:
                wanted = _system_letters(_message_flags(row)) + maildir.keyword_letters(
                    destination.path, row.keywords
                )
            if wanted != message.info:
                # Its flags changed between our rename and this lock: the file follows the row.
                maildir.set_info(
                    destination.path,
                    message.maildir_key,
                    in_cur=True,
                    info=message.info,
                    new_info=wanted,
                )
                message.info = wanted
            message.folder, message.uid, message.in_cur, message.modseq = (
                destination,
                uid,
                True,
                modseq,
            )
            message.save(update_fields=["folder", "uid", "in_cur", "info", "modseq"])
            lines.append((uid, message.maildir_key))
            uid += 1
        # Written under the lock in one write, made durable after the commit.
        maildir.append_uids(destination.path, lines, sync=outer)
        publish_on_commit(
            acting_account.pk,
            Change(
                "add",
                destination.pk,
                tuple(m.pk for m, _ in moved),
                modseq=modseq,
                uids=tuple(m.uid for m, _ in moved),
            ),
        )
    if not outer:
        _sync_uidlist(maildir, destination.path)
    return messages


def _with_row(message: Message, row: Message) -> Message:
    """`message` (the caller's object) with the flags of `row` (its locked, current row)."""
    for name in (*SYSTEM_FLAGS, "keywords"):
        setattr(message, name, getattr(row, name))
    return message


def do_copy(
    *, acting_account: Account, messages: list[Message], destination: Folder
) -> list[Message | None]:
    """Copy messages into a folder of the same account (IMAP COPY, RFC 9051 §6.4.7): each
    copy is a new file under a fresh key, stored by do_deliver with the original's flags,
    keywords and internal date (so it is indexed and announced like any arrival). A message
    whose file has gone meanwhile is skipped: None in its place. Quota is the caller's."""
    from django.conf import settings

    from mailcore.store.maildir import new_key

    if destination.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    if any(m.account_id != acting_account.pk for m in messages):
        raise NotFoundError("message not found")
    maildir = maildir_for(acting_account)
    copies: list[Message | None] = []
    for message in messages:
        try:
            data = maildir.read(
                message.folder.path, message.maildir_key, in_cur=message.in_cur, info=message.info
            )
        except MessageFileMissingError:
            log.warning("message %s: its file is gone, not copied", message.pk)
            copies.append(None)
            continue
        copy = do_deliver(
            acting_account,
            destination,
            data,
            key=new_key(settings.MAIL_HOSTNAME, len(data)),
            source=Source.IMAP,
            flags=[name for name in SYSTEM_FLAGS if getattr(message, name)],
            keywords=message.keywords,
            internal_date=message.internal_date,
        )
        copies.append(copy.message)
    return copies


def do_expunge(*, acting_account: Account, messages: list[Message]) -> int:
    """Remove messages for good: files first (Maildir is the truth), then rows. Returns how
    many rows went: only those still in the folder the caller saw them in count, so a
    concurrent expunge or move of the same message never moves the counters twice."""
    if any(m.account_id != acting_account.pk for m in messages):
        raise NotFoundError("message not found")  # before any file is touched
    maildir = maildir_for(acting_account)
    by_path: dict[str, list[tuple[str, bool, str]]] = {}
    for message in messages:
        by_path.setdefault(message.folder.path, []).append(
            (message.maildir_key, message.in_cur, message.info)
        )
    for path, files in by_path.items():
        maildir.unlink_many(path, files)
    seen_in = {m.pk: m.folder_id for m in messages}
    if connection.vendor == "postgresql":
        return _expunge_rows_pg(acting_account, seen_in)
    with transaction.atomic():
        # First: the account's lock order. Asynchronous commit: see history.next_modseq.
        modseq = next_modseq(acting_account.pk, durable=False)
        locked = Message.objects.select_for_update().filter(pk__in=list(seen_in)).order_by("pk")
        messages = [m for m in locked if seen_in[m.pk] == m.folder_id]
        if not messages:
            return 0
        _publish_by_folder(acting_account, "expunge", messages, modseq)
        add_tombstones(
            acting_account.pk,
            TombstoneKind.EXPUNGED,
            [(m.folder_id, m.uid, m.pk) for m in messages],
            modseq,
        )
        for folder_id in sorted({m.folder_id for m in messages}):
            gone = [m for m in messages if m.folder_id == folder_id]
            _adjust_folder(
                folder_id,
                modseq,
                removed=len(gone),
                unseen_delta=-sum(1 for m in gone if not m.seen),
                removed_size=sum(m.size for m in gone),
            )
        _, deleted = Message.objects.filter(pk__in=[m.pk for m in messages]).delete()
        count = deleted.get(Message._meta.label, 0)  # not the body texts deleted with them
    return count


def _child_statements(ids: str) -> list[str]:
    """SQL for the rows that point at the messages whose ids `ids` (a subquery) selects, from
    Message's reverse relations: DELETE for CASCADE (its body text, its IMAP metadata),
    UPDATE … SET NULL for SET_NULL (a queue entry's sent copy). What Django's delete collector
    would do, without its SELECTs; any other on_delete is refused (add it here first)."""
    from django.db.models import CASCADE, SET_NULL, ForeignObjectRel
    from django.db.models.deletion import get_candidate_relations_to_delete

    statements = []
    # Hidden ones too (related_name="+": the queue's sent_copy), as the collector does.
    for found in get_candidate_relations_to_delete(cast(Any, Message._meta)):
        rel = cast(ForeignObjectRel, found)
        model = rel.related_model
        table, column = model._meta.db_table, cast(str, rel.field.column)
        leaf = not any(get_candidate_relations_to_delete(model._meta))
        if rel.on_delete is CASCADE and leaf:
            statements.append(f"DELETE FROM {table} WHERE {column} IN ({ids})")  # noqa: S608
        elif rel.on_delete is SET_NULL:
            statements.append(
                f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({ids})"  # noqa: S608
            )
        else:
            raise NotImplementedError(f"expunge: {rel} ({rel.on_delete!r})")
    return statements


def _expunge_rows_pg(acting_account: Account, seen_in: dict[int, int]) -> int:
    """do_expunge's rows on PostgreSQL: ONE statement, its own transaction when the caller has
    none, with an asynchronous commit (history.next_modseq says why that is safe). It takes
    the account's next modseq (history.modseq_cte: the counter's lock first), deletes the
    rows still in the folder the caller saw them in (locking them as it goes), their body
    texts, metadata and queue links, writes their tombstones and moves their folders'
    counters. The counter's lock is held for one statement and an asynchronous commit, not
    five round trips and a WAL flush (Django's delete collector took nine statements)."""
    ids, folders = list(seen_in), [seen_in[pk] for pk in seen_in]
    children = ", ".join(
        f"c{i} AS ({sql})" for i, sql in enumerate(_child_statements("SELECT id FROM gone"))
    )
    messages_table, tombstones = Message._meta.db_table, Tombstone._meta.db_table
    folders_table = Folder._meta.db_table
    counter, params = modseq_cte(acting_account.pk)
    sql = (
        f"WITH {counter}, pairs AS (SELECT * FROM "  # noqa: S608
        "unnest(%s::bigint[], %s::bigint[]) AS p(id, folder_id)), "
        f"gone AS (DELETE FROM {messages_table} m USING pairs, c "
        "WHERE m.id = pairs.id AND m.folder_id = pairs.folder_id AND m.account_id = %s "
        "RETURNING m.id, m.folder_id, m.uid, m.seen, m.size), "
        f"{children}{', ' if children else ''}"
        f"tomb AS (INSERT INTO {tombstones} (account_id, kind, folder_id, uid, message_pk, "
        "modseq, created_at) SELECT %s, %s, gone.folder_id, gone.uid, gone.id, "
        "c.highestmodseq, %s FROM gone, c), "
        f"f AS (UPDATE {folders_table} fo SET highestmodseq = c.highestmodseq, "
        "message_count = fo.message_count - g.n, unseen_count = fo.unseen_count - g.unseen, "
        "size_bytes = fo.size_bytes - g.size FROM c, (SELECT folder_id, count(*) AS n, "
        "count(*) FILTER (WHERE NOT seen) AS unseen, sum(size) AS size FROM gone "
        "GROUP BY folder_id) g WHERE fo.id = g.folder_id) "
        f"SELECT c.highestmodseq, {commit_mode(not connection.in_atomic_block)}, "
        "gone.id, gone.folder_id, gone.uid FROM c LEFT JOIN gone ON true ORDER BY gone.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *params,
                ids,
                folders,
                acting_account.pk,
                acting_account.pk,
                TombstoneKind.EXPUNGED.value,
                timezone.now(),
            ],
        )
        rows = cursor.fetchall()
    modseq = int(rows[0][0])
    gone = [
        Message(pk=pk, account_id=acting_account.pk, folder_id=f, uid=uid)
        for _, _, pk, f, uid in rows
        if pk is not None
    ]
    _publish_by_folder(acting_account, "expunge", gone, modseq)
    return len(gone)


def do_delete_messages(*, acting_account: Account, messages: list[Message]) -> dict[str, int]:
    """Webmail delete: into Trash; what is already in Trash is expunged."""
    trash = Folder.objects.filter(account=acting_account, special_use=SpecialUse.TRASH).first()
    if trash is None:
        raise NotFoundError("account has no Trash folder")
    in_trash = [m for m in messages if m.folder_id == trash.pk]
    elsewhere = [m for m in messages if m.folder_id != trash.pk]
    if elsewhere:
        do_move(acting_account=acting_account, messages=elsewhere, destination=trash)
    expunged = do_expunge(acting_account=acting_account, messages=in_trash) if in_trash else 0
    return {"trashed": len(elsewhere), "expunged": expunged}


EMPTY_BATCH = 500
EMPTIABLE = (SpecialUse.TRASH, SpecialUse.JUNK)


def do_empty_folder(*, acting_account: Account, folder: Folder) -> int:
    """Delete every message of Trash or Junk for good (NotEmptiableError for other folders),
    through do_expunge in batches of EMPTY_BATCH: files first, counters kept in step, one
    expunge change per batch. Mail that arrives meanwhile (a UID at or above uidnext at the
    start) stays. Returns how many messages went."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    if folder.special_use not in EMPTIABLE:
        raise NotEmptiableError("Only Trash and Junk can be emptied.")
    upto = Folder.objects.filter(pk=folder.pk).values_list("uidnext", flat=True).first()
    if upto is None:
        raise NotFoundError("folder not found")
    removed = 0
    while True:
        batch = list(
            Message.objects.filter(folder=folder, uid__lt=upto).order_by("uid")[:EMPTY_BATCH]
        )
        if not batch:
            return removed
        for message in batch:
            message.folder = folder
        removed += do_expunge(acting_account=acting_account, messages=batch)


JUNK_KEYWORD, NOT_JUNK_KEYWORD = "$Junk", "$NotJunk"  # RFC 9051 §2.3.2, what filters learn from


def do_mark_spam(*, acting_account: Account, messages: list[Message], spam: bool) -> int:
    """Report spam: keyword $Junk (and not $NotJunk) and into Junk. Not spam: $NotJunk and,
    for those in Junk, back into INBOX (as Gmail and Thunderbird do). Returns how many moved."""
    junk = get_folder_by_special_use(acting_account, SpecialUse.JUNK)
    if spam:
        destination = junk
        to_move = [m for m in messages if m.folder_id != junk.pk]
        add, remove = [JUNK_KEYWORD], [NOT_JUNK_KEYWORD]
    else:
        destination = get_folder_by_special_use(acting_account, SpecialUse.INBOX)
        to_move = [m for m in messages if m.folder_id == junk.pk]
        add, remove = [NOT_JUNK_KEYWORD], [JUNK_KEYWORD]
    # Keywords first (checks every message is the account's), then the move carries them.
    do_set_flags(
        acting_account=acting_account, messages=messages, add_keywords=add, remove_keywords=remove
    )
    if to_move:
        do_move(acting_account=acting_account, messages=to_move, destination=destination)
    return len(to_move)


def do_clean_maildir_tmp(max_age_seconds: float) -> int:
    """Remove tmp/ debris older than `max_age_seconds` in every account's folders (a crash
    between writing tmp/ and linking leaves such files; maildir(5) suggests 36 hours)."""
    removed = 0
    for account in Account.objects.only("pk", "storage_path").iterator():
        maildir = maildir_for(account)
        for path in maildir.list_folder_paths():
            removed += maildir.clean_tmp(path, max_age_seconds)
    return removed


# --- import (mailcore.importers: mbox files and Maildir trees of another server) ----------------


def do_import_message(
    *,
    acting_account: Account,
    folder: Folder,
    data: bytes,
    key: str,
    uid: int | None = None,
    flags: Iterable[str] = (),
    keywords: Iterable[str] = (),
    internal_date: datetime | None = None,
) -> Delivered:
    """Store an imported message under `key`, a name derived from its source, so that a re-run
    finds it (wherever the user has moved it since) and stores nothing twice. `uid` is the UID
    the old server gave it: kept when the folder's UIDNEXT has not passed it (UIDs only grow,
    RFC 9051 §2.3.1.1), else the message gets the next one."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    # [:1], not first(): ORDER BY id could lead the planner away from the (account, key) index.
    existing = Message.objects.filter(account=acting_account, maildir_key=key)[:1]
    if existing:
        return Delivered(existing[0], False)
    if uid is not None:
        Folder.objects.filter(pk=folder.pk, uidnext__lt=uid).update(uidnext=uid)
    return do_deliver(
        acting_account,
        folder,
        data,
        key=key,
        source=Source.IMPORT,
        flags=flags,
        keywords=keywords,
        internal_date=internal_date,
    )


@transaction.atomic
def do_adopt_uidvalidity(*, acting_account: Account, folder: Folder, uidvalidity: int) -> bool:
    """Give `folder` the UIDVALIDITY of the folder it is imported from, so IMAP clients that
    knew the old server keep their caches. Only a folder that never held a message can change
    it (else clients would mix two UID spaces); True when the folder has it now."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    modseq = next_modseq(acting_account.pk)  # first: the account's lock order
    locked = Folder.objects.select_for_update().get(pk=folder.pk)
    if locked.uidvalidity == uidvalidity:
        return True
    if locked.uidnext != 1 or Message.objects.filter(folder=locked).exists():
        return False
    maildir = maildir_for(acting_account)
    _, mapping = maildir.read_uidlist(locked.path)
    maildir.rewrite_uidlist(locked.path, uidvalidity, mapping)
    Folder.objects.filter(pk=locked.pk).update(uidvalidity=uidvalidity, highestmodseq=modseq)
    folder.uidvalidity, folder.highestmodseq = uidvalidity, modseq
    publish_on_commit(
        acting_account.pk,
        Change("folder", folder.pk, extra={"op": "uidvalidity"}, modseq=modseq),
    )
    return True


def do_reserve_uids(*, acting_account: Account, folder: Folder, uidnext: int) -> None:
    """Raise the folder's UIDNEXT to `uidnext` (the old server's), so UIDs it handed out to
    messages expunged there are never reused."""
    if folder.account_id != acting_account.pk:
        raise NotFoundError("folder not found")
    Folder.objects.filter(pk=folder.pk, uidnext__lt=uidnext).update(uidnext=uidnext)
