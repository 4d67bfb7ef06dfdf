"""Compose actions: store and drop uploads, send (via mailcore.delivery.submit.do_submit),
write to myself, save and replace drafts. Views call exactly one of these.

Each resolves every id through an access_* query first (another user's id is NotFoundError
before anything is built) and builds the bytes with mailcore.mime.build.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from mailcore.delivery.submit import Submission, do_submit
from mailcore.directory.models import Account
from mailcore.directory.queries import account_owns_address
from mailcore.errors import (
    InvalidMessageError,
    MailcoreError,
    MessageTooLargeError,
    NotFoundError,
    OverQuotaError,
    UserError,
)
from mailcore.mime import ParsedMessage, get_attachment, parse_message, sanitize_html
from mailcore.mime.build import (
    BuiltMessage,
    ComposeRequest,
    Mode,
    OutgoingAttachment,
    Priority,
    Recipient,
    build_message,
    forward_subject,
    forward_text,
    html_to_text,
    make_recipient,
    quote_html,
    quote_text,
    reply_recipients,
    reply_subject,
    threading,
)
from mailcore.outbox.actions import check_send_at, record_submission, undo_seconds
from mailcore.outbox.largefiles import (
    LinkedFile,
    attach_links,
    link_block_html,
    link_block_text,
    prepare_links,
)
from mailcore.outbox.models import OutboxItem
from mailcore.outbox.queries import tracked_queue_id
from mailcore.store.actions import do_append, do_expunge, do_set_flags
from mailcore.store.models import Message, Source, SpecialUse
from mailcore.store.queries import access_message, get_folder_by_special_use, read_message_bytes
from mailcore.store.quota import check_room
from webmail.compose import storage
from webmail.compose.models import Upload
from webmail.compose.queries import MODE_HEADER, ORIGINAL_HEADER, access_draft, access_uploads

log = logging.getLogger("mailroom")

UPLOAD_MAX_AGE = timedelta(days=1)
FORWARDED_KEYWORD = "$Forwarded"  # RFC 5788 keyword registry


class UploadTooLargeError(UserError):
    code = "upload_too_large"


class AttachmentsTooLargeError(MessageTooLargeError):
    """The attachments of a message add up to more than fits in it after base64
    (COMPOSE_MAX_ATTACHMENTS_BYTES), whatever the body."""

    code = "attachments_too_large"

    def __init__(self, *, total: int, limit: int) -> None:
        UserError.__init__(
            self,
            f"The attachments add up to {total / 1048576:.1f} MiB; at most "
            f"{limit / 1048576:.1f} MiB of attachments fit in one message. Remove some.",
        )
        self.size, self.limit = total, limit


@dataclass(frozen=True, slots=True)
class ComposeLimits:
    """What the compose screen shows before a file is picked (all in bytes)."""

    max_upload_bytes: int  # one file
    max_attachments_bytes: int  # all attachments of one message, decoded
    max_message_bytes: int  # the whole message after MIME encoding


def compose_limits() -> ComposeLimits:
    return ComposeLimits(
        max_upload_bytes=settings.COMPOSE_MAX_UPLOAD_BYTES,
        max_attachments_bytes=settings.COMPOSE_MAX_ATTACHMENTS_BYTES,
        max_message_bytes=settings.COMPOSE_MAX_MESSAGE_BYTES,
    )


# --- uploads ----------------------------------------------------------------------------------


def do_create_upload(
    *, acting_account: Account, filename: str, content_type: str, chunks: Iterable[bytes]
) -> Upload:
    """Store an attachment for a later send or draft. The file is fsynced before its row is
    committed and removed again if the row is not. Raises UploadTooLargeError past the
    per-file limit or the account's pending-upload quota."""
    limit = settings.COMPOSE_MAX_UPLOAD_BYTES
    pending = Upload.objects.filter(account=acting_account).aggregate(s=Sum("size"))["s"] or 0
    room = min(limit, settings.COMPOSE_UPLOAD_QUOTA_BYTES - pending)
    try:
        stored = storage.write(chunks, max_bytes=max(room, 0))
    except ValueError as exc:
        if room < limit:
            raise UploadTooLargeError(
                "Your pending uploads use the upload quota; send or delete some first, "
                "or wait a day for unused uploads to be removed."
            ) from exc
        raise UploadTooLargeError(
            f"The file is larger than the {limit / 1048576:.1f} MiB upload limit."
        ) from exc
    try:
        # The attachment will take room in the Sent folder: a full mailbox refuses it (Gmail).
        check_room(acting_account, pending + stored.size)
    except OverQuotaError:
        storage.remove(stored.name)
        raise
    try:
        with transaction.atomic():
            upload = Upload.objects.create(
                account=acting_account,
                filename=filename[:255],
                content_type=content_type[:255],
                size=stored.size,
                sha256=stored.sha256,
                storage_name=stored.name,
            )
    except BaseException:
        storage.remove(stored.name)
        raise
    return upload


def do_delete_upload(*, acting_account: Account, upload: Upload) -> None:
    if upload.account_id != acting_account.pk:
        raise NotFoundError("upload not found")
    upload.delete()
    storage.remove(upload.storage_name)


def cleanup_uploads(*, max_age: timedelta = UPLOAD_MAX_AGE) -> int:
    """Remove uploads older than `max_age` (rows, then files) and files no row claims.
    Safe to run from any periodic job; returns the number of files removed."""
    cutoff = timezone.now() - max_age
    old = list(Upload.objects.filter(created_at__lt=cutoff).values_list("pk", "storage_name"))
    Upload.objects.filter(pk__in=[pk for pk, _ in old]).delete()
    removed = 0
    for _, name in old:
        storage.remove(name)
        removed += 1
    for name in storage.iter_older_than(max_age.total_seconds()):
        if not Upload.objects.filter(storage_name=name).exists():
            storage.remove(name)  # tmp debris of a crash, or a file whose row never committed
            removed += 1
    return removed


# --- composing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComposeInput:
    """Validated compose fields. None means "not given": for replies and forwards the
    subject and recipients are then derived from the original."""

    from_address: str | None = None  # None: the account's own address
    to: tuple[Recipient, ...] | None = None
    cc: tuple[Recipient, ...] | None = None
    bcc: tuple[Recipient, ...] = ()
    reply_to: tuple[Recipient, ...] = ()
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    attachments: tuple[int, ...] = ()  # upload ids
    draft_attachments: tuple[int, ...] | None = None  # part indexes of the draft; None = all
    forward_attachments: tuple[int, ...] | None = None  # part indexes; None = all (forward)
    priority: Priority = "normal"
    mode: Mode = "new"
    in_reply_to_message: int | None = None
    quote: bool = False
    draft_id: int | None = None
    to_me: bool = False
    send_at: datetime | None = None  # 예약발송: the entries wait until then
    undo: bool = False  # hold for the account's undo window (the webmail asks for it)
    request_receipt: bool = False  # Disposition-Notification-To: the sender (RFC 8098)
    large_files: tuple[str, ...] = ()  # 대용량 첨부: upload ids of READY large files (send only)
    link_base: str = ""  # where the links point: this site's origin, e.g. https://mail.example/


@dataclass(slots=True)
class _Prepared:
    request: ComposeRequest
    original: Message | None
    draft: Message | None
    extra: dict[str, str] = field(default_factory=dict)
    links: list[LinkedFile] = field(default_factory=list)


def sender_of(account: Account, address: str | None = None) -> Recipient:
    """The From of a message the account writes: its own address, or one it may send as (an
    alias that delivers to it, as SMTP submission allows; Gmail's "send mail as")."""
    if address is None or address.strip().lower() == account.address:
        return make_recipient(account.display_name, account.address, "from_address")
    if not account_owns_address(account, address):
        raise InvalidMessageError(f"{address!r} is not one of your addresses", field="from_address")
    return make_recipient(account.display_name, address.strip(), "from_address")


def _parts(
    raw: bytes, parsed: ParsedMessage, wanted: tuple[int, ...] | None, field_name: str
) -> list[OutgoingAttachment]:
    known = {a.index for a in parsed.attachments}
    indexes = [a.index for a in parsed.attachments] if wanted is None else list(wanted)
    out: list[OutgoingAttachment] = []
    for index in indexes:
        found = get_attachment(raw, index) if index in known else None
        if found is None:
            raise InvalidMessageError(f"there is no attachment {index}", field=field_name)
        part, data = found
        out.append(OutgoingAttachment(part.filename, part.content_type, data))
    return out


def _prepare(account: Account, form: ComposeInput, *, for_draft: bool) -> _Prepared:
    # Every id first: a foreign one is a 404 before any work (security.md W9).
    original = (
        access_message(account, form.in_reply_to_message)
        if form.in_reply_to_message is not None
        else None
    )
    if form.mode != "new" and original is None:
        raise InvalidMessageError(
            f"mode {form.mode} needs in_reply_to_message", field="in_reply_to_message"
        )
    draft = access_draft(account, form.draft_id) if form.draft_id is not None else None
    uploads = access_uploads(account, list(form.attachments))

    attachments: list[OutgoingAttachment] = []
    if draft is not None:
        raw = read_message_bytes(draft)
        attachments += _parts(raw, parse_message(raw), form.draft_attachments, "draft_attachments")
    for upload in uploads:
        data = storage.read(upload.storage_name, size=upload.size, sha256=upload.sha256)
        attachments.append(OutgoingAttachment(upload.filename, upload.content_type, data))

    to, cc = form.to, form.cc
    subject, text, html = form.subject, form.text, form.html
    in_reply_to, references = "", tuple[str, ...]()
    if original is not None and form.mode != "new":
        raw = read_message_bytes(original)
        parsed = parse_message(raw)
        in_reply_to, references = threading(parsed)
        if form.mode == "forward":
            in_reply_to = ""  # a forward is not an answer; References keeps the thread
            if subject is None:
                subject = forward_subject(parsed.subject)
            if form.quote:
                text = (text or "") + "\n\n" + forward_text(parsed)
            # A reopened draft of a forward carries the attachments already.
            if draft is None or form.forward_attachments is not None:
                attachments += _parts(raw, parsed, form.forward_attachments, "forward_attachments")
        else:
            if subject is None:
                subject = reply_subject(parsed.subject)
            if to is None and cc is None:
                derived_to, derived_cc = reply_recipients(
                    parsed,
                    reply_all=form.mode == "reply_all",
                    is_own=lambda address: account_owns_address(account, address),
                )
                to, cc = tuple(derived_to), tuple(derived_cc)
            if form.quote:
                text = (text or "") + "\n\n" + quote_text(parsed)
                if html is not None:
                    safe = sanitize_html(parsed.html).html if parsed.html else None
                    html += quote_html(parsed, safe)

    _check_attachments(attachments)  # draft parts, uploads and forwarded parts together
    # 대용량 첨부: the message carries a link block (text and HTML), not the bytes.
    # A scheduled message's links last LARGE_FILE_DAYS from its time, not from today.
    links = (
        []
        if for_draft
        else prepare_links(account, form.large_files, link_base=form.link_base, now=form.send_at)
    )
    if links:
        if not text and html:
            text = html_to_text(html)  # what the builder would derive, before the block joins
        text = (text or "") + "\n" + link_block_text(links)
        if html is not None:
            html += link_block_html(links)
    me = sender_of(account, form.from_address)
    if form.to_me:
        to, cc = (me,), ()
    extra: dict[str, str] = {}
    if for_draft and form.mode != "new" and original is not None:
        extra = {MODE_HEADER: form.mode, ORIGINAL_HEADER: str(original.pk)}
    request = ComposeRequest(
        sender=me,
        to=to or (),
        cc=cc or (),
        bcc=() if form.to_me else form.bcc,
        reply_to=form.reply_to,
        subject=subject or "",
        text=text,
        html=html,
        attachments=tuple(attachments),
        priority=form.priority,
        in_reply_to=in_reply_to,
        references=references,
        extra_headers=tuple(extra.items()),
        date=form.send_at if not for_draft else None,
        request_receipt=form.request_receipt and not form.to_me,
    )
    return _Prepared(request, original, draft, extra, links)


def _check_attachments(attachments: list[OutgoingAttachment]) -> None:
    """Refuse attachments that cannot fit before building (and base64-encoding) them."""
    total = sum(len(a.data) for a in attachments)
    if total > settings.COMPOSE_MAX_ATTACHMENTS_BYTES:
        raise AttachmentsTooLargeError(total=total, limit=settings.COMPOSE_MAX_ATTACHMENTS_BYTES)


def _build(prepared: _Prepared) -> BuiltMessage:
    return build_message(prepared.request, max_bytes=settings.COMPOSE_MAX_MESSAGE_BYTES)


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message  # the Sent copy (or the "To me" message)
    queue_ids: list[str]
    outbox: OutboxItem | None = None  # its outbox item (None for to_me)


def do_send_message(*, acting_account: Account, form: ComposeInput) -> SendResult:
    """Send as the account itself: one Sent copy (Bcc kept), queue entries for local and
    remote recipients (Bcc stripped by do_submit). `to_me` stores the message in the "To me"
    folder only and queues nothing. Afterwards: \\Answered (or $Forwarded) on the original,
    and the draft it came from is removed."""
    prepared = _prepare(acting_account, form, for_draft=False)
    built = _build(prepared)
    if form.to_me:
        # Write to myself: the one copy goes to "To me" and nothing is queued.
        tome = get_folder_by_special_use(acting_account, SpecialUse.TOME)
        submission = do_submit(
            acting_account=acting_account,
            envelope_sender=built.envelope_sender,
            recipients=[],
            data=built.data,
            source=Source.API,
            copy_folder=tome,
            within=lambda sub: attach_links(prepared.links, item=None, sent_copy=sub.sent_message),
        )
        if submission.sent_message is None:
            raise MailcoreError("do_submit stored no copy")
        result = SendResult(submission.sent_message, [])
    else:
        if not built.recipients:
            raise InvalidMessageError("add at least one recipient", field="to")
        now = timezone.now()
        if form.send_at is not None:
            check_send_at(acting_account, form.send_at)
        hold = undo_seconds(acting_account) if form.undo and form.send_at is None else 0
        due = form.send_at or (now + timedelta(seconds=hold) if hold else None)
        items: list[OutboxItem] = []

        def track(submission: Submission) -> None:
            items.append(
                record_submission(
                    submission,
                    acting_account=acting_account,
                    send_at=due or now,
                    scheduled=form.send_at is not None,
                    receipt_requested=form.request_receipt,
                )
            )
            attach_links(prepared.links, item=items[-1], sent_copy=submission.sent_message)

        submission = do_submit(
            acting_account=acting_account,
            envelope_sender=built.envelope_sender,
            recipients=built.recipients,
            data=built.data,
            source=Source.API,
            smtputf8=built.smtputf8,
            due_at=due,
            within=track,
            queue_id=tracked_queue_id(),
        )
        if submission.sent_message is None:
            raise MailcoreError("do_submit stored no Sent copy")
        result = SendResult(
            submission.sent_message, [e.queue_id for e in submission.entries], items[0]
        )
    _after_send(acting_account, form, prepared)
    return result


def _after_send(account: Account, form: ComposeInput, prepared: _Prepared) -> None:
    # The message is out: a failure below is logged, never turned into "not sent".
    try:
        if prepared.original is not None and form.mode in ("reply", "reply_all"):
            do_set_flags(acting_account=account, messages=[prepared.original], add=["answered"])
        elif prepared.original is not None and form.mode == "forward":
            do_set_flags(
                acting_account=account,
                messages=[prepared.original],
                add_keywords=[FORWARDED_KEYWORD],
            )
        if prepared.draft is not None:
            do_expunge(acting_account=account, messages=[prepared.draft])
    except MailcoreError:
        log.exception("after sending for account %s", account.pk)


def do_save_draft(
    *, acting_account: Account, form: ComposeInput, replace: Message | None = None
) -> Message:
    """Store the compose state in Drafts (\\Draft \\Seen). With `replace` (a draft of the
    account), the new version is appended first and the old one expunged after, so an
    autosave that fails half-way never loses the previous version."""
    if replace is not None:
        replace = access_draft(acting_account, replace.pk)
        # The draft being replaced is the source of its own kept attachments.
        form = dataclasses.replace(form, draft_id=replace.pk)
    prepared = _prepare(acting_account, form, for_draft=True)
    built = _build(prepared)
    drafts = get_folder_by_special_use(acting_account, SpecialUse.DRAFTS)
    message = do_append(
        acting_account=acting_account,
        folder=drafts,
        data=built.data,
        source=Source.API,
        flags=["draft", "seen"],
    )
    if replace is not None:
        do_expunge(acting_account=acting_account, messages=[replace])
    return message


def do_delete_draft(*, acting_account: Account, draft: Message) -> None:
    draft = access_draft(acting_account, draft.pk)
    do_expunge(acting_account=acting_account, messages=[draft])
