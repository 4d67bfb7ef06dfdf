"""A foreign Maildir tree (Dovecot, Courier, mutt, an older Mailroom) → folders and message
files, read-only. Pure: no Django, and nothing here ever writes; the store's own Maildir
module stays the only writer of mail files.

Layouts: Maildir++ (`.Sent`, `.Work.Sub`, names in modified UTF-7) and Dovecot's LAYOUT=fs
(`Sent/`, `Work/Sub/`, each with cur/ new/ tmp/); `auto` reads both. Flags come from the
':2,' suffix (D F P R S T, and a–z through `dovecot-keywords`); UIDs and UIDVALIDITY from
`dovecot-uidlist` (versions 1 and 3), `courierimapuiddb` or `mailroom-uidlist`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 16
_INFO_SEPARATORS = (":2,", ";2,", "!2,")  # ';' and '!' where ':' cannot be in a file name
FLAG_LETTERS = {"D": "draft", "F": "flagged", "R": "answered", "S": "seen", "T": "deleted"}
PASSED_KEYWORD = "$Forwarded"  # 'P' (passed) is the IMAP keyword $Forwarded
_KEYWORD_OK = re.compile(r"^[^\s(){%*\"\\\]]{1,64}$")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_NOT_FOLDERS = {"cur", "new", "tmp"}


@dataclass(slots=True)
class SourceFolder:
    name: str  # display name: 'INBOX', 'Work/Sub'
    directory: Path
    uidvalidity: int | None = None
    uidnext: int | None = None
    uids: dict[str, int] = field(default_factory=dict)  # base name → UID
    keywords: list[str] = field(default_factory=list)  # dovecot-keywords, by letter index
    uid_source: str = ""


@dataclass(frozen=True, slots=True)
class SourceMessage:
    path: Path
    key: str  # base name, without the info suffix
    in_cur: bool
    flags: frozenset[str]
    keywords: tuple[str, ...]
    uid: int | None
    mtime: float
    size: int


def find_root(path: Path) -> Path | None:
    """The Maildir itself: `path`, or `path/Maildir` for a home directory. A symbolic link
    inside a user's directory is not followed: it could point at someone else's mail."""
    for candidate in (path, path / "Maildir"):
        if candidate != path and candidate.is_symlink():
            continue
        if _is_maildir(candidate):
            return candidate
    # A Dovecot fs-layout mail directory may have no INBOX of its own (INBOX elsewhere).
    if path.is_dir() and any(_is_maildir(p) for p in _subdirs(path)):
        return path
    return None


def _is_maildir(d: Path) -> bool:
    return any((d / sub).is_dir() and not (d / sub).is_symlink() for sub in ("cur", "new"))


def _subdirs(d: Path) -> list[Path]:
    try:
        with os.scandir(d) as it:
            return sorted(
                Path(e.path)
                for e in it
                if e.is_dir(follow_symlinks=False) and e.name not in _NOT_FOLDERS
            )
    except OSError:
        return []


def mutf7_decode(text: str) -> str:
    """RFC 3501 §5.1.3 modified UTF-7 → text; a component that is not valid modified UTF-7
    (Dovecot with UTF8 names, or an 8-bit name) is returned unchanged."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "&":
            out.append(text[i])
            i += 1
            continue
        end = text.find("-", i)
        if end < 0:
            return text
        chunk = text[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/") + "=" * (-len(chunk) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                return text
        i = end + 1
    return "".join(out)


def scan_tree(root: Path, layout: str = "auto") -> tuple[list[SourceFolder], list[str]]:
    """Every folder of the tree (INBOX first), and problems found while looking."""
    folders: list[SourceFolder] = []
    problems: list[str] = []
    if _is_maildir(root):
        folders.append(_folder("INBOX", root, problems))
    if layout in ("auto", "maildir++"):
        for d in _subdirs(root):
            if d.name.startswith(".") and d.name not in (".", "..") and _is_maildir(d):
                parts = [mutf7_decode(p) for p in d.name[1:].split(".")]
                if not all(parts):
                    problems.append(f"{d.name}: empty folder name component; skipped")
                    continue
                name = "/".join(parts)
                if name.upper() == "INBOX":
                    name = "INBOX"
                folders.append(_folder(name, d, problems))
    if layout in ("auto", "fs"):
        _walk_fs(root, [], folders, problems)
    merged: dict[str, SourceFolder] = {}
    for f in folders:
        if f.name in merged:
            problems.append(f"{f.directory}: a second folder named {f.name!r}; skipped")
            continue
        merged[f.name] = f
    return list(merged.values()), problems


def _walk_fs(d: Path, parts: list[str], out: list[SourceFolder], problems: list[str]) -> None:
    if len(parts) >= MAX_DEPTH:
        problems.append(f"{d}: nested deeper than {MAX_DEPTH} levels; not read")
        return
    for sub in _subdirs(d):
        if sub.name.startswith("."):
            continue  # Maildir++ folders and hidden directories are not fs-layout folders
        name_parts = [*parts, mutf7_decode(sub.name)]
        if _is_maildir(sub):
            name = "/".join(name_parts)
            out.append(_folder("INBOX" if name.upper() == "INBOX" else name, sub, problems))
        _walk_fs(sub, name_parts, out, problems)


def _folder(name: str, d: Path, problems: list[str]) -> SourceFolder:
    folder = SourceFolder(name=name, directory=d)
    for reader in (_dovecot_uidlist, _mailroom_uidlist, _courier_uiddb):
        try:
            found = reader(d)
        except (OSError, ValueError) as exc:
            problems.append(f"{d}: cannot read its UID list ({exc}); new UIDs are given")
            continue
        if found is not None:
            folder.uidvalidity, folder.uidnext, folder.uids, folder.uid_source = found
            break
    try:
        text = (d / "dovecot-keywords").read_text("utf-8", errors="replace")
    except OSError:
        text = ""
    names = [""] * 26
    for line in text.splitlines():
        idx, _, kw = line.strip().partition(" ")
        if idx.isdigit() and int(idx) < 26:
            names[int(idx)] = kw.strip()
    folder.keywords = names
    return folder


_UidList = tuple[int | None, int | None, dict[str, int], str]


def _base(filename: str) -> str:
    for sep in _INFO_SEPARATORS:
        if sep in filename:
            return filename.split(sep, 1)[0]
    return filename.split(":", 1)[0]


def _dovecot_uidlist(d: Path) -> _UidList | None:
    try:
        lines = (d / "dovecot-uidlist").read_text("utf-8", errors="surrogateescape").splitlines()
    except FileNotFoundError:
        return None
    if not lines:
        return None
    head = lines[0].split()
    uidvalidity = uidnext = None
    if head and head[0] == "1" and len(head) >= 3:  # version 1: "1 <uidvalidity> <nextuid>"
        uidvalidity, uidnext = int(head[1]), int(head[2])
    else:  # version 3: "3 V<uidvalidity> N<nextuid> G<guid>"
        for tok in head[1:]:
            if tok[:1] == "V" and tok[1:].isdigit():
                uidvalidity = int(tok[1:])
            elif tok[:1] == "N" and tok[1:].isdigit():
                uidnext = int(tok[1:])
    uids: dict[str, int] = {}
    for line in lines[1:]:
        uid, _, rest = line.partition(" ")
        if not uid.isdigit() or not rest:
            continue
        # v3: "<uid> [<ext fields>] :<filename>"; v1: "<uid> <filename>".
        if rest.startswith(":"):
            filename = rest[1:]
        elif " :" in rest:
            filename = rest.split(" :", 1)[1]
        else:
            filename = rest.split()[-1]
        uids[_base(filename)] = int(uid)
    return _valid(uidvalidity), _valid(uidnext), uids, "dovecot-uidlist"


def _mailroom_uidlist(d: Path) -> _UidList | None:
    try:
        lines = (d / "mailroom-uidlist").read_text("ascii", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    uidvalidity = None
    if lines and lines[0].startswith("mailroom-uidlist"):
        for tok in lines[0].split()[2:]:
            if tok[:1] == "V" and tok[1:].isdigit():
                uidvalidity = int(tok[1:])
        lines = lines[1:]
    uids = {}
    for line in lines:
        uid, _, key = line.partition(" ")
        if uid.isdigit() and key:
            uids[key] = int(uid)
    return _valid(uidvalidity), None, uids, "mailroom-uidlist"


def _courier_uiddb(d: Path) -> _UidList | None:
    try:
        lines = (d / "courierimapuiddb").read_text("utf-8", errors="surrogateescape").splitlines()
    except FileNotFoundError:
        return None
    head = lines[0].split() if lines else []
    if len(head) < 3 or not head[1].isdigit() or not head[2].isdigit():
        return None
    uids = {}
    for line in lines[1:]:
        uid, _, filename = line.partition(" ")
        if uid.isdigit() and filename:
            uids[_base(filename.strip())] = int(uid)
    return _valid(int(head[1])), _valid(int(head[2])), uids, "courierimapuiddb"


def _valid(n: int | None) -> int | None:
    return n if n is not None and 0 < n < 2**32 else None


def list_messages(folder: SourceFolder) -> tuple[list[SourceMessage], list[str]]:
    """The folder's message files, in UID order (files without a UID last, oldest first)."""
    out: list[SourceMessage] = []
    problems: list[str] = []
    for sub in ("cur", "new"):
        if (folder.directory / sub).is_symlink():
            problems.append(f"{sub}: a symbolic link; not followed")
            continue
        try:
            it = os.scandir(folder.directory / sub)
        except FileNotFoundError:
            continue
        with it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    problems.append(f"{sub}/{entry.name}: not a regular file; skipped")
                    continue
                st = entry.stat(follow_symlinks=False)
                key, info = _split(entry.name) if sub == "cur" else (_base(entry.name), "")
                flags, keywords = _flags(info, folder.keywords)
                uid = folder.uids.get(key)
                out.append(
                    SourceMessage(
                        Path(entry.path),
                        key,
                        sub == "cur",
                        flags,
                        keywords,
                        uid,
                        st.st_mtime,
                        st.st_size,
                    )
                )
    out.sort(key=lambda m: (m.uid if m.uid is not None else 1 << 40, m.mtime, m.key))
    return out, problems


def _split(filename: str) -> tuple[str, str]:
    for sep in _INFO_SEPARATORS:
        if sep in filename:
            key, info = filename.split(sep, 1)
            return key, info
    return filename.split(":", 1)[0], ""


def _flags(info: str, keyword_names: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    flags = {FLAG_LETTERS[c] for c in info if c in FLAG_LETTERS}
    keywords: list[str] = [PASSED_KEYWORD] if "P" in info else []
    for c in info:
        if "a" <= c <= "z":
            name = (
                keyword_names[ord(c) - ord("a")] if ord(c) - ord("a") < len(keyword_names) else ""
            )
            if name and _KEYWORD_OK.match(name) and name not in keywords:
                keywords.append(name)
    return frozenset(flags), tuple(keywords)


def read_message(message: SourceMessage, max_bytes: int) -> bytes:
    """The file's bytes with CRLF line ends (the store's form). Raises OSError, or ValueError
    when the file is larger than `max_bytes`."""
    with open(message.path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"larger than the {max_bytes}-byte limit")
    return to_crlf(data)


def to_crlf(data: bytes) -> bytes:
    return _BARE_LF.sub(b"\r\n", data)


def iter_all(
    folders: list[SourceFolder],
) -> Iterator[tuple[SourceFolder, list[SourceMessage], list[str]]]:
    for folder in folders:
        messages, problems = list_messages(folder)
        yield folder, messages, problems
