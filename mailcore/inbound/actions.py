"""스팸 신고 / 스팸 아님: move the messages (store.actions.do_mark_spam) and teach rspamd's
Bayes the same (its controller's /learnspam and /learnham), as Naver and Gmail learn from the
button. Learning is best effort and after the move: rspamd being away never blocks the user.
"""

from __future__ import annotations

import logging

from mailcore.directory.models import Account
from mailcore.errors import MailcoreError
from mailcore.inbound import rspamd
from mailcore.store.actions import do_mark_spam
from mailcore.store.models import Message
from mailcore.store.queries import read_message_bytes

log = logging.getLogger("mailroom")

MAX_LEARN = 100  # a bulk report of a whole folder teaches its first hundred, not thousands
MAX_LEARN_BYTES = 2 * 1024 * 1024  # rspamd skips huge messages for Bayes anyway


def do_report_spam(*, acting_account: Account, messages: list[Message], spam: bool) -> int:
    """do_mark_spam, then rspamd learns each message (when RSPAMD_CONTROLLER_URL is set).
    Returns how many messages moved."""
    moved = do_mark_spam(acting_account=acting_account, messages=messages, spam=spam)
    if rspamd.learning_enabled():
        learned = 0
        for message in messages[:MAX_LEARN]:
            if message.size > MAX_LEARN_BYTES:
                continue
            try:
                data = read_message_bytes(message)
            except MailcoreError:
                continue  # gone meanwhile: nothing to learn
            learned += rspamd.learn(data, spam=spam, user=acting_account.address)
        log.info(
            "%s reported %d message(s) as %s; rspamd learned %d",
            acting_account.address,
            len(messages),
            "spam" if spam else "ham",
            learned,
        )
    return moved
