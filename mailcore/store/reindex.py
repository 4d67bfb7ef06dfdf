"""Rebuild an account's folders, messages, flags and UIDs from its Maildir alone
(`manage.py reindex`, the job of `doveadm force-resync`). Safe to re-run; Maildir wins."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from mailcore.addresses import canonical_domain, local_from_storage_name
from mailcore.directory.models import Account, Domain
from mailcore.errors import InvalidAddressError, InvalidFolderNameError, StorageError
from mailcore.mime import imapmeta, parse_message, search_text
from mailcore.search.backend import get_backend, search_entry
from mailcore.store.actions import DEFAULT_FOLDERS, listing_fields, new_uidvalidity
from mailcore.store.changes import Change, publish_on_commit
from mailcore.store.conversation import rebuild_conversations
from mailcore.store.history import add_tombstones, next_modseq, tombstone_folders, touch_folders
from mailcore.store.maildir import (
    KEYWORD_LETTERS,
    Maildir,
    StoredFile,
    flags_from_info,
    folder_name_for_path,
    key_stem,
)
from mailcore.store.meta import fill_imap_meta
from mailcore.store.models import (
    Folder,
    Message,
    MessageSearch,
    MessageText,
    Source,
    TombstoneKind,
)
from mailcore.store.queries import maildir_for

log = logging.getLogger(__name__)
_LETTER_FLAG = {"S": "seen", "R": "answered", "F": "flagged", "T": "deleted", "D": "draft"}
_SPECIAL_BY_NAME = dict(DEFAULT_FOLDERS)
BATCH = 500


@dataclass(slots=True)
class ReindexReport:
    folders: int = 0
    messages: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0


def reindex_account(
    account: Account,
    *,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ReindexReport:
    maildir = maildir_for(account)
    report = ReindexReport()
    if not (maildir.root / "cur").is_dir():
        maildir.create_folder("", new_uidvalidity())
    paths = maildir.list_folder_paths()
    rows_by_key = {m.maildir_key: m for m in Message.objects.filter(account=account)}
    # A file matches its row by stem: its name carries S=/W= sizes the key may not (LF layout).
    key_of = {key_stem(k): k for k in rows_by_key}
    scanned: dict[str, list[StoredFile]] = {
        p: [replace(f, key=key_of.get(key_stem(f.key), f.key)) for f in maildir.scan(p)]
        for p in paths
    }
    if on_total:
        on_total(sum(len(v) for v in scanned.values()))
    # Rows indexed before body texts existed (or whose text went missing) get one now.
    with_text = set(
        MessageText.objects.filter(message__account=account).values_list("message_id", flat=True)
    )
    kept_folder_ids: set[int] = set()
    seen_keys: set[str] = set()
    for path in paths:
        try:
            name = folder_name_for_path(path)
        except InvalidFolderNameError:
            log.warning("%s: skipping foreign directory %r", account.address, path)
            continue
        folder = _folder_for(account, path, name, maildir)
        kept_folder_ids.add(folder.pk)
        report.folders += 1
        uidvalidity, listed = maildir.read_uidlist(path)
        # A file the index lost keeps the key its uidlist line names (the LF conversion
        # renamed the file, not the key); uidlist lines find their files by stem.
        listed_key = {key_stem(k): k for k in listed}
        here = [
            f if f.key in rows_by_key else replace(f, key=listed_key.get(key_stem(f.key), f.key))
            for f in scanned[path]
        ]
        file_key = {key_stem(f.key): f.key for f in here}
        mapping = {file_key.get(key_stem(k), k): uid for k, uid in listed.items()}
        files = [f for f in here if f.key not in seen_keys]
        seen_keys.update(f.key for f in files)
        used = set()
        assigned: dict[str, int] = {}
        next_uid = max([*mapping.values(), folder.uidnext - 1, 0]) + 1
        for f in sorted(files, key=lambda f: (mapping.get(f.key, 1 << 62), f.mtime, f.key)):
            uid = mapping.get(f.key)
            if uid is None or uid in used:
                uid = next_uid
                next_uid += 1
            used.add(uid)
            assigned[f.key] = uid
        keywords = maildir.read_keywords(path)
        pending: list[tuple[Message, str, MessageSearch]] = []
        texts: list[MessageText] = []
        with transaction.atomic():
            # One change of the account (rule 8): rows whose place or flags the disk changed
            # get its modseq; a UID a row leaves behind gets a tombstone.
            modseq = next_modseq(account.pk)
            known = [rows_by_key[f.key] for f in files if f.key in rows_by_key]
            was = {m.pk: _row_state(m) for m in known}
            added_before = report.added
            # Free the UIDs this pass will hand out, so reassignments cannot collide.
            Message.objects.filter(folder=folder).update(uid=-F("id"))
            for f in files:
                row = rows_by_key.get(f.key)
                state = _flags(f)
                kws = [
                    keywords[KEYWORD_LETTERS.index(c)]
                    for c in flags_from_info(f.info)[1]
                    if KEYWORD_LETTERS.index(c) < len(keywords)
                    and keywords[KEYWORD_LETTERS.index(c)]
                ]
                if row is not None:
                    row.folder, row.uid, row.in_cur, row.info = (
                        folder,
                        assigned[f.key],
                        f.in_cur,
                        f.info,
                    )
                    row.keywords = kws
                    if f.wire_size is not None:  # W= of the name: the CRLF size
                        row.size = f.wire_size
                    for attr, on in state.items():
                        setattr(row, attr, on)
                    row.save()
                    if row.pk not in with_text:
                        texts.append(MessageText(message=row, text=_text_of(maildir, path, f)))
                    report.updated += 1
                else:
                    pending.append(
                        _new_row(account, folder, maildir, path, f, assigned[f.key], state, kws)
                    )
                    pending[-1][0].modseq = pending[-1][0].created_modseq = modseq
                    report.added += 1
                    if len(pending) >= BATCH:
                        _create_rows(pending)
                        pending.clear()
                report.messages += 1
                if progress:
                    progress(1)
            if pending:
                _create_rows(pending)
            MessageText.objects.bulk_create(texts, batch_size=BATCH)
            changed = [m for m in known if _row_state(m) != was[m.pk]]
            Message.objects.filter(pk__in=[m.pk for m in changed]).update(modseq=modseq)
            left = [
                (was[m.pk][0], was[m.pk][1], m.pk)
                for m in changed
                if was[m.pk][:2] != (m.folder_id, m.uid)
            ]
            add_tombstones(account.pk, TombstoneKind.MOVED, left, modseq)
            Folder.objects.filter(pk=folder.pk).update(
                uidnext=max(next_uid, folder.uidnext),
                uidvalidity=uidvalidity or folder.uidvalidity,
            )
            if changed or report.added > added_before:
                touch_folders({folder.pk, *(f for f, _, _ in left)}, modseq)
            maildir.rewrite_uidlist(path, uidvalidity or folder.uidvalidity, assigned)
    with transaction.atomic():
        modseq = next_modseq(account.pk)
        gone = Message.objects.filter(account=account).exclude(maildir_key__in=seen_keys)
        dead = list(
            Folder.objects.filter(account=account)
            .exclude(pk__in=kept_folder_ids)
            .values_list("pk", flat=True)
        )
        tombstone_folders(account.pk, dead, modseq)  # with their messages' tombstones
        # UIDs as they were before this run (the passes above renumbered what they kept).
        lost = [
            (m.folder_id, m.uid, m.pk)
            for m in rows_by_key.values()
            if m.maildir_key not in seen_keys and m.folder_id not in dead
        ]
        add_tombstones(account.pk, TombstoneKind.EXPUNGED, lost, modseq)
        touch_folders({f for f, _, _ in lost}, modseq)
        _, deleted = gone.delete()
        report.removed = deleted.get(Message._meta.label, 0)  # without their body texts
        Folder.objects.filter(account=account).exclude(pk__in=kept_folder_ids).delete()
        recount_folders(account)
        for folder_id in sorted(kept_folder_ids):  # open clients reload what they show
            publish_on_commit(account.pk, Change("folder", folder_id, extra={"op": "reindex"}))
    # Conversation keys of the whole account, in arrival order (new rows came in with none).
    rebuild_conversations(Message, Account, account_ids=[account.pk])
    # IMAP metadata for rows that have none (new here, or indexed before it existed).
    fill_account_meta(account)
    # Search entries likewise (rows indexed before it existed, or an index wiped).
    get_backend().rebuild_account(account, missing_only=True)
    return report


def fill_account_meta(account: Account, *, progress: Callable[[int], None] | None = None) -> int:
    """Compute the IMAP metadata (ENVELOPE, BODYSTRUCTURE, …) of every message of the account
    without a current MessageMeta row, from its file (`reindex --imap-meta`). Returns how many
    rows were written."""
    stale = (
        Message.objects.filter(account=account)
        .exclude(meta__version=imapmeta.VERSION)
        .select_related("folder")
        .order_by("pk")
    )
    messages = list(stale)
    for message in messages:
        message.account = account
    return fill_imap_meta(messages, progress=progress)


RowState = tuple[int, int, bool, bool, bool, bool, bool, tuple[str, ...]]


def _row_state(row: Message) -> RowState:
    """What a client sees of a row: its place and its flags."""
    flags = (row.seen, row.answered, row.flagged, row.deleted, row.draft)
    return (row.folder_id, row.uid, *flags, tuple(row.keywords))


def recount_folders(account: Account) -> None:
    """Set every folder's message, unseen and size counters from its rows."""
    counts = {
        row["folder_id"]: row
        for row in Message.objects.filter(account=account)
        .values("folder_id")
        .annotate(total=Count("id"), unseen=Count("id", filter=Q(seen=False)), size=Sum("size"))
    }
    for folder in Folder.objects.filter(account=account):
        row = counts.get(folder.pk, {"total": 0, "unseen": 0, "size": 0})
        Folder.objects.filter(pk=folder.pk).update(
            message_count=row["total"], unseen_count=row["unseen"], size_bytes=row["size"] or 0
        )


def _create_rows(pending: list[tuple[Message, str, MessageSearch]]) -> None:
    Message.objects.bulk_create([m for m, _, _ in pending])
    MessageText.objects.bulk_create([MessageText(message=m, text=t) for m, t, _ in pending])
    for m, _, entry in pending:
        entry.message = m
    MessageSearch.objects.bulk_create([entry for _, _, entry in pending])


def _text_of(maildir: Maildir, path: str, f: StoredFile) -> str:
    try:
        return search_text(parse_message(maildir.read(path, f.key, in_cur=f.in_cur, info=f.info)))
    except StorageError:
        return ""


def _flags(f: StoredFile) -> dict[str, bool]:
    system, _ = flags_from_info(f.info)
    return {attr: letter in system for letter, attr in _LETTER_FLAG.items()}


def _folder_for(account: Account, path: str, name: str, maildir) -> Folder:  # type: ignore[no-untyped-def]
    folder = Folder.objects.filter(account=account, path=path).first()
    if folder is not None:
        return folder
    uidvalidity, _ = maildir.read_uidlist(path)
    special = _SPECIAL_BY_NAME.get(name, "")
    if special and Folder.objects.filter(account=account, special_use=special).exists():
        special = ""
    folder = Folder.objects.create(
        account=account,
        name=name,
        path=path,
        special_use=special,
        uidvalidity=uidvalidity or new_uidvalidity(),
    )
    if uidvalidity is None:
        maildir.create_folder(path, folder.uidvalidity)
    return folder


def _new_row(
    account: Account,
    folder: Folder,
    maildir: Maildir,
    path: str,
    f: StoredFile,
    uid: int,
    state: dict[str, bool],
    keywords: list[str],
) -> tuple[Message, str, MessageSearch]:
    """The row of a file the index does not know, its body text and its search entry."""
    try:
        data = maildir.read(path, f.key, in_cur=f.in_cur, info=f.info)
    except StorageError:
        data = b""
    parsed = parse_message(data)
    row = Message(
        account=account,
        folder=folder,
        uid=uid,
        maildir_key=f.key,
        in_cur=f.in_cur,
        info=f.info,
        size=f.wire_size if f.wire_size is not None else (len(data) or f.size),
        internal_date=datetime.fromtimestamp(f.mtime, tz=UTC),
        modseq=folder.highestmodseq + 1,
        keywords=keywords,
        source=Source.REINDEX,
        **state,
        **listing_fields(parsed),
    )
    text = search_text(parsed)
    return row, text, search_entry(account.pk, parsed, text, row.internal_date)


def discover_accounts(mail_root: Path) -> list[Account]:
    """Recreate domain and account rows for every `<domain>/<user>/Maildir` under MAIL_ROOT
    that has none (after the database is lost). New accounts get no usable password."""
    found: list[Account] = []
    if not mail_root.is_dir():
        return found
    for domain_dir in sorted(p for p in mail_root.iterdir() if p.is_dir()):
        try:
            alabel = canonical_domain(domain_dir.name)
        except InvalidAddressError:
            continue
        if alabel != domain_dir.name:
            continue
        for user_dir in sorted(p for p in domain_dir.iterdir() if (p / "Maildir").is_dir()):
            local = local_from_storage_name(user_dir.name)
            if local is None:
                log.warning("skipping %s: not a Mailroom account directory", user_dir)
                continue
            storage_path = f"{alabel}/{user_dir.name}"
            account = Account.objects.filter(storage_path=storage_path).first()
            if account is None:
                domain, _ = Domain.objects.get_or_create(name=alabel)
                account = Account(
                    address=f"{local}@{alabel}",
                    local_part=local,
                    domain=domain,
                    storage_path=storage_path,
                )
                account.set_unusable_password()
                account.save()
            found.append(account)
    return found
