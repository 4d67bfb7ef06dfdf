"""Read receipts a Mailroom user is asked for (RFC 8098 Disposition-Notification-To): whether
a message asks, what the user answered (once: send / decline / always for this sender), and
the MDN itself. Nothing is ever sent without the user's answer (RFC 8098 §2.1: MDNs are
sent only with the recipient's consent); "always" is that answer, given once per sender."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mailcore.addresses import canonical_address
from mailcore.delivery.submit import do_submit
from mailcore.directory.models import Account
from mailcore.errors import ConflictError, InvalidAddressError, UserError
from mailcore.mime import get_header
from mailcore.outbox.models import ReceiptChoice, ReceiptDecision, ReceiptSender
from mailcore.store.models import Message, Source, SpecialUse
from mailcore.store.queries import read_message_bytes

ASKING_FOLDERS = (SpecialUse.INBOX, SpecialUse.NONE, SpecialUse.JUNK)


@dataclass(frozen=True, slots=True)
class ReceiptRequest:
    requested: bool
    notify: str  # the address the receipt would go to ('' = none asked)
    decision: str  # '' (not answered) | sent | declined
    always: bool  # the user said "always" for this sender: the client sends without asking


def _notify_address(message: Message) -> str:
    if message.folder.special_use not in ASKING_FOLDERS:
        return ""  # own Sent copies, drafts, trash: nobody asks the user there
    raw = get_header(read_message_bytes(message)[:65536], "disposition-notification-to")
    if not raw:
        return ""
    _, address = parseaddr(raw.decode("utf-8", "replace"))
    try:
        return canonical_address(address)
    except InvalidAddressError:
        return ""


def get_receipt_request(account: Account, message: Message) -> ReceiptRequest:
    notify = _notify_address(message)
    if not notify:
        return ReceiptRequest(False, "", "", False)
    decision = ReceiptDecision.objects.filter(message=message).first()
    always = ReceiptSender.objects.filter(account=account, address=notify).exists()
    return ReceiptRequest(True, notify, decision.choice if decision else "", always)


def build_mdn(account: Account, message: Message, notify: str) -> bytes:
    """RFC 8098 §3: multipart/report; report-type=disposition-notification, with a human part
    and the machine-readable fields (written out by hand: the stdlib would base64 them)."""
    human = EmailMessage()
    human.set_content(
        f"{account.address} 님이 메일을 읽었습니다. / {account.address} has displayed the "
        f'message "{message.subject}".\n',
        cte="base64",
    )
    boundary = "=_mdn_" + secrets.token_hex(12)
    # The original's id came from outside: printable ASCII only, no <> (no header injection).
    original_id = re.sub(r"[^\x21-\x3b\x3d\x3f-\x7e]", "", message.message_id)[:900]
    fields = (
        f"Reporting-UA: {settings.MAIL_HOSTNAME}; Mailroom\r\n"
        f"Final-Recipient: rfc822;{account.address}\r\n"
        + (f"Original-Message-ID: <{original_id}>\r\n" if original_id else "")
        + "Disposition: manual-action/MDN-sent-manually; displayed\r\n"
    )
    subject = Header(f"읽음 확인: {message.subject}"[:200], "utf-8").encode()
    head = (
        f"From: {account.address}\r\nTo: {notify}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(timezone.now())}\r\n"
        f"Message-ID: {make_msgid(domain=settings.MAIL_HOSTNAME)}\r\n"
        + (f"References: <{original_id}>\r\n" if original_id else "")
        + "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=disposition-notification;\r\n"
        f' boundary="{boundary}"\r\n\r\n'
    )
    body = (
        f"--{boundary}\r\n"
        + human.as_string(policy=human.policy.clone(linesep="\r\n"))
        + f"\r\n--{boundary}\r\n"
        "Content-Type: message/disposition-notification\r\n\r\n"
        + fields
        + f"\r\n--{boundary}--\r\n"
    )
    return (head + body).encode("utf-8")


def do_answer_receipt(*, acting_account: Account, message: Message, choice: str) -> str:
    """Record the user's one answer and send the MDN if it is send/always; returns the
    decision stored. ConflictError('receipt_answered') on a second answer."""
    if choice not in ("send", "decline", "always"):
        raise UserError("choice must be send, decline or always")
    asked = get_receipt_request(acting_account, message)
    if not asked.requested:
        raise ConflictError("this message asks for no read receipt", code="no_receipt_asked")
    stored = ReceiptChoice.DECLINED if choice == "decline" else ReceiptChoice.SENT
    try:
        with transaction.atomic():
            ReceiptDecision.objects.create(
                message=message, choice=stored, decided_at=timezone.now()
            )
            if choice == "always":
                ReceiptSender.objects.get_or_create(account=acting_account, address=asked.notify)
    except IntegrityError as exc:
        raise ConflictError("answered already", code="receipt_answered") from exc
    if stored == ReceiptChoice.SENT:
        do_submit(
            acting_account=acting_account,
            envelope_sender=acting_account.address,
            recipients=[asked.notify],
            data=build_mdn(acting_account, message, asked.notify),
            source=Source.API,
            save_copy=False,
        )
    return stored
