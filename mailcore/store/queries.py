"""Read-only access to folders and messages. `access_*` is the one permission check: it answers
NotFoundError for anything the account cannot see, whoever asks (API, IMAP, POP3)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from mailcore.directory.models import Account
from mailcore.errors import NotFoundError
from mailcore.store.maildir import Maildir
from mailcore.store.models import Folder, Message


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


def list_messages(folder: Folder, *, before_uid: int | None, limit: int) -> QuerySet[Message]:
    """Newest first (arrival order = UID order), keyset-paginated: any page costs the same."""
    qs = Message.objects.filter(folder=folder)
    if before_uid is not None:
        qs = qs.filter(uid__lt=before_uid)
    return qs.order_by("-uid")[:limit]


def read_message_bytes(message: Message) -> bytes:
    """The stored bytes of `message` (raises StorageError if the file has gone)."""
    return maildir_for(message.account).read(
        message.folder.path, message.maildir_key, in_cur=message.in_cur, info=message.info
    )
