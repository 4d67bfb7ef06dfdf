"""부재중 자동응답: whether a message gets a vacation reply (RFC 5230 §4, RFC 3834 §2), the
reply itself, and the record of whom was answered. The reply is queued with a null envelope
sender and `Auto-Submitted: auto-replied`, so two accounts on vacation never answer each
other twice."""

from __future__ import annotations

import email.policy
import email.utils
import logging
from datetime import timedelta
from email.message import EmailMessage
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.rules.interpret import VacationRequest
from mailcore.rules.models import VacationReply

log = logging.getLogger("mailroom.rules")

# RFC 5230 §4.6 and Pigeonhole: senders that are programs, never people.
_ROBOT_LOCALS: Final = (
    "mailer-daemon",
    "listserv",
    "majordomo",
    "postmaster",
    "noreply",
    "no-reply",
)
MAX_DAYS: Final = 30


def _value(headers: tuple[tuple[str, str], ...], name: str) -> list[str]:
    return [v.strip() for h, v in headers if h.lower() == name]


def refusal(
    *,
    sender: str,
    headers: tuple[tuple[str, str], ...],
    own: set[str],
) -> str | None:
    """Why no reply may be sent (a short reason for the log), or None when one may.
    `own` holds the account's addresses (lower case)."""
    sender = sender.strip().lower()
    if not sender:
        return "null sender"  # bounces and other auto-replies
    local = sender.rpartition("@")[0]
    if sender in own:
        return "mail from ourselves"
    if local in _ROBOT_LOCALS or local.startswith("owner-") or local.endswith("-request"):
        return "sender is a list or a program"
    if any(v.lower() != "no" for v in _value(headers, "auto-submitted")):
        return "auto-submitted"  # RFC 3834 §2
    if any(v.lower() in ("bulk", "list", "junk") for v in _value(headers, "precedence")):
        return "precedence bulk/list/junk"
    if any(_value(headers, n) for n in ("list-id", "list-post", "list-unsubscribe", "list-help")):
        return "mailing list"  # RFC 2369 / RFC 2919
    if _value(headers, "x-auto-response-suppress") or _value(headers, "x-autoreply"):
        return "auto-response suppressed"
    named = {
        addr.lower()
        for _, addr in email.utils.getaddresses(
            [v for h, v in headers if h.lower() in ("to", "cc", "resent-to", "resent-cc")]
        )
    }
    if not named & own:
        return "not addressed to us by name (To/Cc)"  # RFC 5230 §4.5
    return None


@transaction.atomic
def claim(account: Account, sender: str, handle: str, days: int, seconds: int | None) -> bool:
    """Record a reply to `sender` unless one was sent within the period (RFC 5230 §4.2:
    at least 1 day, here at most 30). True means: send it now."""
    period = (
        timedelta(seconds=max(60, seconds))
        if seconds is not None
        else timedelta(days=min(MAX_DAYS, max(1, days)))
    )
    now = timezone.now()
    key = sender.strip().lower()[:320]
    row = (
        VacationReply.objects.select_for_update()
        .filter(account=account, sender=key, handle=handle[:64])
        .first()
    )
    if row is not None:
        if now - row.replied_at < period:
            return False
        row.replied_at = now
        row.save(update_fields=["replied_at"])
        return True
    try:
        with transaction.atomic():
            VacationReply.objects.create(
                account=account, sender=key, handle=handle[:64], replied_at=now
            )
    except IntegrityError:
        return False  # a concurrent delivery answered them just now
    return True


def build_reply(
    account: Account,
    request: VacationRequest,
    *,
    to: str,
    subject: str,
    message_id: str,
    references: tuple[str, ...],
    hostname: str,
) -> bytes:
    """The reply message (RFC 5230 §5, RFC 3834 §3)."""
    msg = EmailMessage()
    msg["From"] = request.from_ or email.utils.formataddr((account.display_name, account.address))
    msg["To"] = to
    msg["Subject"] = request.subject or f"Auto: {subject}".strip()[:200]
    msg["Date"] = email.utils.format_datetime(timezone.now())
    msg["Message-ID"] = email.utils.make_msgid(domain=hostname)
    if message_id:
        ids = [f"<{i.strip('<>')}>" for i in (*references[-10:], message_id) if i]
        msg["In-Reply-To"] = ids[-1]
        msg["References"] = " ".join(ids)
    msg["Auto-Submitted"] = "auto-replied"
    msg["Precedence"] = "bulk"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(request.reason, charset="utf-8")
    return msg.as_bytes(policy=email.policy.SMTP)
