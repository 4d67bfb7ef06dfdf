"""Maildir++ on disk: the only module that touches mail files.

Writes follow the Maildir protocol (tmp/ → fsync file → link into new/ or cur/ → fsync the
directory), so a message is either completely there or not at all. Flags live in the ':2,'
suffix, UIDs in `mailroom-uidlist` (append-only), keyword letters in `dovecot-keywords`.
Nothing here knows about the database.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mailcore.errors import InvalidFolderNameError, MessageFileMissingError, StorageError
from mailcore.fsutil import fsync_dir, write_all, write_new_file

UIDLIST = "mailroom-uidlist"
KEYWORDS = "dovecot-keywords"
MAX_FOLDER_DEPTH = 16
MAX_COMPONENT_BYTES = 200
SYSTEM_FLAGS = "DFPRST"  # maildir(5): Draft Flagged Passed Replied Seen Trashed
KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_INFO_SEP = ":2,"
LOCATE_ATTEMPTS = 5  # lookups of a file renamed under us (each rename is one more flag change)

_T = TypeVar("_T")


# --- folder names ---------------------------------------------------------------------------


def _mutf7_encode(text: str) -> str:
    """RFC 3501 §5.1.3 modified UTF-7 (the encoding of IMAP and Maildir++ folder names)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append(
                "&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-"
            )
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def _mutf7_decode(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i)
        if end < 0:
            raise InvalidFolderNameError("unterminated modified UTF-7 sequence")
        chunk = text[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidFolderNameError("invalid modified UTF-7 sequence") from exc
        i = end + 1
    return "".join(out)


def folder_path_for_name(name: str) -> str:
    """Display name ('Work/Projects') → Maildir++ directory ('.Work.Projects'); INBOX → ''.

    Refuses anything that could leave the Maildir: '.' and '/' inside a component, empty or
    '..' components, control characters (security.md I5).
    """
    if name.upper() == "INBOX":
        return ""
    parts = name.split("/")
    if len(parts) > MAX_FOLDER_DEPTH:
        raise InvalidFolderNameError("folder nesting is too deep")
    encoded: list[str] = []
    for part in parts:
        if not part or part.strip() != part:
            raise InvalidFolderNameError("folder names cannot be empty or start/end with spaces")
        if "." in part or "\\" in part or part[0] == "~":
            raise InvalidFolderNameError(
                "folder names cannot contain '.' or '\\' or start with '~'"
            )
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in part):
            raise InvalidFolderNameError("folder names cannot contain control characters")
        enc = _mutf7_encode(part)
        if len(enc.encode()) > MAX_COMPONENT_BYTES:
            raise InvalidFolderNameError("folder name is too long")
        encoded.append(enc)
    return "." + ".".join(encoded)


def folder_name_for_path(path: str) -> str:
    """Inverse of folder_path_for_name; raises InvalidFolderNameError for foreign junk."""
    if path == "":
        return "INBOX"
    if not path.startswith(".") or path in {".", ".."}:
        raise InvalidFolderNameError(f"not a Maildir++ folder: {path!r}")
    name = "/".join(_mutf7_decode(p) for p in path[1:].split("."))
    if folder_path_for_name(name) != path:
        raise InvalidFolderNameError(f"not a canonical Maildir++ folder: {path!r}")
    return name


# --- file names -----------------------------------------------------------------------------

_KEY_OK = re.compile(r"^[A-Za-z0-9._=,+-]{1,200}$")
_HOST_CLEAN = re.compile(r"[^A-Za-z0-9.-]")


def safe_hostname(hostname: str) -> str:
    return _HOST_CLEAN.sub("_", hostname)[:100] or "localhost"


def new_key(hostname: str, size: int) -> str:
    """A fresh unique base name (maildir(5): time.MusecPpid_random.host,S=size)."""
    now = time.time()
    sec = int(now)
    usec = int((now - sec) * 1_000_000)
    rand = os.urandom(5).hex()
    return f"{sec}.M{usec}P{os.getpid()}R{rand}.{safe_hostname(hostname)},S={size}"


def split_filename(filename: str) -> tuple[str, str]:
    """'key:2,FS' → ('key', 'FS'); a file without info → (name, '')."""
    key, sep, info = filename.partition(_INFO_SEP)
    return (key, info) if sep else (filename, "")


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    in_cur: bool
    info: str  # letters after ':2,' (system flags then keyword letters)
    size: int
    mtime: float


def _check_key(key: str) -> None:
    if not _KEY_OK.match(key) or key.startswith("."):
        raise StorageError(f"refusing unsafe maildir key {key!r}")


class Maildir:
    """One account's Maildir++ tree rooted at `root` (…/<domain>/<user>/Maildir)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- folders --
    def folder_dir(self, path: str) -> Path:
        if path and (not path.startswith(".") or "/" in path or path in {".", ".."}):
            raise InvalidFolderNameError(f"bad folder path {path!r}")
        return self.root / path if path else self.root

    def create_folder(self, path: str, uidvalidity: int) -> None:
        """Create cur/new/tmp (and the uidlist header) if missing; safe to repeat."""
        d = self.folder_dir(path)
        try:
            for sub in ("cur", "new", "tmp"):
                (d / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            if path:
                (d / "maildirfolder").touch(exist_ok=True)
            uidlist = d / UIDLIST
            if not uidlist.exists():
                self._write_atomic(uidlist, f"mailroom-uidlist 1 V{uidvalidity}\n".encode())
            fsync_dir(d)
            fsync_dir(d.parent)
        except OSError as exc:
            raise StorageError(f"cannot create folder {path!r}: {exc}") from exc

    def rename_folder(self, old: str, new: str) -> None:
        src, dst = self.folder_dir(old), self.folder_dir(new)
        if dst.exists():
            raise StorageError(f"folder directory {new!r} exists already")
        try:
            os.rename(src, dst)
            # Maildir++ keeps children as siblings: '.A.B' moves with '.A'.
            for child in sorted(self.root.glob(f"{old}.*")):
                os.rename(child, self.root / (new + child.name[len(old) :]))
            fsync_dir(self.root)
        except OSError as exc:
            raise StorageError(f"cannot rename folder: {exc}") from exc

    def delete_folder(self, path: str) -> None:
        """Remove an (empty of messages) folder directory tree."""
        d = self.folder_dir(path)
        if not path:
            raise StorageError("INBOX cannot be deleted")
        import shutil

        try:
            shutil.rmtree(d)
            fsync_dir(self.root)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete folder {path!r}: {exc}") from exc

    def list_folder_paths(self) -> list[str]:
        """'' plus every Maildir++ subfolder that has a cur/ directory."""
        paths = [""] if (self.root / "cur").is_dir() else []
        if self.root.is_dir():
            paths.extend(
                entry.name
                for entry in sorted(os.scandir(self.root), key=lambda e: e.name)
                if entry.name.startswith(".")
                and entry.name not in {".", ".."}
                and entry.is_dir()
                and os.path.isdir(os.path.join(entry.path, "cur"))
            )
        return paths

    # -- messages --
    def deliver(
        self,
        path: str,
        key: str,
        data: bytes,
        *,
        info: str = "",
        in_cur: bool = False,
        mtime: float | None = None,
    ) -> tuple[StoredFile, bool]:
        """Store `data` as `key` in folder `path`. Returns (file, created).

        created is False when the key is already present (a repeated delivery): the existing
        file is kept untouched. Raises StorageError on any I/O failure; nothing is left in
        new/ or cur/ then.
        """
        _check_key(key)
        d = self.folder_dir(path)
        existing = self._lookup_fast(d, key, info, in_cur)
        if existing is not None:
            return existing, False
        tmp = d / "tmp" / key
        target = (d / "cur" / f"{key}{_INFO_SEP}{info}") if (in_cur or info) else (d / "new" / key)
        try:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # debris of an attempt that died before its link
            write_new_file(tmp, data)
            if mtime is not None:
                os.utime(tmp, (mtime, mtime))
            created = True
            try:
                os.link(tmp, target)
            except FileExistsError:
                created = False
            os.unlink(tmp)
            # Only the link must be durable; a tmp/ name that reappears after a crash is
            # debris that clean_tmp() removes.
            fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StorageError(f"cannot write message {key}: {exc}") from exc
        st = target.stat()
        return StoredFile(key, target.parent.name == "cur", info, st.st_size, st.st_mtime), created

    def _lookup_fast(self, d: Path, key: str, info: str, in_cur: bool) -> StoredFile | None:
        for candidate in (d / "new" / key, d / "cur" / f"{key}{_INFO_SEP}{info}"):
            try:
                st = candidate.stat()
            except FileNotFoundError:
                continue
            cur = candidate.parent.name == "cur"
            return StoredFile(key, cur, info if cur else "", st.st_size, st.st_mtime)
        return None

    def locate(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> Path:
        """Path of the file for `key`; tries the expected name first, then scans (another
        Maildir client may have renamed it). Raises StorageError when it is gone."""
        _check_key(key)
        d = self.folder_dir(path)
        expected = d / "cur" / f"{key}{_INFO_SEP}{info}" if in_cur else d / "new" / key
        if expected.exists():
            return expected
        if (d / "new" / key).exists():
            return d / "new" / key
        prefix = key + ":"
        try:
            with os.scandir(d / "cur") as it:
                for entry in it:
                    if entry.name == key or entry.name.startswith(prefix):
                        return Path(entry.path)
        except FileNotFoundError:
            pass
        raise MessageFileMissingError(f"message file {key} is missing from {path or 'INBOX'}")

    def _on_file(
        self, path: str, key: str, in_cur: bool, info: str, op: Callable[[Path], _T], what: str
    ) -> _T:
        """op(file of `key`), looking the file up again when it vanished between the lookup
        and the op: a concurrent flag change renames it (new/ → cur/, other ':2,' letters),
        e.g. the web app marking a message seen while its body is being read. A rename is
        atomic, so the next lookup finds the new name; a file that is really gone (or moved to
        another folder) ends in StorageError from locate()."""
        for attempt in range(1, LOCATE_ATTEMPTS + 1):
            try:
                # A rename inside cur/ during the scan can hide the file from it once, too.
                found = self.locate(path, key, in_cur=in_cur, info=info)
            except MessageFileMissingError:
                if attempt == LOCATE_ATTEMPTS:
                    raise
                continue
            try:
                return op(found)
            except FileNotFoundError as exc:
                if attempt == LOCATE_ATTEMPTS:
                    raise StorageError(f"cannot {what} {key}: {exc}") from exc
            except OSError as exc:
                raise StorageError(f"cannot {what} {key}: {exc}") from exc
        raise AssertionError("unreachable")

    def read(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> bytes:
        return self._on_file(path, key, in_cur, info, Path.read_bytes, "read message")

    def set_info(self, path: str, key: str, *, in_cur: bool, info: str, new_info: str) -> None:
        """Rename the file into cur/ with the new ':2,' letters."""
        dst = self.folder_dir(path) / "cur" / f"{key}{_INFO_SEP}{new_info}"

        def rename(src: Path) -> None:
            if src == dst:
                return
            os.rename(src, dst)
            fsync_dir(dst.parent)
            if src.parent != dst.parent:
                fsync_dir(src.parent)

        self._on_file(path, key, in_cur, info, rename, "update flags of")

    def move(
        self, src_path: str, dst_path: str, key: str, *, in_cur: bool, info: str, new_info: str
    ) -> None:
        """Move the file into another folder's cur/ (rename: same file system)."""
        dst = self.folder_dir(dst_path) / "cur" / f"{key}{_INFO_SEP}{new_info}"

        def rename(src: Path) -> None:
            os.rename(src, dst)
            fsync_dir(dst.parent)
            fsync_dir(src.parent)

        self._on_file(src_path, key, in_cur, info, rename, "move")

    def unlink(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> None:
        try:
            target = self.locate(path, key, in_cur=in_cur, info=info)
        except MessageFileMissingError:
            return  # already gone: unlink is idempotent
        try:
            target.unlink()
            fsync_dir(target.parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot remove {key}: {exc}") from exc

    def unlink_many(self, path: str, files: list[tuple[str, bool, str]]) -> None:
        """unlink() for many (key, in_cur, info) of one folder, with one fsync per directory
        instead of one per file (emptying a Trash of 10 000 messages)."""
        dirs: set[Path] = set()
        try:
            for key, in_cur, info in files:
                try:
                    target = self.locate(path, key, in_cur=in_cur, info=info)
                except MessageFileMissingError:
                    continue  # already gone: unlink is idempotent
                try:
                    target.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise StorageError(f"cannot remove {key}: {exc}") from exc
                dirs.add(target.parent)
        finally:
            for d in dirs:
                fsync_dir(d)

    def scan(self, path: str) -> Iterator[StoredFile]:
        """Every message file of a folder (new/ and cur/), for reindexing."""
        d = self.folder_dir(path)
        for sub in ("new", "cur"):
            try:
                it = os.scandir(d / sub)
            except FileNotFoundError:
                continue
            with it:
                for entry in it:
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    key, info = split_filename(entry.name)
                    st = entry.stat(follow_symlinks=False)
                    yield StoredFile(
                        key, sub == "cur", info if sub == "cur" else "", st.st_size, st.st_mtime
                    )

    def clean_tmp(self, path: str, max_age: float) -> int:
        """Remove tmp/ files older than max_age seconds (maildir(5): 36 hours)."""
        d = self.folder_dir(path) / "tmp"
        removed = 0
        cutoff = time.time() - max_age
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                            removed += 1
        except FileNotFoundError:
            pass
        return removed

    # -- UIDs --
    def append_uid(self, path: str, uid: int, key: str) -> None:
        """Record uid → key durably (O_APPEND: concurrent appenders never interleave lines)."""
        self.append_uids(path, [(uid, key)])

    def append_uids(self, path: str, entries: list[tuple[int, str]]) -> None:
        """Record several uid → key lines durably with one write and one fdatasync."""
        if not entries:
            return
        data = "".join(f"{uid} {key}\n" for uid, key in entries).encode()
        try:
            fd = os.open(
                self.folder_dir(path) / UIDLIST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
            )
            try:
                # O_APPEND: each write lands at the end, so concurrent appenders never
                # interleave inside one write; a short write (disk full) is finished here.
                write_all(fd, data)
                os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot record UID: {exc}") from exc

    def read_uidlist(self, path: str) -> tuple[int | None, dict[str, int]]:
        """(uidvalidity or None when there is no uidlist, {key: uid}); later lines win."""
        try:
            data = (self.folder_dir(path) / UIDLIST).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None, {}
        lines = data.splitlines()
        uidvalidity: int | None = None
        if lines and lines[0].startswith("mailroom-uidlist"):
            for token in lines[0].split()[2:]:
                if token.startswith("V") and token[1:].isdigit():
                    uidvalidity = int(token[1:])
            lines = lines[1:]
        mapping: dict[str, int] = {}
        for line in lines:
            uid, _, key = line.partition(" ")
            if uid.isdigit() and key:
                mapping[key] = int(uid)
        return uidvalidity, mapping

    def rewrite_uidlist(self, path: str, uidvalidity: int, mapping: dict[str, int]) -> None:
        """Compact the uidlist to exactly `mapping` (reindex)."""
        body = f"mailroom-uidlist 1 V{uidvalidity}\n" + "".join(
            f"{uid} {key}\n" for key, uid in sorted(mapping.items(), key=lambda kv: kv[1])
        )
        self._write_atomic(self.folder_dir(path) / UIDLIST, body.encode())

    # -- keywords (dovecot-keywords: "<index> <name>", letters a–z in the info) --
    def read_keywords(self, path: str) -> list[str]:
        names: list[str] = [""] * len(KEYWORD_LETTERS)
        try:
            text = (self.folder_dir(path) / KEYWORDS).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            idx, _, name = line.partition(" ")
            if idx.isdigit() and int(idx) < len(names) and name:
                names[int(idx)] = name
        while names and not names[-1]:
            names.pop()
        return names

    def keyword_letters(self, path: str, keywords: list[str]) -> str:
        """Letters for `keywords`, registering new names; keywords past 26 stay DB-only."""
        if not keywords:
            return ""
        names = self.read_keywords(path)
        changed = False
        for kw in keywords:
            if kw not in names and len(names) < len(KEYWORD_LETTERS):
                names.append(kw)
                changed = True
        if changed:
            body = "".join(f"{i} {n}\n" for i, n in enumerate(names) if n)
            self._write_atomic(self.folder_dir(path) / KEYWORDS, body.encode())
        return "".join(sorted(KEYWORD_LETTERS[names.index(k)] for k in keywords if k in names))

    def _write_atomic(self, target: Path, data: bytes) -> None:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(3).hex()}")
        try:
            write_new_file(tmp, data)  # loops over short writes: a uidlist can be megabytes
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if exc.errno == errno.ENOENT:
                raise StorageError(f"folder directory missing for {target.name}") from exc
            raise StorageError(f"cannot write {target.name}: {exc}") from exc


def info_from_flags(flags: str, keyword_letters: str = "") -> str:
    return "".join(sorted(set(flags))) + keyword_letters


def flags_from_info(info: str) -> tuple[set[str], str]:
    """(system flag letters, keyword letters) of an info string."""
    system = {c for c in info if c in SYSTEM_FLAGS}
    keywords = "".join(c for c in info if c in KEYWORD_LETTERS)
    return system, keywords
