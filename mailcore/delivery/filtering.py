"""The user's rules inside one local delivery batch (mailcore.delivery.actions._deliver_local):
ask mailcore.rules for each account copy's verdict before filing, then, once the copies are
committed, set their flags and queue what the rules asked for (forwarded copies with an SRS
envelope sender, a vacation reply). Forwarding counts against RULES_FORWARDS_PER_HOUR.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from mailcore.delivery import memo
from mailcore.delivery.entries import do_enqueue
from mailcore.delivery.models import Direction, QueueEntry, QueueRecipient
from mailcore.directory.models import Account
from mailcore.errors import MailcoreError
from mailcore.mime import ParsedMessage
from mailcore.mime.headers import with_delivered_to
from mailcore.rules import srs
from mailcore.rules import vacation as vacation_rules
from mailcore.rules.apply import Copy, Verdict, decide, srs_secret
from mailcore.rules.queries import Profile
from mailcore.store.actions import Delivered, do_set_flags
from mailcore.store.models import Folder

log = logging.getLogger("mailroom.rules")

Forward = Callable[..., None]


@dataclass(slots=True)
class _Later:
    entry: QueueEntry
    rcpt: QueueRecipient
    account: Account
    verdict: Verdict
    data: bytes
    parsed: ParsedMessage
    copies: list[tuple[int, Copy]] = field(default_factory=list)


class BatchRules:
    """Profiles and folders looked up once per batch; the effects waiting for the commit."""

    def __init__(self) -> None:
        self.profiles: dict[int, Profile] = {}
        self.folders: dict[tuple[int, str], Folder | None] = {}
        self.later: list[_Later] = []

    def verdict(
        self,
        entry: QueueEntry,
        rcpt: QueueRecipient,
        account: Account,
        inbox: Folder,
        parsed: ParsedMessage,
        data: bytes,
        facts: Mapping[str, object],
    ) -> _Later:
        """The account copy's verdict, remembered for `after_commit`; the caller files
        `verdict.copies` and reports each Arrival index through `filed`."""
        profile = self.profiles.get(account.pk)
        if profile is None:
            profile = self.profiles[account.pk] = memo.profile(account)
        if profile.empty:
            result = Verdict([Copy(inbox)])
        else:
            result = decide(
                account,
                profile,
                inbox=inbox,
                parsed=parsed,
                size=len(data),
                sender=entry.sender,
                recipient=account.address,
                facts=facts,
                folders=self.folders,
            )
            for note in result.notes:
                log.info("%s: %s: %s", entry.queue_id, account.address, note)
        later = _Later(entry, rcpt, account, result, data, parsed)
        self.later.append(later)
        return later

    def after_commit(
        self,
        results: list[Delivered | MailcoreError],
        settled: Callable[[QueueRecipient], bool],
        forward: Forward,
    ) -> None:
        """Flags on the committed copies; forwards and vacation replies for every copy whose
        recipient is settled (delivered, discarded: not deferred). Idempotent on a retry:
        forwards by their origin, replies by the table of who was answered."""
        for item in self.later:
            for n, copy in item.copies:
                done = results[n]
                if isinstance(done, Delivered) and done.created and (copy.flags or copy.keywords):
                    try:
                        do_set_flags(
                            acting_account=item.account,
                            messages=[done.message],
                            add=copy.flags,
                            add_keywords=copy.keywords,
                        )
                    except MailcoreError:
                        log.warning("%s: flags not set", item.entry.queue_id, exc_info=True)
            if not settled(item.rcpt):
                continue
            if item.verdict.redirects:
                self._redirect(item, forward)
            if item.verdict.vacation is not None:
                _vacation_reply(item)

    def _redirect(self, item: _Later, forward: Forward) -> None:
        account = item.account
        origin = f"rule:{account.pk}:{item.entry.queue_id}"[:100]
        if QueueEntry.objects.filter(origin=origin).exists():
            return
        since = timezone.now() - timedelta(hours=1)
        sent = QueueEntry.objects.filter(
            origin__startswith=f"rule:{account.pk}:", received_at__gte=since
        ).count()
        if sent >= settings.RULES_FORWARDS_PER_HOUR:
            log.warning("%s: forwarding limit reached, not forwarded", account.address)
            return
        domain = account.address.rpartition("@")[2]
        sender = srs.forward_sender(item.entry.sender, domain, srs_secret())
        # Delivered-To: the copy coming back here is a loop (RFC 5321 §6.3).
        data = with_delivered_to(item.data, account.address)
        forward(item.entry, item.rcpt, item.verdict.redirects, data, origin=origin, sender=sender)


def _vacation_reply(item: _Later) -> None:
    request = item.verdict.vacation
    assert request is not None
    account, parsed = item.account, item.parsed
    own = {account.address.lower(), item.rcpt.address.lower()}
    own |= {a.lower() for a in request.addresses}
    why = vacation_rules.refusal(
        sender=item.entry.sender, headers=tuple(parsed.header_items), own=own
    )
    if why is not None:
        log.info("%s: no vacation reply (%s)", item.entry.queue_id, why)
        return
    if not vacation_rules.claim(
        account, item.entry.sender, request.handle, request.days, request.seconds
    ):
        return
    reply = vacation_rules.build_reply(
        account,
        request,
        to=item.entry.sender,
        subject=parsed.subject,
        message_id=parsed.message_id,
        references=parsed.references,
        hostname=settings.MAIL_HOSTNAME,
    )
    # RFC 3834 §3.3: the reply's envelope sender is null, so nothing answers it in turn.
    do_enqueue(
        sender="",
        recipients=[item.entry.sender],
        data=reply,
        origin=f"vacation:{account.pk}:{item.entry.queue_id}"[:100],
        direction=Direction.OUTBOUND,
    )
