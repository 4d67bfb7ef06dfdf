"""Turn parsed records into directory and store actions, and say what happened in a Report.

Directory imports run inside one transaction with a savepoint per record; a dry run does the
same work and rolls it back, so its report is exactly what a real run would do. Message
imports write files, so their dry run only reads: it parses every message and looks up
whether it is already there. Re-runs create nothing twice: domains and rules are looked up,
alias targets are merged, and messages are stored under keys derived from their source.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from django.db import transaction
from django.db.models import Sum

from mailcore.addresses import canonical_address, canonical_domain, canonical_local
from mailcore.directory.actions import (
    canonical_network,
    do_add_alias,
    do_add_relay_rule,
    do_create_domain,
)
from mailcore.directory.models import Account, Alias, Domain, RelayRule
from mailcore.errors import InvalidFolderNameError, MailcoreError, StorageError
from mailcore.importers import maildir_tree
from mailcore.importers.access import AccessRecord, Skip
from mailcore.importers.aliases import ADDRESS, BAD, LOCAL, AliasEntry, Target
from mailcore.importers.hosts import HostName, HostSkip
from mailcore.importers.mbox import MboxProblem, iter_mbox
from mailcore.importers.report import CREATED, ERROR, PRESENT, SKIPPED, UPDATED, Report
from mailcore.importers.textmap import BadLine
from mailcore.importers.virtual import VirtualAlias, VirtualDomain, VirtualSkip
from mailcore.store.actions import (
    do_adopt_uidvalidity,
    do_create_folder,
    do_import_message,
    do_reserve_uids,
)
from mailcore.store.maildir import folder_path_for_name
from mailcore.store.models import Folder, Message, SpecialUse

Progress = Callable[[int], None]
MAX_KEYWORDS = 64


@contextlib.contextmanager
def _writes(
    dry_run: bool, report: Report | None = None, *, skip_errors: bool = True
) -> Iterator[None]:
    """One transaction for a directory import. It is rolled back for a dry run, and when the
    run found errors unless `skip_errors`: half an import (some domains, aliases whose targets
    failed) is worse than none, and the admin fixes the file and runs it again."""
    with transaction.atomic():
        yield
        if report is not None and report.errors and not skip_errors and not dry_run:
            report.discarded = True
            transaction.set_rollback(True)
        if dry_run:
            transaction.set_rollback(True)


def _bad_lines(report: Report, bad: list[BadLine], prefix: str = "line") -> None:
    for b in bad:
        report.error(f"{prefix} {b.number}", b.reason, where=f"line {b.number}")


# --- local domains ----------------------------------------------------------------------------


def _ensure_domain(report: Report, name: str, where: str) -> str | None:
    try:
        alabel = canonical_domain(name)
    except MailcoreError as exc:
        report.error(name, str(exc), where=where)
        return None
    if Domain.objects.filter(name=alabel).exists():
        report.present(f"domain {alabel}", where=where)
        return alabel
    with transaction.atomic():
        do_create_domain(alabel)
    report.created(f"domain {alabel}", where=where)
    return alabel


def import_hosts(
    names: list[HostName],
    skips: list[HostSkip],
    bad: list[BadLine],
    *,
    dry_run: bool,
    skip_errors: bool = False,
) -> Report:
    report = Report()
    _bad_lines(report, bad)
    for s in skips:
        report.skipped(s.name, s.reason, where=f"line {s.line}" if s.line else "")
    with _writes(dry_run, report, skip_errors=skip_errors):
        for host in names:
            _ensure_domain(report, host.name, f"line {host.line}")
    return report


# --- aliases (/etc/aliases, virtual) ------------------------------------------------------------


def alias_domains(domains: list[str], *, all_domains: bool) -> list[str]:
    """The local domains that bare alias names (root, postmaster) are created in: the named
    ones, or every local domain (sendmail: /etc/aliases serves all local-host-names), or the
    only one there is. Raises MailcoreError when it cannot tell."""
    if all_domains:
        found = list(Domain.objects.values_list("name", flat=True))
        if not found:
            raise MailcoreError("there is no local domain yet: run import-hosts (or domain add)")
        return found
    if domains:
        out = []
        for d in domains:
            alabel = canonical_domain(d)
            if not Domain.objects.filter(name=alabel).exists():
                raise MailcoreError(f"{alabel} is not a local domain; add it first")
            out.append(alabel)
        return out
    found = list(Domain.objects.values_list("name", flat=True)[:2])
    if len(found) == 1:
        return found
    if not found:
        raise MailcoreError("there is no local domain yet: run import-hosts (or domain add)")
    raise MailcoreError(
        "there are several local domains: name them with --domain, or use --all-domains"
    )


def _target_address(t: Target, domain: str) -> str:
    raw = t.value
    if t.kind == LOCAL:
        return f"{canonical_local(raw)}@{domain}"
    return canonical_address(raw)


def _apply_alias(
    report: Report,
    source: str,
    targets: tuple[Target, ...],
    where: str,
    *,
    target_domain: str | None,
    seen: dict[str, str],
    imported: list[tuple[str, str]],
) -> None:
    if source in seen:
        report.skipped(
            source,
            f"duplicate of {seen[source]} (the first entry wins, as in Postfix)",
            where=where,
        )
        return
    seen[source] = where
    alias_domain = source.rpartition("@")[2]
    is_account = Account.objects.filter(address=source).exists()
    addresses: list[str] = []
    reported = report.counts[SKIPPED] + report.counts[ERROR]
    for t in targets:
        if t.kind not in (ADDRESS, LOCAL):
            if t.kind == BAD:
                report.error(f"{source}: {t.value}", t.reason, where=t.where)
            else:
                report.skipped(f"{source} → {t.value}", t.reason, where=t.where)
            continue
        try:
            addr = _target_address(t, target_domain or alias_domain)
        except MailcoreError as exc:
            report.error(f"{source} → {t.value}", str(exc), where=t.where)
            continue
        if addr == source:
            # 'alice: \alice, alice@gmail.com' keeps a local copy: that needs the account.
            why = (
                "keeping a copy in the account itself needs a forward filter, not an alias"
                if is_account
                else "the alias itself with no account of that name: nowhere to keep a copy"
            )
            report.skipped(f"{source} → {t.value}", why, where=t.where)
            continue
        addresses.append(addr)
    if not addresses:
        if report.counts[SKIPPED] + report.counts[ERROR] == reported:
            report.skipped(source, "no target that can be imported", where=where)
        return
    if is_account:
        report.skipped(
            f"{source} → {', '.join(addresses)}",
            f"{source} is an account; an alias cannot shadow it (forward with a filter instead)",
            where=where,
        )
        return
    existing = Alias.objects.filter(source=source).first()
    before = set(existing.targets) if existing else set()
    shown = f"alias {source} → {', '.join(addresses)}"
    if existing is not None and before.issuperset(addresses):
        imported.extend((source, a) for a in addresses)
        report.present(shown, where=where)
        return
    try:
        with transaction.atomic():
            do_add_alias(source, addresses)
    except MailcoreError as exc:
        report.error(shown, str(exc), where=where)
        return
    imported.extend((source, a) for a in addresses)
    if existing is None:
        report.created(shown, where=where)
    else:
        new = [a for a in addresses if a not in before]
        report.add(UPDATED, shown, where=where, reason=f"added {', '.join(new)}")


def _note_dangling(report: Report, pairs: list[tuple[str, str]], *, allow: bool) -> None:
    """Local targets with neither an account nor an alias: on the old host they were Unix
    users; here mail to them would bounce until their accounts exist (a stock /etc/aliases
    sends postmaster to root). An error, so the run exits 1, unless `allow` (a note then)."""
    local = set(Domain.objects.values_list("name", flat=True))
    wanted = {t for _, t in pairs if t.rpartition("@")[2] in local}
    known = set(Account.objects.filter(address__in=wanted).values_list("address", flat=True))
    known |= set(Alias.objects.filter(source__in=wanted).values_list("source", flat=True))
    for target in sorted(wanted - known):
        sources = sorted({src for src, t in pairs if t == target})
        text = f"{target} (target of {', '.join(sources)}) is neither an account nor an alias"
        if allow:
            waits = [src for src in sources if src.partition("@")[0] == "postmaster"]
            bounces = [src for src in sources if src not in waits]
            until = [f"mail to {', '.join(bounces)} bounces"] if bounces else []
            if waits:  # RFC 5321 §4.5.1: accepted, so kept (mailcore.directory.queries)
                until.append(f"mail to {', '.join(waits)} waits in the queue (deferred, then held)")
            report.note(f"{text} yet: create it; until then {' and '.join(until)}")
        else:
            report.error(
                target,
                f"{text}: create it first (account add), or import with --allow-dangling",
            )


def import_aliases(
    entries: list[AliasEntry],
    bad: list[BadLine],
    *,
    domains: list[str],
    target_domain: str | None = None,
    dry_run: bool,
    skip_errors: bool = False,
    allow_dangling: bool = False,
) -> Report:
    """`domains`: where bare names (root) become aliases (see alias_domains); bare targets
    (alice) are taken in the alias's own domain unless `target_domain` is given. A local
    target that is neither an account nor an alias is an error unless `allow_dangling`."""
    report = Report()
    _bad_lines(report, bad)
    seen: dict[str, str] = {}
    imported: list[tuple[str, str]] = []
    if any(
        t.value.lower().startswith(":include:") or ":" in t.where
        for e in entries
        for t in e.targets
    ):
        report.note("include files were copied as they are now; later edits are not followed")
    with _writes(dry_run, report, skip_errors=skip_errors):
        for entry in entries:
            where = f"line {entry.line}"
            names = [entry.name] if "@" in entry.name else [f"{entry.name}@{d}" for d in domains]
            for name in names:
                try:
                    source = canonical_address(name)
                except MailcoreError as exc:
                    report.error(entry.name, str(exc), where=where)
                    continue
                _apply_alias(
                    report,
                    source,
                    entry.targets,
                    where,
                    target_domain=target_domain,
                    seen=seen,
                    imported=imported,
                )
        _note_dangling(report, imported, allow=allow_dangling)
    return report


def import_virtual(
    domains: list[VirtualDomain],
    aliases: list[VirtualAlias],
    skips: list[VirtualSkip],
    bad: list[BadLine],
    *,
    bare_domains: list[str],
    dry_run: bool,
    skip_errors: bool = False,
    allow_dangling: bool = False,
) -> Report:
    """Virtual alias domains first (they become local domains), then the aliases. '@domain'
    keys are catch-alls; bare keys need `bare_domains`; bare targets get the alias's domain."""
    report = Report()
    _bad_lines(report, bad)
    for s in skips:
        report.skipped(s.key, s.reason, where=f"line {s.line}")
    seen: dict[str, str] = {}
    imported: list[tuple[str, str]] = []
    with _writes(dry_run, report, skip_errors=skip_errors):
        for d in domains:
            _ensure_domain(report, d.domain, f"line {d.line}")
        for a in aliases:
            where = f"line {a.line}"
            if a.key.startswith("@"):
                try:
                    sources = [f"@{canonical_domain(a.key[1:])}"]
                except MailcoreError as exc:
                    report.error(a.key, str(exc), where=where)
                    continue
            elif "@" in a.key:
                try:
                    sources = [canonical_address(a.key)]
                except MailcoreError as exc:
                    report.error(a.key, str(exc), where=where)
                    continue
            elif bare_domains:
                try:
                    local = canonical_local(a.key)
                except MailcoreError as exc:
                    report.error(a.key, str(exc), where=where)
                    continue
                sources = [f"{local}@{d}" for d in bare_domains]
            else:
                report.skipped(a.key, "a bare name needs --domain (or --all-domains)", where=where)
                continue
            for source in sources:
                if source.startswith("@") and not Domain.objects.filter(name=source[1:]).exists():
                    report.error(source, f"{source[1:]} is not a local domain", where=where)
                    continue
                _apply_alias(
                    report,
                    source,
                    a.targets,
                    where,
                    target_domain=None,
                    seen=seen,
                    imported=imported,
                )
        _note_dangling(report, imported, allow=allow_dangling)
    return report


# --- relay rules (access, mynetworks) -----------------------------------------------------------


def import_access(
    records: list[AccessRecord],
    skips: list[Skip],
    bad: list[BadLine],
    *,
    force: bool,
    dry_run: bool,
    origin: str = "access",
    skip_errors: bool = False,
) -> Report:
    """Each record becomes a relay rule per network. Which wide rules need --force is decided
    by do_add_relay_rule, as for `access add` (loopback and domain-keyed rules do not).
    The first entry for a key wins, later ones are reported."""
    report = Report()
    _bad_lines(report, bad)
    for s in skips:
        report.skipped(s.key, s.reason, where=f"line {s.line}")
    seen: dict[tuple[str, str, str], int] = {}
    with _writes(dry_run, report, skip_errors=skip_errors):
        for rec in records:
            where = f"line {rec.line}"
            if rec.note:
                report.note(f"line {rec.line} ({rec.key}): {rec.note}")
            try:
                sender = canonical_domain(rec.sender_domain) if rec.sender_domain else ""
                recipient = canonical_domain(rec.recipient_domain) if rec.recipient_domain else ""
            except MailcoreError as exc:
                report.error(rec.key, str(exc), where=where)
                continue
            for net in rec.networks:
                try:
                    network = str(canonical_network(net))
                except MailcoreError as exc:
                    report.error(rec.key, str(exc), where=where)
                    continue
                conds = "".join(f" {k}={v}" for k, v in (("from", sender), ("to", recipient)) if v)
                shown = f"{network}{conds} {rec.action}"
                ident = (network, sender, recipient)
                if ident in seen:
                    report.skipped(
                        f"{rec.key} {rec.action}",
                        f"duplicate of line {seen[ident]} (the first entry wins, as in makemap)",
                        where=where,
                    )
                    continue
                seen[ident] = rec.line
                existing = RelayRule.objects.filter(
                    network=network, sender_domain=sender, recipient_domain=recipient
                ).first()
                if existing is not None and existing.action == rec.action:
                    report.present(shown, where=where)
                    continue
                comment = rec.comment or f"imported from {origin} line {rec.line}"
                try:
                    with transaction.atomic():
                        do_add_relay_rule(
                            network,
                            rec.action,
                            sender_domain=sender,
                            recipient_domain=recipient,
                            comment=comment,
                            force=force,
                        )
                except MailcoreError as exc:
                    report.error(shown, str(exc), where=where)
                    continue
                if existing is None:
                    report.created(shown, where=where)
                else:
                    report.add(UPDATED, shown, where=where, reason=f"was {existing.action}")
    return report


# --- messages -----------------------------------------------------------------------------------

# Top-level folder names other servers and clients use for the special folders.
SPECIAL_NAMES = {
    SpecialUse.SENT: {
        "sent",
        "sent messages",
        "sent items",
        "sent mail",
        "보낸편지함",
        "보낸 편지함",
        "보낸메일함",
    },
    SpecialUse.DRAFTS: {"drafts", "draft", "임시보관함"},
    SpecialUse.TRASH: {"trash", "deleted messages", "deleted items", "휴지통"},
    SpecialUse.JUNK: {
        "junk",
        "spam",
        "junk e-mail",
        "junk email",
        "bulk mail",
        "스팸편지함",
        "스팸메일함",
    },
    SpecialUse.TOME: {"내게쓴메일함"},
}
_UNSAFE_IN_NAME = re.compile(r"[.\\\x00-\x1f\x7f-\x9f]")


def _special_use(name: str) -> str:
    if name.upper() == "INBOX":
        return SpecialUse.INBOX
    if "/" in name:
        return ""
    low = name.casefold()
    for use, names in SPECIAL_NAMES.items():
        if low in names:
            return use
    return ""


def clean_folder_name(name: str) -> str:
    """A source folder name made acceptable to the store: '.' (the Maildir++ separator),
    '\\' and control characters become '_', blanks around components go, a leading '~' too."""
    parts = []
    for part in name.split("/"):
        part = _UNSAFE_IN_NAME.sub("_", part).strip()
        if part.startswith("~"):
            part = "_" + part[1:]
        parts.append(part or "_")
    return "/".join(parts)


class _Target:
    """The folder a source folder goes into, created on first use (never in a dry run)."""

    def __init__(
        self, account: Account, name: str, report: Report, dry_run: bool, *, rename: bool = True
    ) -> None:
        self.account, self.report, self.dry_run = account, report, dry_run
        self.name = name
        self.folder: Folder | None = None
        special = _special_use(name)
        if special:
            self.folder = Folder.objects.filter(account=account, special_use=special).first()
        clean = clean_folder_name(name) if rename and not special else name
        if clean != name:
            report.note(f"folder {name!r} is imported as {clean!r}")
        self.name = clean
        if self.folder is not None:
            self.path = self.folder.path
            if self.folder.name != name and name != "INBOX":
                report.note(f"folder {name!r} goes into {self.folder.name!r}")
        else:
            self.path = folder_path_for_name(clean)  # InvalidFolderNameError: caller reports
            self.folder = Folder.objects.filter(account=account, path=self.path).first()
            if self.folder is None and dry_run:
                report.created(f"folder {clean}")

    def get(self) -> Folder | None:
        if self.folder is None and not self.dry_run:
            self.folder = do_create_folder(acting_account=self.account, name=self.name)
            self.report.created(f"folder {self.name}")
        return self.folder

    def adopt(self, uidvalidity: int | None) -> bool:
        """Take the source's UIDVALIDITY (and so its UIDs) if the folder never held mail."""
        if uidvalidity is None:
            return False
        folder = self.get()
        if folder is None:  # dry run, folder still to be created: it would be fresh
            return True
        if self.dry_run:
            ok = folder.uidvalidity == uidvalidity or (
                folder.uidnext == 1 and not Message.objects.filter(folder=folder).exists()
            )
        else:
            ok = do_adopt_uidvalidity(
                acting_account=self.account, folder=folder, uidvalidity=uidvalidity
            )
        if not ok:
            self.report.note(
                f"{folder.name} already held messages: imported ones get new UIDs "
                "(IMAP clients resync this folder once)"
            )
        return ok


def _store(
    report: Report,
    target: _Target,
    data: bytes,
    key: str,
    where: str,
    *,
    uid: int | None,
    flags: frozenset[str],
    keywords: tuple[str, ...],
    internal_date: datetime | None,
) -> None:
    if target.dry_run:
        there = Message.objects.filter(account=target.account, maildir_key=key).exists()
        report.add(PRESENT if there else CREATED, key, keep=False)
        return
    folder = target.get()
    assert folder is not None
    try:
        done = do_import_message(
            acting_account=target.account,
            folder=folder,
            data=data,
            key=key,
            uid=uid,
            flags=flags,
            keywords=keywords[:MAX_KEYWORDS],
            internal_date=internal_date,
        )
    except StorageError as exc:
        # Writing our own Maildir failed (disk full, permissions): every next message would
        # too. Stop; the source is untouched and a re-run picks up where this one stopped.
        report.error(
            f"message {key}", f"{exc}; import stopped, run it again once fixed", where=where
        )
        raise _Stopped from exc
    except MailcoreError as exc:
        report.error(f"message {key}", str(exc), where=where)
        return
    report.add(CREATED if done.created else PRESENT, key, keep=False)


class _Stopped(Exception):
    """A storage failure ended a message import (already in the report)."""


def mbox_key(data: bytes, folder_path: str, occurrence: int, received: datetime | None) -> str:
    """A Maildir base name that is the same on every run for the same message in the same
    folder (the n-th identical copy gets its own)."""
    digest = hashlib.sha256(folder_path.encode() + b"\0" + data).hexdigest()[:32]
    stamp = int(received.timestamp()) if received is not None else 0
    extra = f"_{occurrence}" if occurrence else ""
    return f"{stamp}.I{digest}{extra}.import,S={len(data)}"


_SAFE_KEY = re.compile(r"^[A-Za-z0-9_=,+-][A-Za-z0-9._=,+-]{0,150}$")


def maildir_key(source_key: str, data: bytes) -> str:
    """The source's own base name where it is safe, its ,S=/W= sizes set to the stored copy's
    (which has CRLF line ends; Dovecot trusts S=), else a name derived from it."""
    if not _SAFE_KEY.match(source_key):
        digest = hashlib.sha256(source_key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return f"imp{digest},S={len(data)}"
    key = re.sub(r",([SW])=\d+", lambda m: f",{m.group(1)}={len(data)}", source_key)
    return key if ",S=" in key else f"{key},S={len(data)}"


def import_mbox(
    account: Account,
    stream: BinaryIO,
    *,
    folder_name: str = "INBOX",
    rename_folder: bool = False,
    quoting: str = "mboxrd",
    skip_deleted: bool = False,
    max_message_bytes: int,
    dry_run: bool,
    progress: Progress | None = None,
) -> Report:
    report = Report()
    try:
        target = _Target(account, folder_name, report, dry_run, rename=rename_folder)
    except InvalidFolderNameError as exc:
        report.error(f"folder {folder_name}", str(exc))
        return report
    adopted: bool | None = None
    imapbase: tuple[int, int] | None = None
    copies: Counter[str] = Counter()
    last = 0
    deleted = 0
    try:
        for item in iter_mbox(stream, quoting=quoting, max_message_bytes=max_message_bytes):
            if progress:
                progress(item.offset - last)
            last = item.offset
            if adopted is None:
                imapbase = item.imapbase
                adopted = target.adopt(imapbase[0]) if imapbase else False
            if isinstance(item, MboxProblem):
                if item.fatal:
                    report.error("file", item.reason, where=f"line {item.line}")
                    break
                report.skipped(
                    f"message at line {item.line}", item.reason, where=f"line {item.line}"
                )
                continue
            if "deleted" in item.flags:
                if skip_deleted:
                    report.skipped(
                        f"message at line {item.line}",
                        "marked deleted (--skip-deleted)",
                        where=f"line {item.line}",
                    )
                    continue
                deleted += 1
            digest = hashlib.sha256(item.data).hexdigest()
            key = mbox_key(item.data, target.path, copies[digest], item.received)
            copies[digest] += 1
            _store(
                report,
                target,
                item.data,
                key,
                f"line {item.line}",
                uid=_kept_uid(item.uid, imapbase[1] if imapbase else None) if adopted else None,
                flags=item.flags,
                keywords=item.keywords,
                internal_date=item.received,
            )
    except _Stopped:
        return report
    if adopted and imapbase and not dry_run and target.folder is not None:
        # UIDNEXT of the old server (X-IMAPbase): UIDs of messages expunged there stay unused.
        do_reserve_uids(acting_account=account, folder=target.folder, uidnext=imapbase[1])
    if deleted:
        report.note(f"{deleted} message(s) were marked deleted (X-Status: D) and keep \\Deleted")
    _quota_note(report, account, dry_run)
    return report


def import_maildir(
    account: Account,
    root: Path,
    *,
    layout: str = "auto",
    max_message_bytes: int,
    dry_run: bool,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Report:
    report = Report()
    folders, problems = maildir_tree.scan_tree(root, layout)
    for p in problems:
        report.error("tree", p)
    listed = [(f, *maildir_tree.list_messages(f)) for f in folders]
    if on_total:
        on_total(sum(len(msgs) for _, msgs, _ in listed))
    try:
        for source, messages, file_problems in listed:
            for p in file_problems:
                report.skipped(source.name, p, where=source.name)
            try:
                target = _Target(account, source.name, report, dry_run)
            except InvalidFolderNameError as exc:
                report.error(
                    f"folder {source.name}",
                    f"{exc}; its {len(messages)} message(s) were not imported",
                )
                if progress:
                    progress(len(messages))
                continue
            adopted = target.adopt(source.uidvalidity)
            before = report.counts[CREATED], report.counts[PRESENT]
            for msg in messages:
                where = f"{source.name}: {msg.path.parent.name}/{msg.path.name}"
                try:
                    data = maildir_tree.read_message(msg, max_message_bytes)
                except (OSError, ValueError) as exc:
                    report.error("message", str(exc), where=where)
                    if progress:
                        progress(1)
                    continue
                _store(
                    report,
                    target,
                    data,
                    maildir_key(msg.key, data),
                    where,
                    uid=_kept_uid(msg.uid, source.uidnext) if adopted else None,
                    flags=msg.flags,
                    keywords=msg.keywords,
                    internal_date=_mtime(msg.mtime),
                )
                if progress:
                    progress(1)
            if messages:
                done = report.counts[CREATED] - before[0], report.counts[PRESENT] - before[1]
                report.note(
                    f"{source.name}: {done[0]} new, {done[1]} already there"
                    + (
                        f" (into {target.folder.name})"
                        if target.folder and target.folder.name != source.name
                        else ""
                    )
                )
            if adopted and source.uidnext and not dry_run and target.folder is not None:
                do_reserve_uids(
                    acting_account=account, folder=target.folder, uidnext=source.uidnext
                )
            if not messages and not dry_run:
                target.get()  # an empty folder is still a folder the user made
    except _Stopped:
        return report
    _quota_note(report, account, dry_run)
    return report


def _quota_note(report: Report, account: Account, dry_run: bool) -> None:
    """Imports are not refused by the quota (the mail was the user's already), but the admin
    should know when new mail will now be deferred."""
    account.refresh_from_db(fields=["quota_bytes"])
    if dry_run or not account.quota_bytes:
        return
    used = Message.objects.filter(account=account).aggregate(s=Sum("size"))["s"] or 0
    if used > account.quota_bytes:
        report.note(
            f"{account.address} now uses {used} bytes, over its quota of {account.quota_bytes}: "
            "new mail to it is deferred until it is raised or mail is deleted"
        )


def _kept_uid(uid: int | None, uidnext: int | None) -> int | None:
    """The UID to keep: the old server's, else (a message it had not numbered yet) at least
    its UIDNEXT, so UIDs it handed out to messages expunged since are never reused."""
    return uid if uid is not None else uidnext


def _mtime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
