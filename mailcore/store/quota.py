"""Mailbox quotas (Dovecot's quota plugin): usage is the sum of the folders' size counters,
which the store actions keep in the same transactions as the rows; `Account.quota_bytes` 0 is
unlimited. Checked at RCPT (452 4.2.2 when the address is an account), at delivery (deferred,
then bounced after QUOTA_BOUNCE_AFTER_SECONDS: never dropped) and on API uploads. Crossing
QUOTA_WARNING_PERCENT of the quota puts one warning mail a day into the INBOX."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from mailcore.directory.models import Account
from mailcore.errors import OverQuotaError
from mailcore.mime.build import ComposeRequest, build_message, make_recipient
from mailcore.store.models import Folder, Source, SpecialUse

log = logging.getLogger("mailroom")


@dataclass(frozen=True, slots=True)
class Usage:
    used: int  # bytes (CRLF sizes, as RFC822.SIZE)
    limit: int  # 0 = unlimited
    messages: int = 0  # how many messages the account holds (IMAP QUOTA's MESSAGE usage)

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    @property
    def used_kib(self) -> int:
        """IMAP QUOTA STORAGE usage (RFC 9208 §5.1: units of 1024 octets), rounded up."""
        return (self.used + 1023) // 1024

    @property
    def limit_kib(self) -> int:
        """IMAP QUOTA STORAGE limit in KiB, rounded down (0 = unlimited: send no STORAGE)."""
        return self.limit // 1024

    def has_room(self, size: int) -> bool:
        return not self.limit or self.used + size <= self.limit


def usage(account: Account) -> Usage:
    """Bytes and messages of the account: one aggregate over its folders' counters (no
    message rows are read, whatever the mailbox size)."""
    sums = Folder.objects.filter(account_id=account.pk).aggregate(
        s=Sum("size_bytes"), n=Sum("message_count")
    )
    return Usage(int(sums["s"] or 0), int(account.quota_bytes or 0), int(sums["n"] or 0))


def usage_of_address(address: str) -> Usage | None:
    """Usage of the account with canonical `address` in one query (the RCPT hot path)."""
    account, folder = Account._meta.db_table, Folder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.quota_bytes, COALESCE((SELECT SUM(f.size_bytes) FROM {folder} f"  # noqa: S608
            f" WHERE f.account_id = a.id), 0) FROM {account} a WHERE a.address = %s",
            [address],
        )
        row = cursor.fetchone()
    return None if row is None else Usage(int(row[1]), int(row[0] or 0))


def check_room(account: Account, size: int) -> Usage:
    """The account's usage, or OverQuotaError when `size` more bytes do not fit."""
    state = usage(account)
    if not state.has_room(size):
        raise OverQuotaError(
            f"The mailbox of {account.address} is full "
            f"({state.used / 1048576:.1f} of {state.limit / 1048576:.1f} MB used)."
        )
    return state


def warn_if_nearly_full(account: Account, before: Usage, added: int) -> bool:
    """Deliver the quota warning when this delivery took usage across the warning level (at
    most one a day: its Maildir key names the day, and delivery is idempotent per key)."""
    if not before.limit:
        return False
    level = before.limit * settings.QUOTA_WARNING_PERCENT / 100
    if not (before.used < level <= before.used + added):
        return False
    from mailcore.store.actions import do_deliver

    inbox = Folder.objects.filter(account=account, special_use=SpecialUse.INBOX).first()
    if inbox is None:
        return False
    now = datetime.now(tz=UTC)
    data = _warning_message(account, Usage(before.used + added, before.limit), now)
    host = settings.MAIL_HOSTNAME
    key = f"quota-warning.{account.pk}.{now:%Y%m%d}.{host},S={len(data)}"
    try:
        do_deliver(account, inbox, data, key=key, source=Source.SMTP)
    except Exception:  # a warning is a courtesy; the delivery it follows has succeeded
        log.warning("could not deliver the quota warning to %s", account.address, exc_info=True)
        return False
    return True


def _warning_message(account: Account, state: Usage, now: datetime) -> bytes:
    """The warning, composed like any mail the system writes (mailcore.mime.build)."""
    mb = f"{state.used / 1048576:.1f} / {state.limit / 1048576:.1f} MB"
    request = ComposeRequest(
        sender=make_recipient("Mail system", f"postmaster@{account.domain.name}"),
        to=(make_recipient("", account.address),),
        subject=f"메일함 용량 경고 / Your mailbox is {state.percent:.0f}% full",
        text=(
            f"메일함 사용량이 {state.percent:.0f}%입니다 ({mb}).\n"
            "용량이 가득 차면 새 메일을 받을 수 없습니다.\n"
            "휴지통을 비우거나 큰 메일을 지워 주세요.\n\n"
            f"Your mailbox is {state.percent:.0f}% full ({mb}).\n"
            "When it is full, new mail cannot be delivered to you and senders are told to retry\n"
            "later. Empty the Trash or delete large messages to make room.\n"
        ),
        date=now,
    )
    return build_message(request, max_bytes=1024 * 1024).data
