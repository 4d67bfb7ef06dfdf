"""What an import did, line by line: created, already present, skipped (with a reason) and
errors (with where). Pure data and formatting; no Django."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CREATED = "created"
UPDATED = "updated"
PRESENT = "present"
SKIPPED = "skipped"
ERROR = "error"


@dataclass(frozen=True, slots=True)
class Entry:
    outcome: str  # CREATED | UPDATED | PRESENT | SKIPPED | ERROR
    what: str  # the record, as the admin would recognise it
    where: str = ""  # "line 12", "aliases:12", "cur/1700000000.M1.host"
    reason: str = ""


@dataclass(slots=True)
class Report:
    """Accumulates entries; `counts` keeps totals even for entries not kept in `entries`
    (message imports count every message but list only problems)."""

    entries: list[Entry] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # A directory import with errors and without --skip-errors writes nothing (rolled back).
    discarded: bool = False

    def add(
        self, outcome: str, what: str, *, where: str = "", reason: str = "", keep: bool = True
    ) -> None:
        self.counts[outcome] += 1
        if keep:
            self.entries.append(Entry(outcome, what, where, reason))

    def created(self, what: str, **kw: object) -> None:
        self.add(CREATED, what, **kw)  # type: ignore[arg-type]

    def present(self, what: str, **kw: object) -> None:
        self.add(PRESENT, what, **kw)  # type: ignore[arg-type]

    def skipped(self, what: str, reason: str, *, where: str = "") -> None:
        self.add(SKIPPED, what, where=where, reason=reason)

    def error(self, what: str, reason: str, *, where: str = "") -> None:
        self.add(ERROR, what, where=where, reason=reason)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def errors(self) -> int:
        return self.counts[ERROR]

    def of(self, outcome: str) -> list[Entry]:
        return [e for e in self.entries if e.outcome == outcome]


_LABELS = {
    CREATED: "created",
    UPDATED: "updated",
    PRESENT: "already present",
    SKIPPED: "skipped",
    ERROR: "errors",
}


def summary_line(report: Report, *, dry_run: bool) -> str:
    parts = [f"{_LABELS[o]} {report.counts[o]}" for o in (CREATED, UPDATED, PRESENT)]
    parts += [f"{_LABELS[o]} {report.counts[o]}" for o in (SKIPPED, ERROR)]
    text = ", ".join(parts)
    if dry_run:
        return f"dry run, nothing written: would have {text}"
    if report.discarded:
        return f"nothing written because of the errors (--skip-errors imports the rest): {text}"
    return text


def format_report(report: Report, *, dry_run: bool, verbose: bool = True) -> list[str]:
    """Lines for the terminal: every entry (created/present only when `verbose`), then notes,
    then the one-line summary."""
    lines: list[str] = []
    for entry in report.entries:
        if entry.outcome in (CREATED, UPDATED, PRESENT) and not verbose:
            continue
        label = _LABELS[entry.outcome] if entry.outcome != ERROR else "error"
        where = f"{entry.where}: " if entry.where else ""
        reason = f" — {entry.reason}" if entry.reason else ""
        lines.append(f"{label:>15}  {where}{entry.what}{reason}")
    lines.extend(f"note: {n}" for n in report.notes)
    lines.append(summary_line(report, dry_run=dry_run))
    return lines
