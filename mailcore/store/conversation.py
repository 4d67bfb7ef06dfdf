"""Conversation keys: which messages of an account belong to one conversation (Gmail/Naver
"대화형 보기"). Computed once when a message is indexed (delivery, APPEND, import, reindex)
and kept in Message.conversation_id / Message.subject_key, so grouping a list is an index
probe, never a scan. Reads the index to find relatives; never writes rows itself.

The rule (README "Conversations" repeats it):

1. Headers first. A message joins the conversation of the first message of the same account
   (any folder) whose Message-ID it names: In-Reply-To, then References from the newest to
   the oldest, then its own Message-ID (a second copy of the same mail, e.g. Sent + Inbox).
2. Else the subject. Its normalised form (normalise_subject: leading `Re:` `RE:` `Fw:` `FW:`
   `Fwd:` `회신:` `전달:` `답장:` `Aw:` `Sv:`, numbered forms like `Re[2]:` or `Re^2:`, full-width
   colons and `[tag]` prefixes stripped repeatedly, spaces collapsed, case folded) must be
   non-empty and equal to that of a message of the same account that arrived within
   SUBJECT_WINDOW before it, AND the two must share a participant: the sender of one is a
   sender or recipient of the other, the account's own address not counting (so two people
   writing "문의" to the same alias stay apart, while a reply without headers joins). A
   conversation takes subject joins only while it has fewer than SUBJECT_JOIN_MAX messages
   (Gmail caps at 100), so a daily notification does not grow forever.
3. Else a new conversation, whose id is a hash of the Message-ID (or the Maildir key when
   there is none): stable across reindex, and below 2**52 so JavaScript reads it exactly.

A parent that arrives after its reply does not pull the reply over (lookups go backwards
only); it usually still joins through rule 2. `reindex` and the migration recompute every
key in arrival order with the same Threader, so a rebuilt index equals a delivered one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SUBJECT_WINDOW = timedelta(days=14)
SUBJECT_JOIN_MAX = 100
_CANDIDATES_PER_SUBJECT = 20  # newest same-subject messages looked at

_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:re|fw|fwd|aw|sv|회신|전달|답장)\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*[:：]"
    r"|\[[^\[\]]{0,60}\]"
    r"|【[^【】]{0,60}】"
    r")",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def normalise_subject(subject: str) -> str:
    """The subject with reply/forward markers and leading [tags] removed, for comparing."""
    text = unicodedata.normalize("NFKC", subject or "")
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return _SPACES.sub(" ", text).strip().casefold()


def _hash52(text: str) -> int:
    value = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return (value >> 12) or 1


def subject_key(subject: str) -> int:
    """A 52-bit hash of the normalised subject; 0 for an empty one (never joins by subject)."""
    norm = normalise_subject(subject)
    return _hash52("s:" + norm) if norm else 0


def new_conversation_id(message_id: str, fallback: str) -> int:
    return _hash52("c:" + (message_id or "k:" + fallback))


@dataclass(frozen=True, slots=True)
class Item:
    """What the rule reads of one message. Addresses are folded; `own` are the account's."""

    account_id: int
    message_id: str
    in_reply_to: str
    references: Sequence[str]
    subject: str
    sender: str
    participants: frozenset[str]
    when: datetime
    fallback_key: str
    own: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Seen:
    when: datetime
    sender: str
    participants: frozenset[str]
    conversation: int


def _fold(addr: str) -> str:
    return addr.strip().casefold()


def make_item(
    *,
    account_id: int,
    own: Iterable[str],
    message_id: str,
    in_reply_to: str,
    references: Iterable[str] | str,
    subject: str,
    from_addr: str,
    recipients: Iterable[str],
    when: datetime,
    fallback_key: str,
) -> Item:
    refs = references.split() if isinstance(references, str) else list(references)
    own_set = frozenset(_fold(a) for a in own if a)
    sender = _fold(from_addr)
    parts = frozenset(a for a in (_fold(r) for r in [from_addr, *recipients]) if a) - own_set
    return Item(
        account_id=account_id,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=refs,
        subject=subject,
        sender="" if sender in own_set else sender,
        participants=parts,
        when=when,
        fallback_key=fallback_key,
        own=own_set,
    )


def _lookup_ids(item: Item) -> list[str]:
    ids = [item.in_reply_to, *reversed(item.references), item.message_id]
    return [i for i in dict.fromkeys(ids) if i]


@dataclass(slots=True)
class Threader:
    """Assigns conversation ids to items given in arrival order. Holds what it has seen (and
    what `preload` put in from the index), so a batch threads among itself too."""

    by_msgid: dict[tuple[int, str], int] = field(default_factory=dict)
    by_subject: dict[tuple[int, int], list[_Seen]] = field(default_factory=dict)
    sizes: dict[tuple[int, int], int] = field(default_factory=dict)

    def remember_msgid(self, account_id: int, message_id: str, conversation: int) -> None:
        if message_id:
            self.by_msgid.setdefault((account_id, message_id), conversation)

    def remember_subject(
        self, account_id: int, key: int, seen: _Seen, *, count_size: bool = True
    ) -> None:
        if not key:
            return
        bucket = self.by_subject.setdefault((account_id, key), [])
        bucket.append(seen)
        if len(bucket) > _CANDIDATES_PER_SUBJECT:
            del bucket[0]
        if count_size:
            size_key = (account_id, seen.conversation)
            self.sizes[size_key] = self.sizes.get(size_key, 0) + 1

    def assign(self, item: Item) -> tuple[int, int]:
        """(conversation_id, subject_key) of `item`, remembered for later items."""
        skey = subject_key(item.subject)
        conversation = 0
        for ref in _lookup_ids(item):
            found = self.by_msgid.get((item.account_id, ref))
            if found:
                conversation = found
                break
        if not conversation and skey:
            conversation = self._by_subject(item, skey)
        if not conversation:
            conversation = new_conversation_id(item.message_id, item.fallback_key)
        self.remember_msgid(item.account_id, item.message_id, conversation)
        self.remember_subject(
            item.account_id,
            skey,
            _Seen(item.when, item.sender, item.participants, conversation),
        )
        if not skey:
            size_key = (item.account_id, conversation)
            self.sizes[size_key] = self.sizes.get(size_key, 0) + 1
        return conversation, skey

    def _by_subject(self, item: Item, skey: int) -> int:
        for seen in reversed(self.by_subject.get((item.account_id, skey), [])):
            if seen.when < item.when - SUBJECT_WINDOW or seen.when > item.when + SUBJECT_WINDOW:
                continue
            shared = (item.sender and item.sender in seen.participants) or (
                seen.sender and seen.sender in item.participants
            )
            if not shared:
                continue
            if self.sizes.get((item.account_id, seen.conversation), 0) >= SUBJECT_JOIN_MAX:
                continue
            return seen.conversation
        return 0


def assign_conversations(items: Sequence[Item]) -> list[tuple[int, int]]:
    """(conversation_id, subject_key) for each of `items` (new messages, in arrival order),
    from what the index already holds: two indexed queries, a third only when a subject
    could join. Runs outside the folder-row locks (it only reads)."""
    from django.db.models import Count

    from mailcore.store.models import Message

    if not items:
        return []
    threader = Threader()
    accounts = {i.account_id for i in items}
    ids = {ref for i in items for ref in _lookup_ids(i)}
    if ids:
        for account_id, msgid, conv in Message.objects.filter(
            account_id__in=accounts, message_id__in=ids
        ).values_list("account_id", "message_id", "conversation_id"):
            if conv:
                threader.remember_msgid(account_id, msgid, conv)
    keys = {k for k in (subject_key(i.subject) for i in items) if k}
    if keys:
        since = min(i.when for i in items) - SUBJECT_WINDOW
        own = {i.account_id: i.own for i in items}
        rows = list(
            Message.objects.filter(
                account_id__in=accounts, subject_key__in=keys, internal_date__gte=since
            )
            .order_by("-pk")
            .values_list(
                "account_id",
                "subject_key",
                "internal_date",
                "from_addr",
                "to_addrs",
                "cc_addrs",
                "conversation_id",
            )[: _CANDIDATES_PER_SUBJECT * len(keys)]
        )
        for account_id, key, when, from_addr, to_addrs, cc_addrs, conv in reversed(rows):
            if not conv:
                continue
            mine = own.get(account_id, frozenset())
            sender = _fold(from_addr)
            parts = {_fold(p[1]) for p in [*(to_addrs or []), *(cc_addrs or [])] if len(p) == 2}
            seen = _Seen(
                when,
                "" if sender in mine else sender,
                frozenset(a for a in {sender, *parts} if a) - mine,
                conv,
            )
            threader.remember_subject(account_id, key, seen, count_size=False)
        convs = {s.conversation for bucket in threader.by_subject.values() for s in bucket}
        for row in (
            Message.objects.filter(account_id__in=accounts, conversation_id__in=convs)
            .values("account_id", "conversation_id")
            .annotate(n=Count("pk"))
        ):
            threader.sizes[(row["account_id"], row["conversation_id"])] = row["n"]
    return [threader.assign(i) for i in items]


REBUILD_BATCH = 2000


def rebuild_conversations(
    message_model: Any, account_model: Any, *, account_ids: Iterable[int] | None = None
) -> int:
    """Recompute the keys of every message (of `account_ids`, else all) in arrival order with
    one Threader per account, reading and writing in batches of REBUILD_BATCH; rows whose keys
    did not change are not written. Takes the model classes so the migration can pass its
    historical ones. Returns how many rows changed."""
    from django.db import connection, transaction

    ids = (
        list(account_ids)
        if account_ids is not None
        else list(account_model.objects.order_by("pk").values_list("pk", flat=True))
    )
    changed = 0
    for account_id in ids:
        address = (
            account_model.objects.filter(pk=account_id).values_list("address", flat=True).first()
        )
        threader = Threader()
        last: tuple[datetime, int] | None = None
        while True:
            qs = message_model.objects.filter(account_id=account_id)
            if last is not None:
                from django.db.models import Q

                qs = qs.filter(
                    Q(internal_date__gt=last[0]) | Q(internal_date=last[0], pk__gt=last[1])
                )
            rows = list(
                qs.order_by("internal_date", "pk").values_list(
                    "pk",
                    "internal_date",
                    "message_id",
                    "in_reply_to",
                    "references",
                    "subject",
                    "from_addr",
                    "to_addrs",
                    "cc_addrs",
                    "maildir_key",
                    "conversation_id",
                    "subject_key",
                )[:REBUILD_BATCH]
            )
            if not rows:
                break
            updates: list[tuple[int, int, int]] = []
            for pk, when, msgid, irt, refs, subj, frm, to, cc, key, old_conv, old_skey in rows:
                item = make_item(
                    account_id=account_id,
                    own=[address or ""],
                    message_id=msgid,
                    in_reply_to=irt,
                    references=refs,
                    subject=subj,
                    from_addr=frm,
                    recipients=[p[1] for p in [*(to or []), *(cc or [])] if len(p) == 2],
                    when=when,
                    fallback_key=key,
                )
                conv, skey = threader.assign(item)
                if (conv, skey) != (old_conv, old_skey):
                    updates.append((pk, conv, skey))
            if updates:
                # One statement per batch, pipelined (psycopg) or prepared once (SQLite).
                table = connection.ops.quote_name(message_model._meta.db_table)
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.executemany(
                        f"UPDATE {table} SET conversation_id = %s, subject_key = %s "  # noqa: S608
                        "WHERE id = %s",
                        [(conv, skey, pk) for pk, conv, skey in updates],
                    )
            changed += len(updates)
            last = (rows[-1][1], rows[-1][0])
    return changed


def conversation_fields(
    arrivals: Sequence[tuple[Any, Any, datetime, str]],
) -> list[dict[str, int]]:
    """Message(...) keyword arguments (conversation_id, subject_key) for each of `arrivals`,
    (account, ParsedMessage, internal date, Maildir key) in arrival order: what every store
    path that makes a row (do_deliver, do_deliver_many, reindex) adds to listing_fields."""
    items = [
        make_item(
            account_id=account.pk,
            own=[account.address],
            message_id=parsed.message_id[:998],
            in_reply_to=parsed.in_reply_to[:998],
            references=parsed.references,
            subject=parsed.subject,
            from_addr=parsed.from_[0].addr if parsed.from_ else "",
            recipients=[a.addr for a in [*parsed.to[:100], *parsed.cc[:100]]],
            when=when,
            fallback_key=key,
        )
        for account, parsed, when, key in arrivals
    ]
    return [
        {"conversation_id": conv, "subject_key": skey} for conv, skey in assign_conversations(items)
    ]
