"""Read status from the store's events (registered in mailcore.outbox.apps):

- note_seen: a message was first marked \\Seen (web, API, IMAP, POP3). One indexed probe of
  the unread local tracking rows (outbox_rcpt_unread) per flag change; work only on a hit.
- note_arrivals: a delivery stored an RFC 8098 MDN (multipart/report; report-type=
  disposition-notification) for one of the account's sent messages: its disposition is the
  remote recipient's status.

Neither ever fails the store change that called it (mailcore.store.hooks logs and goes on).
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.mime import ParsedMessage
from mailcore.outbox.models import OutboxItem, OutboxPreferences, OutboxRecipient, RecipientKind
from mailcore.outbox.queries import is_tracked_key, local_copy
from mailcore.store.models import Message
from mailcore.store.queries import read_message_bytes

log = logging.getLogger("mailroom")

MDN_SCAN_BYTES = 64 * 1024  # an MDN is small; a hostile "report" is read this far, no further


def shares_read_status(reader: Account, sender: Account) -> bool:
    """The reader's choice, else on for a sender of the reader's own domain and
    READ_STATUS_SHARE_OTHER_DOMAINS for others."""
    prefs = OutboxPreferences.objects.filter(account=reader).first()
    if prefs is not None and prefs.share_read_status is not None:
        return prefs.share_read_status
    return reader.domain_id == sender.domain_id or settings.READ_STATUS_SHARE_OTHER_DOMAINS


def note_seen(account: Account, messages: list[Message]) -> None:
    """No query at all unless a message's Maildir key is that of a tracked local delivery
    (queue id ending in TRACKED_MARK, which random queue ids never do)."""
    tracked = {m.pk: m for m in messages if is_tracked_key(m.maildir_key) and m.message_id}
    if not tracked:
        return
    hits = list(
        OutboxRecipient.objects.filter(
            account_id=account.pk,
            kind=RecipientKind.LOCAL,
            read_at__isnull=True,
            message_id__in={m.message_id for m in tracked.values()},
        ).select_related("item", "item__account")
    )
    for rcpt in hits:
        copy = local_copy(rcpt.item, rcpt)
        if copy is None or copy.pk not in tracked:
            continue  # same Message-ID, another message (forged, or another copy)
        if not shares_read_status(account, rcpt.item.account):
            continue
        OutboxRecipient.objects.filter(pk=rcpt.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )


# --- MDN intake (RFC 8098 §3) ------------------------------------------------------------------

_FIELD = r"^{name}[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)"
_ORIGINAL_ID = re.compile(_FIELD.format(name="Original-Message-ID"), re.I | re.M)
_FINAL_RCPT = re.compile(_FIELD.format(name="Final-Recipient"), re.I | re.M)
_ORIGINAL_RCPT = re.compile(_FIELD.format(name="Original-Recipient"), re.I | re.M)
_DISPOSITION = re.compile(_FIELD.format(name="Disposition"), re.I | re.M)
_MSGID = re.compile(r"<([^<>\s]+)>")


def _content_type(parsed: ParsedMessage) -> str:
    for name, value in parsed.headers():
        if name.lower() == "content-type":
            return value.lower()
    return ""


def is_mdn(parsed: ParsedMessage) -> bool:
    kind = _content_type(parsed)
    return kind.startswith("multipart/report") and "disposition-notification" in kind


def parse_mdn(raw: bytes) -> tuple[str, list[str], str] | None:
    """(original Message-ID without <>, recipient addresses named, disposition type) of an
    MDN's message/disposition-notification part, or None when the fields are missing."""
    text = raw[:MDN_SCAN_BYTES].decode("utf-8", "replace")
    original = _ORIGINAL_ID.search(text)
    disposition = _DISPOSITION.search(text)
    if not original or not disposition:
        return None
    found = _MSGID.search(original.group(1))
    if not found:
        return None
    # "manual-action/MDN-sent-manually; displayed" (RFC 8098 §3.2.6): the type after ';'.
    kind = disposition.group(1).split(";", 1)[-1].strip().split("/")[0].strip().lower()
    addresses = []
    for pattern in (_FINAL_RCPT, _ORIGINAL_RCPT):
        for m in pattern.finditer(text):
            value = m.group(1).split(";", 1)[-1].strip().strip("<>").lower()
            if value:
                addresses.append(value)
    return found.group(1), addresses, kind[:40]


def note_arrivals(arrivals: list[tuple[Message, ParsedMessage]]) -> None:
    for message, parsed in arrivals:
        if is_mdn(parsed):
            _take_mdn(message)


def _take_mdn(message: Message) -> None:
    parsed = parse_mdn(read_message_bytes(message))
    if parsed is None:
        return
    original_id, addresses, disposition = parsed
    item = OutboxItem.objects.filter(
        account_id=message.account_id, message_id=original_id[:998]
    ).first()
    if item is None or not addresses:
        return
    rcpts = [r for r in item.recipients.all() if r.address.lower() in addresses]
    now = timezone.now()
    for rcpt in rcpts:
        rcpt.mdn_disposition, rcpt.mdn_at = disposition, now
        rcpt.save(update_fields=["mdn_disposition", "mdn_at"])
    log.info("outbox %s: MDN %s from %s", item.submission_id, disposition, addresses)
