"""Sieve interpreter: a parsed script + one message -> a Decision (what to do with it).

Pure: the caller (mailcore.rules.apply) turns the Decision into folders, flags, bounces,
forwards and replies. Run-time limits (steps, redirects, fileintos) stop a hostile script;
a script that fails at run time keeps the message in INBOX (RFC 5228 §2.10.6).
"""

from __future__ import annotations

import email.header
import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, cast

from mailcore.rules.patterns import match_any
from mailcore.rules.sieve import Node, Script

MAX_STEPS: Final = 5000
MAX_REDIRECTS: Final = 4  # Pigeonhole sieve_max_redirects default
MAX_FILEINTO: Final = 16
MAX_HEADER_VALUES: Final = 200


class SieveRuntimeError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Message:
    """What a script may look at. `headers` are (name, raw value) in order; `body` gives the
    text lazily (only scripts with a body test pay for it); `facts` are the delivery
    verdicts (dmarc, spf, dkim, spam_score, junk, attachment) seen via `environment`."""

    headers: tuple[tuple[str, str], ...]
    size: int
    envelope_from: str = ""
    envelope_to: str = ""
    body: Callable[[], str] = lambda: ""
    facts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Filing:
    folder: str
    flags: tuple[str, ...]
    create: bool = False


@dataclass(frozen=True, slots=True)
class VacationRequest:
    reason: str
    subject: str = ""
    days: int = 7
    seconds: int | None = None
    from_: str = ""
    addresses: tuple[str, ...] = ()
    handle: str = ""


@dataclass(slots=True)
class Decision:
    """The script's verdict. `filings` include INBOX when the (implicit) keep stands."""

    filings: list[Filing] = field(default_factory=list)
    redirects: list[str] = field(default_factory=list)
    reject: str | None = None
    discarded: bool = False
    vacation: VacationRequest | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def delivers(self) -> bool:
        return bool(self.filings)


class _Stop(Exception):
    pass


def _decode(value: str) -> str:
    """RFC 2047 words decoded (RFC 5228 §5.7: tests see decoded header values)."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return value


class _Run:
    def __init__(self, script: Script, message: Message) -> None:
        self.script = script
        self.msg = message
        self.steps = 0
        self.flags: list[str] = []
        self.keep = True  # implicit keep, cancelled by fileinto/redirect/discard/reject
        self.explicit_keep: tuple[str, ...] | None = None
        self.decision = Decision()
        self._body: str | None = None

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SieveRuntimeError(f"script ran more than {MAX_STEPS} steps")

    # ------------------------------------------------------------------ commands
    def block(self, commands: list[Node]) -> None:
        branch_taken = False
        for node in commands:
            self.tick()
            if node.name == "require":
                continue
            if node.name == "if":
                branch_taken = self.test(node.tests[0])
                if branch_taken:
                    self.block(node.block or [])
                continue
            if node.name == "elsif":
                if not branch_taken:
                    branch_taken = self.test(node.tests[0])
                    if branch_taken:
                        self.block(node.block or [])
                continue
            if node.name == "else":
                if not branch_taken:
                    self.block(node.block or [])
                continue
            getattr(self, "cmd_" + node.name)(node)

    def cmd_stop(self, node: Node) -> None:
        raise _Stop

    def cmd_keep(self, node: Node) -> None:
        flags = node.tags.get("flags")
        self.explicit_keep = tuple(_flag_words(flags)) if flags is not None else tuple(self.flags)

    def cmd_discard(self, node: Node) -> None:
        self.keep = False
        self.decision.discarded = True

    def cmd_fileinto(self, node: Node) -> None:
        if len(self.decision.filings) >= MAX_FILEINTO:
            raise SieveRuntimeError(f"more than {MAX_FILEINTO} fileinto actions")
        folder = node.string(0)
        flags = node.tags.get("flags")
        words = _flag_words(flags) if flags is not None else list(self.flags)
        filing = Filing(folder, tuple(words), bool(node.tags.get("create")))
        if all(f.folder != folder for f in self.decision.filings):
            self.decision.filings.append(filing)
        if not node.tags.get("copy"):
            self.keep = False

    def cmd_redirect(self, node: Node) -> None:
        address = node.string(0).strip()
        if "@" not in address or any(c in address for c in "<>\r\n ,"):
            raise SieveRuntimeError(f"redirect to an invalid address {address[:80]!r}")
        if address.lower() not in (a.lower() for a in self.decision.redirects):
            if len(self.decision.redirects) >= MAX_REDIRECTS:
                raise SieveRuntimeError(f"more than {MAX_REDIRECTS} redirects")
            self.decision.redirects.append(address)
        if not node.tags.get("copy"):
            self.keep = False

    def cmd_reject(self, node: Node) -> None:
        self.decision.reject = node.string(0)
        self.keep = False

    def cmd_addflag(self, node: Node) -> None:
        for word in _flag_words(node.positional[0]):
            if word.lower() not in (f.lower() for f in self.flags):
                self.flags.append(word)

    def cmd_setflag(self, node: Node) -> None:
        self.flags = []
        self.cmd_addflag(node)

    def cmd_removeflag(self, node: Node) -> None:
        gone = {w.lower() for w in _flag_words(node.positional[0])}
        self.flags = [f for f in self.flags if f.lower() not in gone]

    def cmd_vacation(self, node: Node) -> None:
        t = node.tags
        self.decision.vacation = VacationRequest(
            reason=node.string(0),
            subject=str(t.get("subject", "")),
            days=node.number("days", 7),
            seconds=node.number("seconds") if "seconds" in t else None,
            from_=str(t.get("from", "")),
            addresses=tuple(str(a) for a in cast(list[str], t.get("addresses", []))),
            handle=str(t.get("handle", "")),
        )

    # ------------------------------------------------------------------ tests
    def test(self, node: Node) -> bool:
        self.tick()
        name = node.name
        if name == "true":
            return True
        if name == "false":
            return False
        if name == "not":
            return not self.test(node.tests[0])
        if name == "allof":
            return all(self.test(t) for t in node.tests)
        if name == "anyof":
            return any(self.test(t) for t in node.tests)
        if name == "size":
            if "over" in node.tags:
                return self.msg.size > node.number("over")
            return self.msg.size < node.number("under")
        if name == "exists":
            present = {h.lower() for h, _ in self.msg.headers}
            return all(n.lower() in present for n in node.strings(0))
        values: list[str]
        if name == "header":
            values = self.header_values(node.strings(0))
        elif name == "address":
            values = self.address_values(node, self.header_values(node.strings(0), raw=True))
        elif name == "envelope":
            values = self.address_values(node, self.envelope_values(node.strings(0)))
        elif name == "body":
            values = [self.body()]
        elif name == "environment":
            item = self.environment(node.string(0))
            if item is None:
                return False  # RFC 5183 §4: an item that is not defined fails the test
            values = [item]
        elif name == "hasflag":
            values = list(self.flags)
        else:  # validated away
            raise SieveRuntimeError(f"unknown test {name}")
        return self.compare(node, values, node.strings(len(node.positional) - 1))

    def compare(self, node: Node, values: list[str], keys: list[str]) -> bool:
        match = next(
            (m for m in ("contains", "matches", "regex", "value", "count") if m in node.tags), "is"
        )
        relation = str(node.tags.get(match, "")).lower() if match in ("value", "count") else ""
        comparator = str(node.tags.get("comparator", "i;ascii-casemap")).lower()
        if node.name == "hasflag" and match != "count":
            values = [w for v in values for w in v.split()]
        return match_any(values, keys, match=match, comparator=comparator, relation=relation)

    def header_values(self, names: list[str], *, raw: bool = False) -> list[str]:
        wanted = {n.lower() for n in names}
        out = [v for h, v in self.msg.headers if h.lower() in wanted][:MAX_HEADER_VALUES]
        return out if raw else [_decode(v).strip() for v in out]

    def envelope_values(self, parts: list[str]) -> list[str]:
        out = []
        for part in parts:
            if part.lower() == "from":
                out.append(self.msg.envelope_from)
            elif part.lower() == "to":
                out.append(self.msg.envelope_to)
        return out

    def address_values(self, node: Node, raw: list[str]) -> list[str]:
        part = next((p for p in ("localpart", "domain") if p in node.tags), "all")
        out: list[str] = []
        if node.name == "envelope":
            pairs = [("", v) for v in raw]
        else:
            pairs = email.utils.getaddresses([_decode(v) for v in raw])
        for _, addr in pairs:
            if node.name != "envelope" and not addr:
                continue
            local, at, domain = addr.rpartition("@")
            if part == "localpart":
                out.append(local if at else addr)
            elif part == "domain":
                out.append(domain if at else "")
            else:
                out.append(addr)
        return out

    def body(self) -> str:
        if self._body is None:
            self._body = self.msg.body()
        return self._body

    def environment(self, name: str) -> str | None:
        # RFC 5183 vendor items: "vnd.mailroom.dmarc" etc. come from the delivery's facts.
        prefix = "vnd.mailroom."
        if name.lower().startswith(prefix):
            value = self.msg.facts.get(name[len(prefix) :].lower())
            return None if value in (None, "") else str(value)
        if name.lower() == "domain":
            return self.msg.envelope_to.rpartition("@")[2]
        return None


def _flag_words(value: object) -> list[str]:
    # RFC 5232 §3: flag lists are space-separated words inside strings.
    words: list[str] = []
    for item in value if isinstance(value, list) else []:
        for word in str(item).split():
            if word.lower() not in (w.lower() for w in words):
                words.append(word)
    return words


def run(script: Script, message: Message) -> Decision:
    """Evaluate `script` on `message`. Never raises for a script problem: a run-time error
    falls back to keeping the message in INBOX with a note."""
    state = _Run(script, message)
    try:
        state.block(script.commands)
    except _Stop:
        pass
    except SieveRuntimeError as exc:
        decision = Decision(filings=[Filing("INBOX", ())], notes=[f"sieve error: {exc}"])
        return decision
    decision = state.decision
    if decision.reject is not None:
        # RFC 5429 §2.1: reject cancels the keep; fileinto/vacation with reject is an error.
        decision.filings, decision.vacation = [], None
        return decision
    kept = (
        state.explicit_keep
        if state.explicit_keep is not None
        else (tuple(state.flags) if state.keep else None)
    )
    # RFC 5228 §4.2: keep and fileinto into the same mailbox store one copy.
    if kept is not None and all(f.folder.upper() != "INBOX" for f in decision.filings):
        decision.filings.insert(0, Filing("INBOX", kept))
    if decision.filings:
        decision.discarded = False
    return decision
