"""Changes to the POP3 per-account state: the user's (or an admin's) policy, and the end of a
session (UPDATE state), which changes the mail only through mailcore.store.actions."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.db import connection, transaction

from mailcore.directory.models import Account
from mailcore.errors import UserError
from mailcore.pop3.models import DeletePolicy, Pop3Settings, Uidl


class DeleteAction(enum.StrEnum):
    """What "delete" means (POP3_DELETE_ACTION, the admin's choice)."""

    TRASH = "trash"  # into Trash, as the webmail's delete
    EXPUNGE = "expunge"  # gone for good (classic POP3)


def get_pop3_settings(account: Account) -> Pop3Settings:
    """The account's POP3 choices (the defaults when never set: delete, offer everything)."""
    found = Pop3Settings.objects.filter(account=account).first()
    return found if found is not None else Pop3Settings(account=account)


def do_set_pop3_settings(
    account: Account, *, on_delete: str | None = None, only_new: bool | None = None
) -> Pop3Settings:
    """Set the account's POP3 policy (the user in Settings or the API, or an admin)."""
    if on_delete is not None and on_delete not in DeletePolicy.values:
        choices = ", ".join(DeletePolicy.values)
        raise UserError(f"unknown POP3 delete policy {on_delete!r} (one of {choices})")
    with transaction.atomic():
        row, _ = Pop3Settings.objects.select_for_update().get_or_create(account=account)
        if on_delete is not None:
            row.on_delete = on_delete
        if only_new is not None:
            row.only_new = only_new
        row.save()
    return row


@dataclass(frozen=True, slots=True)
class SessionEnd:
    folder_id: int
    on_delete: str  # the account's DeletePolicy when the session began
    deleted: list[int]  # Message pks the client deleted
    downloaded: list[str]  # Maildir keys to mark downloaded ("offer only new" is on)


def do_end_session(account: Account, end: SessionEnd, action: DeleteAction) -> int:
    """UPDATE state (RFC 1939 §6): note what was downloaded, when "offer only mail not
    downloaded before" needs it, then apply the policy to the messages the client deleted
    that are still in INBOX (one moved or expunged meanwhile by another client is left
    alone). Returns how many messages were acted on.

    The downloads are one UPDATE committed asynchronously on PostgreSQL (it does not wait
    for the WAL flush): a database crash may forget the last fraction of a second of them,
    which offers those messages once more, never loses one. Deletions go through the store's
    actions and are durable before this returns."""
    from mailcore.store import actions
    from mailcore.store.models import Message

    if end.downloaded:
        with transaction.atomic():
            async_commit()
            Uidl.objects.filter(
                account=account, maildir_key__in=end.downloaded, downloaded=False
            ).update(downloaded=True)
    if not end.deleted or end.on_delete == DeletePolicy.KEEP:
        return 0
    messages = list(
        Message.objects.select_related("folder").filter(
            pk__in=end.deleted, folder_id=end.folder_id, account=account
        )
    )
    if not messages:
        return 0
    if end.on_delete == DeletePolicy.READ:
        actions.do_set_flags(acting_account=account, messages=messages, add=["seen"])
    elif action is DeleteAction.EXPUNGE:
        actions.do_expunge(acting_account=account, messages=messages)
    else:
        actions.do_delete_messages(acting_account=account, messages=messages)
    return len(messages)


def do_fix_uidls(account: Account, fresh: dict[str, str]) -> None:
    """Store the UIDLs (Maildir key → value) of messages offered for the first time, and
    forget those of messages gone from the account (expunged by any client; a message that
    only left INBOX keeps its row, to have it again when it comes back).

    Committed asynchronously on PostgreSQL: a row a database crash forgets is computed
    again from the same INBOX UID at the next login, so the value only changes if the
    message also moved out and back meanwhile (then it is offered once more)."""
    from django.db.models import Exists, OuterRef

    from mailcore.store.models import Message

    with transaction.atomic():
        async_commit()
        Uidl.objects.bulk_create(
            [Uidl(account=account, maildir_key=k, uidl=v) for k, v in fresh.items()],
            batch_size=1000,
            ignore_conflicts=True,
        )
        alive = Message.objects.filter(account=account, maildir_key=OuterRef("maildir_key"))
        Uidl.objects.filter(account=account).exclude(Exists(alive)).delete()


def async_commit() -> None:
    """PostgreSQL, in the outermost transaction: its commit does not wait for the WAL flush."""
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
