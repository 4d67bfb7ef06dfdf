"""Read-only compose queries: uploads and drafts by id (NotFoundError for anyone else's), the
delivery state of a sent message, and a stored draft read back into compose fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailcore.delivery.models import QueueRecipient, RecipientState
from mailcore.directory.models import Account
from mailcore.directory.queries import account_owns_address
from mailcore.errors import NotFoundError
from mailcore.mime import parse_message, sanitize_html
from mailcore.mime.build import parse_address_header
from mailcore.store.models import Message, SpecialUse
from mailcore.store.queries import access_message, read_message_bytes
from webmail.compose.models import Upload

# Headers a draft carries so it can be reopened as what it was (never present in sent mail).
MODE_HEADER = "X-Mailroom-Compose-Mode"
ORIGINAL_HEADER = "X-Mailroom-Original-Id"


def access_uploads(account: Account, upload_ids: list[int]) -> list[Upload]:
    """All of `upload_ids` in the order given, or NotFoundError if any is not the account's."""
    ids = list(dict.fromkeys(upload_ids))
    found = {u.pk: u for u in Upload.objects.filter(account=account, pk__in=ids)}
    if len(found) != len(ids):
        raise NotFoundError("upload not found")
    return [found[i] for i in ids]


def access_upload(account: Account, upload_id: int) -> Upload:
    return access_uploads(account, [upload_id])[0]


def access_draft(account: Account, message_id: int) -> Message:
    """A message of the account's Drafts folder; anything else is 'not found'."""
    message = access_message(account, message_id)
    if message.folder.special_use != SpecialUse.DRAFTS:
        raise NotFoundError("draft not found")
    return message


@dataclass(frozen=True, slots=True)
class RecipientDelivery:
    address: str
    state: str  # queued | delivered | deferred | bounced
    last_reply: str
    updated_at: datetime


_STATES: dict[str, str] = {RecipientState.PENDING: "queued"}


def get_delivery_report(account: Account, message_id: int) -> list[RecipientDelivery]:
    """Per envelope recipient of a message the account sent (API or SMTP submission): where
    it is. Empty for any other message of the account."""
    message = access_message(account, message_id)
    rows = QueueRecipient.objects.filter(entry__sent_copy=message).order_by("pk")
    return [
        RecipientDelivery(
            address=r.address,
            state=_STATES.get(r.state, r.state),
            last_reply=r.last_reply,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class DraftAttachment:
    index: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class DraftFields:
    id: int
    from_address: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: list[str]
    subject: str
    text: str
    html: str | None
    priority: str
    mode: str
    in_reply_to_message: int | None
    draft_attachments: list[DraftAttachment]
    request_receipt: bool = False


def _format(name: str, addr: str) -> str:
    if not name:
        return addr
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{addr}>'


def read_draft(account: Account, message_id: int) -> DraftFields:
    """The compose fields of a stored draft, so an editor can reopen it. The HTML goes through
    the sanitizer like any stored mail: the Drafts folder is writable over IMAP too."""
    message = access_draft(account, message_id)
    parsed = parse_message(read_message_bytes(message))
    headers = {name.lower(): value for name, value in reversed(parsed.headers())}
    priority = {"1": "high", "2": "high", "4": "low", "5": "low"}.get(
        headers.get("x-priority", "3").strip()[:1], "normal"
    )
    mode = headers.get(MODE_HEADER.lower(), "new").strip()
    original_raw = headers.get(ORIGINAL_HEADER.lower(), "").strip()
    original: int | None = int(original_raw) if original_raw.isdigit() else None
    if original is not None and not Message.objects.filter(pk=original, account=account).exists():
        original = None  # the original was deleted since: reopen as a new message
    written_from = parsed.from_[0].addr if parsed.from_ else ""
    return DraftFields(
        id=message.pk,
        # IMAP clients write Drafts too: a From the account may not send as is not kept.
        from_address=written_from
        if written_from and account_owns_address(account, written_from)
        else account.address,
        to=[_format(a.name, a.addr) for a in parsed.to],
        cc=[_format(a.name, a.addr) for a in parsed.cc],
        bcc=[_format(n, a) for n, a in parse_address_header(headers.get("bcc", ""))],
        reply_to=[_format(a.name, a.addr) for a in parsed.reply_to],
        subject=parsed.subject,
        text=parsed.text,
        html=sanitize_html(parsed.html).html if parsed.html else None,
        priority=priority,
        mode=mode if mode in {"new", "reply", "reply_all", "forward"} else "new",
        in_reply_to_message=original if mode != "new" else None,
        draft_attachments=[
            DraftAttachment(a.index, a.filename, a.content_type, a.size) for a in parsed.attachments
        ],
        request_receipt="disposition-notification-to" in headers,
    )
