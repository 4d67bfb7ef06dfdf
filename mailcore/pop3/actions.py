"""Changes to the POP3 per-account state: the user's (or an admin's) policy, and the end of a
session (UPDATE state), which changes the mail only through mailcore.store.actions."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.db import transaction

from mailcore.directory.models import Account
from mailcore.errors import UserError
from mailcore.pop3.models import DeletePolicy, Download, Pop3Settings


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
    uidvalidity: int
    deleted: list[int]  # Message pks the client deleted
    taken: list[int]  # UIDs the client retrieved or deleted (downloaded)


def do_end_session(account: Account, end: SessionEnd, action: DeleteAction) -> int:
    """UPDATE state (RFC 1939 §6): apply the account's policy to the messages the client
    deleted that are still in INBOX (one moved or expunged meanwhile by another client is
    left alone), and note what was downloaded. Returns how many messages were acted on."""
    from mailcore.store import actions
    from mailcore.store.models import Message

    policy = get_pop3_settings(account)
    _note_downloads(account, end)
    if not end.deleted or policy.on_delete == DeletePolicy.KEEP:
        return 0
    messages = list(
        Message.objects.select_related("folder").filter(
            pk__in=end.deleted, folder_id=end.folder_id, account=account
        )
    )
    if not messages:
        return 0
    if policy.on_delete == DeletePolicy.READ:
        actions.do_set_flags(acting_account=account, messages=messages, add=["seen"])
    elif action is DeleteAction.EXPUNGE:
        actions.do_expunge(acting_account=account, messages=messages)
    else:
        actions.do_delete_messages(acting_account=account, messages=messages)
    return len(messages)


def _note_downloads(account: Account, end: SessionEnd) -> None:
    from mailcore.store.models import Message

    with transaction.atomic():
        if end.taken:
            Download.objects.bulk_create(
                [Download(account=account, uidvalidity=end.uidvalidity, uid=u) for u in end.taken],
                ignore_conflicts=True,
            )
        # Forget what left INBOX (bounded table; a message moved back gets a new UID anyway).
        in_inbox = Message.objects.filter(folder_id=end.folder_id).values("uid")
        stale = Download.objects.filter(account=account).exclude(
            uidvalidity=end.uidvalidity, uid__in=in_inbox
        )
        stale.delete()


def downloaded_uids(account: Account, uidvalidity: int) -> set[int]:
    return set(
        Download.objects.filter(account=account, uidvalidity=uidvalidity).values_list(
            "uid", flat=True
        )
    )
