"""The rules at delivery: one account's copy of one message -> what to do (folders and flags,
discard, reject, redirects, vacation reply). mailcore.delivery.actions asks `decide` before
filing and calls `after_delivery` once the copy is committed. Also used by "apply to
existing mail" (mailcore.rules.tasks), which only files and flags.

Order, as Pigeonhole with a global "before" script: 수신차단 first (a blocked sender's mail
is dropped), then the user's script, then 자동전달 and 부재중 on top of its verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from mailcore.directory.models import Account
from mailcore.mime import ParsedMessage
from mailcore.rules import interpret
from mailcore.rules.interpret import Decision, Filing, VacationRequest
from mailcore.rules.queries import Profile, is_blocked, vacation_on
from mailcore.store.models import Folder, SpecialUse

log = logging.getLogger("mailroom.rules")

SYSTEM_FLAGS = {
    "\\seen": "seen",
    "\\flagged": "flagged",
    "\\answered": "answered",
    "\\deleted": "deleted",
    "\\draft": "draft",
}


@dataclass(slots=True)
class Copy:
    """One copy to file: the folder, system flags (Message field names) and keywords."""

    folder: Folder
    flags: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Verdict:
    copies: list[Copy]
    reject: str | None = None
    redirects: list[str] = field(default_factory=list)
    vacation: VacationRequest | None = None
    notes: list[str] = field(default_factory=list)


def message_view(
    parsed: ParsedMessage,
    *,
    size: int,
    sender: str,
    recipient: str,
    facts: Mapping[str, object],
) -> interpret.Message:
    known = {k: str(v) for k, v in facts.items() if v is not None}
    known.setdefault("attachment", "yes" if parsed.has_attachments else "no")
    return interpret.Message(
        headers=tuple(parsed.header_items),
        size=size,
        envelope_from=sender,
        envelope_to=recipient,
        body=lambda: parsed.text or parsed.html,
        facts=known,
    )


def sender_of(parsed: ParsedMessage, envelope_sender: str) -> list[str]:
    return [envelope_sender, *(a.addr for a in parsed.from_ if a.addr)]


def decide(
    account: Account,
    profile: Profile,
    *,
    inbox: Folder,
    parsed: ParsedMessage,
    size: int,
    sender: str,
    recipient: str,
    facts: Mapping[str, object],
    folders: dict[tuple[int, str], Folder | None],
) -> Verdict:
    """The verdict for `account`'s copy. Folders are looked up (and created for :create) as
    needed; `folders` caches them for the batch. Never raises for a rule problem."""
    if profile.blocked and any(is_blocked(profile.blocked, s) for s in sender_of(parsed, sender)):
        return Verdict([], notes=["blocked sender: discarded"])
    view = message_view(parsed, size=size, sender=sender, recipient=recipient, facts=facts)
    if profile.script is not None:
        decision = interpret.run(profile.script, view)
    else:
        decision = Decision(filings=[Filing("INBOX", ())])
    if decision.reject is not None:
        return Verdict([], reject=decision.reject, notes=decision.notes)
    redirects = [r for r in decision.redirects if _may_forward(account, profile, r, decision.notes)]
    if len(redirects) < len(decision.redirects) and not decision.filings:
        # A redirect that may not happen is a failed action: keep the message (RFC 5228 §2.10.6).
        decision.filings = [Filing("INBOX", ())]
    fwd = profile.forwarding
    if fwd is not None and _may_forward(account, profile, fwd.address, decision.notes):
        if fwd.address.lower() not in (r.lower() for r in redirects):
            redirects.append(fwd.address)
        if not fwd.keep_copy:
            decision.filings = []
    vacation = decision.vacation
    if vacation is None and vacation_on(profile.vacation):
        v = profile.vacation
        assert v is not None
        vacation = VacationRequest(reason=v.body, subject=v.subject, days=v.days, handle="settings")
    copies = [_copy(account, f, inbox, folders, decision.notes) for f in decision.filings]
    if vacation is not None and (
        str(facts.get("junk", "")).lower() in ("1", "true", "yes")
        or any(c.folder.special_use == SpecialUse.JUNK for c in copies)
    ):
        vacation = None  # spam is never answered (its sender is usually forged)
    return Verdict(copies, None, redirects, vacation, decision.notes)


def _may_forward(account: Account, profile: Profile, address: str, notes: list[str]) -> bool:
    domain = address.rpartition("@")[2].lower()
    if address.lower() == account.address.lower():
        notes.append("redirect to the account itself ignored")
        return False
    if not profile.forward_outside and domain != account.address.rpartition("@")[2].lower():
        notes.append(f"forwarding outside the domain is not allowed ({address})")
        return False
    return True


def _copy(
    account: Account,
    filing: Filing,
    inbox: Folder,
    folders: dict[tuple[int, str], Folder | None],
    notes: list[str],
) -> Copy:
    folder = resolve_folder(account, filing.folder, inbox, create=filing.create, cache=folders)
    if folder is None:
        notes.append(f"folder {filing.folder!r} does not exist: filed into INBOX")
        folder = inbox
    flags, keywords = split_flags(filing.flags)
    return Copy(folder, flags, keywords)


def split_flags(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Sieve flag words -> (Message flag field names, IMAP keywords); unknown system flags
    (\\Recent and the like) are dropped."""
    flags: list[str] = []
    keywords: list[str] = []
    for word in words:
        name = SYSTEM_FLAGS.get(word.lower())
        if name:
            flags.append(name)
        elif not word.startswith("\\"):
            keywords.append(word)
    return flags, keywords


def resolve_folder(
    account: Account,
    name: str,
    inbox: Folder,
    *,
    create: bool,
    cache: dict[tuple[int, str], Folder | None],
) -> Folder | None:
    """The folder `name` of `account` ("INBOX" is the inbox; "/" and "." both separate
    levels, as Naver folder paths and Maildir++ names do). With `create`, a missing folder is
    made (RFC 5490 :create); a name that cannot be made gives None."""
    if name.upper() == "INBOX":
        return inbox
    key = (account.pk, name)
    if key in cache:
        return cache[key]
    found = Folder.objects.filter(account=account, name=name).first()
    if found is None:
        special = {"junk": SpecialUse.JUNK, "spam": SpecialUse.JUNK, "trash": SpecialUse.TRASH}
        use = special.get(name.lower())
        if use:
            found = Folder.objects.filter(account=account, special_use=use).first()
    if found is None and create:
        from mailcore.errors import MailcoreError
        from mailcore.store.actions import do_create_folder

        try:
            found = do_create_folder(acting_account=account, name=name)
        except MailcoreError as exc:
            log.info("%s: rule folder %r not created: %s", account.address, name, exc)
    cache[key] = found
    return found


def srs_secret() -> bytes:
    from mailcore.rules.srs import secret

    return secret()
