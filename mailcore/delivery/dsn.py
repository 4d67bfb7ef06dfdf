"""Delivery status notifications (RFC 3464 inside RFC 6522 multipart/report): the bounce, the
delay notice and the success notice (RFC 3461 NOTIFY=SUCCESS) sent to an envelope sender.
Pure construction over bytes; queueing the notice is the caller's job
(mailcore.delivery.outbound)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

from mailcore.delivery.dsnparams import field_value
from mailcore.mime.headers import find_header_block

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    address: str
    # RFC 3464 §2.3.3: "failed" | "delayed" | "delivered" | "relayed" | "expanded"
    action: str
    status: str  # "5.1.1"
    diagnostic: str = ""  # the remote reply ("550 5.1.1 no such user") or our own text
    remote_mta: str = ""  # the server that answered: "host" or "host[ip]"
    orcpt: str = ""  # the client's ORCPT, "addr-type;address" (RFC 3461 §4.2)


FAILED, DELAYED = "failed", "delayed"
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})
# RET=FULL returns the whole message up to this size, else its headers (and says so);
# Postfix's bounce_size_limit is 50 000 bytes, we are more generous.
RETURN_FULL_MAX_BYTES = 1024 * 1024
_SMTP_REPLY = re.compile(r"^[2-5]\d\d[ -]")


def status_of(reply: str, *, permanent: bool) -> str:
    """The enhanced status code (RFC 3463) in `reply`, else a generic one of the right class."""
    match = _STATUS.search(reply)
    if match and match.group(1) == ("5" if permanent else "4"):
        return match.group(0)
    return "5.0.0" if permanent else "4.0.0"


def _clean(text: str, limit: int = 900) -> str:
    """One line, no controls: remote replies end up in header-like fields of the report."""
    return _CONTROL.sub(" ", text).strip()[:limit]


def _addr_field(address: str) -> str:
    # RFC 6533 §3: utf-8 address type for internationalized addresses.
    return f"rfc822; {address}" if address.isascii() else f"utf-8; {address}"


def original_headers(data: bytes) -> bytes:
    """The header block of the original message with CRLF line ends, capped at
    MAX_HEADER_BYTES (a longer block is cut there)."""
    head = data[: find_header_block(data).end]
    head = re.sub(rb"\r\n|\r|\n", b"\r\n", head)
    return head.rstrip(b"\r\n") + b"\r\n"


def _remote_host(remote_mta: str) -> str:
    """RFC 3464 §2.3.5: Remote-MTA is "dns; host.name"; the [ip] goes in the text only."""
    return remote_mta.partition("[")[0]


def _diagnostic_code(r: DsnRecipient) -> str:
    """RFC 3464 §2.3.6: "smtp; <the reply>" for what a server said, else our own
    diagnostic type with the real status and text."""
    text = _clean(r.diagnostic)
    if _SMTP_REPLY.match(text):
        return f"smtp; {text}"
    if not text.startswith(r.status):
        text = f"{r.status} {text}".strip()
    return f"X-Mailroom; {text}"


def _line(r: DsnRecipient) -> str:
    """The recipient's line in the human-readable part (Postfix style)."""
    what = _clean(r.diagnostic) or r.status
    if r.action == "relayed":
        return (
            f"<{r.address}>: relayed to {_clean(r.remote_mta, 255)}, which does not send "
            f"delivery notifications: {what}"
        )
    if r.action == "delivered":
        return f"<{r.address}>: delivered to the mailbox"
    if r.action == "expanded":
        return f"<{r.address}>: delivered and forwarded to further recipients"
    if r.remote_mta:
        return f"<{r.address}>: host {_clean(r.remote_mta, 255)} said: {what}"
    return f"<{r.address}>: {what}"


def build_dsn(
    *,
    original: bytes,
    envelope_sender: str,
    queue_id: str,
    arrival: datetime,
    reporting_mta: str,
    recipients: Sequence[DsnRecipient],
    retry_until: datetime | None = None,
    envid: str = "",
    ret: str = "",
) -> bytes:
    """A complete DSN message (CRLF line ends): a delay notice when every recipient has action
    "delayed" (it says until when we keep trying), a success notice when every one was
    delivered, relayed or expanded, else a failure notice. `envid` and `ret` are the sender's
    ENVID and RET (RFC 3461 §4.3, §4.4): RET=FULL returns the whole message with a failure
    notice (up to RETURN_FULL_MAX_BYTES); everything else returns the headers. The text
    says which of the two is attached."""
    delayed = all(r.action == DELAYED for r in recipients)
    success = all(r.action in SUCCESS_ACTIONS for r in recipients)
    boundary = f"=_mailroom_{secrets.token_hex(12)}"
    now = datetime.now(arrival.tzinfo)
    postmaster = f"MAILER-DAEMON@{reporting_mta}"

    block = find_header_block(original)
    full = not delayed and not success and ret == "FULL"
    too_large = full and len(original) > RETURN_FULL_MAX_BYTES
    full = full and not too_large
    if full:
        attached = "Your message is attached below."
    elif too_large:
        attached = (
            f"Your message is too large to return in full ({len(original)} bytes); its "
            "headers are attached below."
        )
    elif block.truncated:
        attached = (
            f"The first {block.end // 1024} KB of your message's headers (the rest is cut) "
            "are attached below."
        )
    else:
        attached = "The headers of your message are attached below."

    if delayed:
        subject = "Delayed Mail (still being retried)"
        intro = (
            f"This is the mail system at host {reporting_mta}.\r\n\r\n"
            "Your message could not be delivered yet to the recipients below. It is still "
            "in the queue\r\nand will be retried; you do not need to send it again."
            + (
                f"\r\nDelivery will be given up at {format_datetime(retry_until)}."
                if retry_until
                else ""
            )
            + "\r\n"
        )
    elif success:
        subject = "Successful Mail Delivery Report"
        intro = (
            f"This is the mail system at host {reporting_mta}.\r\n\r\n"
            "Your message was successfully delivered to the destination(s) listed below.\r\n"
            "If it was delivered to a mailbox you will receive no further notifications;\r\n"
            "otherwise you may still receive notifications of delivery errors from other "
            "systems.\r\n"
        )
    else:
        subject = "Undelivered Mail Returned to Sender"
        intro = (
            f"This is the mail system at host {reporting_mta}.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered "
            "to one or more\r\nrecipients.\r\n"
        )
    lines = [_line(r) for r in recipients]
    text = intro + "\r\n" + "\r\n".join(lines) + "\r\n\r\n" + attached + "\r\n"

    # RFC 3464 §2.2: Original-Envelope-Id, Reporting-MTA, Arrival-Date, then extensions.
    per_message = [f"Reporting-MTA: dns; {reporting_mta}"]
    if envid:
        per_message.insert(0, f"Original-Envelope-Id: {_clean(envid, 100)}")
    per_message += [
        f"Arrival-Date: {format_datetime(arrival)}",
        f"X-Mailroom-Queue-ID: {queue_id}",
    ]
    blocks = ["\r\n".join(per_message)]
    for r in recipients:
        fields = []
        if r.orcpt:
            fields.append(f"Original-Recipient: {_clean(field_value(r.orcpt), 500)}")
        fields += [
            f"Final-Recipient: {_addr_field(r.address)}",
            f"Action: {r.action}",
            f"Status: {r.status}",
        ]
        if r.remote_mta and _remote_host(r.remote_mta):
            fields.append(f"Remote-MTA: dns; {_clean(_remote_host(r.remote_mta), 255)}")
        if r.diagnostic and (r.action not in SUCCESS_ACTIONS or r.action == "relayed"):
            fields.append(f"Diagnostic-Code: {_diagnostic_code(r)}")
        fields.append(f"Last-Attempt-Date: {format_datetime(now)}")
        if r.action == DELAYED and retry_until:
            fields.append(f"Will-Retry-Until: {format_datetime(retry_until)}")
        blocks.append("\r\n".join(fields))
    status_body = "\r\n\r\n".join(blocks) + "\r\n"

    headers = [
        f"From: Mail Delivery System <{postmaster}>",
        f"To: {envelope_sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(now)}",
        f"Message-ID: {make_msgid(domain=reporting_mta)}",
        # RFC 3834 §5: a DSN is auto-replied; autoresponders and our own relay never answer it.
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
    ]
    utf8 = not (text.isascii() and status_body.isascii())
    charset = "utf-8" if utf8 else "us-ascii"
    out = "\r\n".join(headers) + "\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
    out += (
        f"--{boundary}\r\nContent-Description: Notification\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n"
        f"Content-Transfer-Encoding: {'8bit' if utf8 else '7bit'}\r\n\r\n{text}\r\n"
    )
    # RFC 6533 §6: message/global-delivery-status when the fields need UTF-8.
    ds_type = (
        "message/global-delivery-status" if not status_body.isascii() else "message/delivery-status"
    )
    out += (
        f"--{boundary}\r\nContent-Description: Delivery report\r\n"
        f"Content-Type: {ds_type}\r\n\r\n{status_body}\r\n"
    )
    head = original_headers(original)
    described = (
        "Undelivered Message"
        if not delayed and not success
        else ("Delayed Message" if delayed else "Delivered Message")
    )
    if full:
        message = re.sub(rb"\r\n|\r|\n", b"\r\n", original)
        message = message if message.endswith(b"\r\n") else message + b"\r\n"
        # RFC 6522 §3 / RFC 6532 §3.7: message/rfc822, message/global for UTF-8 headers.
        part_type = "message/rfc822" if head.isascii() else "message/global"
        part_head = (
            f"Content-Description: {described}\r\nContent-Type: {part_type}\r\n"
            f"Content-Transfer-Encoding: {'7bit' if message.isascii() else '8bit'}\r\n\r\n"
        )
        return (
            out.encode("utf-8")
            + f"--{boundary}\r\n{part_head}".encode("ascii")
            + message
            + f"\r\n--{boundary}--\r\n".encode("ascii")
        )
    hdr_type = "text/rfc822-headers" if head.isascii() else "message/global-headers"
    return (
        out.encode("utf-8")
        + (
            f"--{boundary}\r\nContent-Description: {described} Headers\r\n"
            f"Content-Type: {hdr_type}\r\n\r\n"
        ).encode("ascii")
        + head
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
