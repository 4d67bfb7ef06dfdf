"""Delivery status notifications (RFC 3464 inside RFC 6522 multipart/report): the bounce and
the delay notice sent to an envelope sender. Pure construction over bytes; queueing the
notice is the caller's job (mailcore.delivery.relay)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid

from mailcore.mime.headers import find_header_block

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    address: str
    action: str  # "failed" | "delayed" (RFC 3464 §2.3.3)
    status: str  # "5.1.1"
    diagnostic: str = ""  # the remote reply, e.g. "550 5.1.1 no such user"
    remote_mta: str = ""  # host name of the server that answered


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


def build_dsn(
    *,
    original: bytes,
    envelope_sender: str,
    queue_id: str,
    arrival: datetime,
    reporting_mta: str,
    recipients: Sequence[DsnRecipient],
    retry_until: datetime | None = None,
) -> bytes:
    """A complete DSN message (CRLF line ends). Delay notices are those whose recipients all
    have action "delayed"; they say until when we keep trying."""
    delayed = all(r.action == "delayed" for r in recipients)
    boundary = f"=_mailroom_{secrets.token_hex(12)}"
    now = datetime.now(arrival.tzinfo)
    postmaster = f"MAILER-DAEMON@{reporting_mta}"
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
    else:
        subject = "Undelivered Mail Returned to Sender"
        intro = (
            f"This is the mail system at host {reporting_mta}.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not be delivered "
            "to one or more\r\nrecipients. It's attached below.\r\n"
        )
    lines = [f"<{r.address}>: {_clean(r.diagnostic) or r.status}" for r in recipients]
    text = intro + "\r\n" + "\r\n".join(lines) + "\r\n"

    per_message = [
        f"Reporting-MTA: dns; {reporting_mta}",
        f"X-Mailroom-Queue-ID: {queue_id}",
        f"Arrival-Date: {format_datetime(arrival)}",
    ]
    blocks = ["\r\n".join(per_message)]
    for r in recipients:
        fields = [
            f"Final-Recipient: {_addr_field(r.address)}",
            f"Action: {r.action}",
            f"Status: {r.status}",
        ]
        if r.remote_mta:
            fields.append(f"Remote-MTA: dns; {_clean(r.remote_mta, 255)}")
        if r.diagnostic:
            fields.append(f"Diagnostic-Code: smtp; {_clean(r.diagnostic)}")
        fields.append(f"Last-Attempt-Date: {format_datetime(now)}")
        if r.action == "delayed" and retry_until:
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
    hdr_type = "text/rfc822-headers" if head.isascii() else "message/global-headers"
    return (
        out.encode("utf-8")
        + (
            f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
            f"Content-Type: {hdr_type}\r\n\r\n"
        ).encode("ascii")
        + head
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
