""" "Apply to existing mail" (Naver's 기존 메일에도 적용): the account's script over one folder.
Only what makes sense after the fact is done: moving (fileinto), flags and keywords, and
discard as a move to Trash; redirect, reject and vacation are left out, as Pigeonhole's
sieve-filter does without --execute on external effects. Progress is counted on the job."""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import MailcoreError
from mailcore.mime import parse_message
from mailcore.rules import interpret
from mailcore.rules.apply import message_view, resolve_folder, split_flags
from mailcore.rules.models import JobState, RuleJob
from mailcore.rules.queries import _parsed, get_ruleset
from mailcore.rules.sieve import Script
from mailcore.store.actions import do_move, do_set_flags
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.queries import read_message_bytes

log = logging.getLogger("mailroom.rules")
BATCH = 100


def do_apply_rules(job_id: int) -> str:
    job = RuleJob.objects.select_related("account", "folder").filter(pk=job_id).first()
    if job is None or job.state in (JobState.DONE, JobState.FAILED):
        return "skipped"
    account, folder = job.account, job.folder
    script = _parsed(get_ruleset(account)) if get_ruleset(account).pk else None
    ids = list(Message.objects.filter(folder=folder).order_by("uid").values_list("pk", flat=True))
    RuleJob.objects.filter(pk=job.pk).update(state=JobState.RUNNING, total=len(ids), done=0)
    inbox = Folder.objects.filter(account=account, special_use=SpecialUse.INBOX).first()
    cache: dict[tuple[int, str], Folder | None] = {}
    try:
        for start in range(0, len(ids), BATCH):
            changed = 0
            for message in Message.objects.filter(pk__in=ids[start : start + BATCH], folder=folder):
                if script is not None and inbox is not None:
                    changed += _apply_one(account, message, script, inbox, folder, cache)
            RuleJob.objects.filter(pk=job.pk).update(
                done=min(len(ids), start + BATCH), changed=F("changed") + changed
            )
    except Exception as exc:  # the job says it failed; the worker goes on
        log.exception("rule job %s failed", job.pk)
        RuleJob.objects.filter(pk=job.pk).update(
            state=JobState.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        return "failed"
    RuleJob.objects.filter(pk=job.pk).update(state=JobState.DONE, finished_at=timezone.now())
    return "done"


def _apply_one(
    account: Account,
    message: Message,
    script: Script,
    inbox: Folder,
    folder: Folder,
    cache: dict[tuple[int, str], Folder | None],
) -> int:
    data = read_message_bytes(message)
    parsed = parse_message(data)
    view = message_view(parsed, size=message.size, sender="", recipient=account.address, facts={})
    decision = interpret.run(script, view)
    if decision.reject is not None or decision.notes:
        return 0
    target: Folder | None = None
    flags: list[str] = []
    keywords: list[str] = []
    if decision.discarded and not decision.filings:
        target = Folder.objects.filter(account=account, special_use=SpecialUse.TRASH).first()
    for filing in decision.filings:
        more_flags, more_keywords = split_flags(filing.flags)
        flags += more_flags
        keywords += more_keywords
        if filing.folder.upper() != "INBOX" and target is None:
            target = resolve_folder(
                account, filing.folder, inbox, create=filing.create, cache=cache
            )
    did = 0
    try:
        if flags or keywords:
            do_set_flags(
                acting_account=account, messages=[message], add=flags, add_keywords=keywords
            )
            did = 1
        if target is not None and target.pk != folder.pk:
            do_move(acting_account=account, messages=[message], destination=target)
            did = 1
    except MailcoreError:
        log.info("rule job: message %s left as it is", message.pk, exc_info=True)
    return did
