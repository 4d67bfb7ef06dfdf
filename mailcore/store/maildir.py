"""Maildir++ on disk: the only module that touches mail files.

Writes follow the Maildir protocol (tmp/ → fsync file → link into new/ or cur/ → fsync the
directory), so a message is either completely there or not at all. Flags live in the ':2,'
suffix, UIDs in `mailroom-uidlist` (append-only), keyword letters in `dovecot-keywords`.
Nothing here knows about the database.

Line ends and sizes (as Postfix local/virtual, procmail and Dovecot's LDA store mail)
-----------------------------------------------------------------------------------------
Files hold LF line ends, so mutt, grep and every Unix mail tool read them natively, and are
named `<stem>,S=<bytes on disk>,W=<bytes in CRLF form>[:2,<flags>]` (Dovecot's convention: W=
is the "virtual" size IMAP RFC822.SIZE and POP3 report, so nobody reads a file for its size).

* The **key** a caller passes (Message.maildir_key, the uidlist) is the message's identity. Its
  `,S=`/`,W=` fields are not: a file belongs to a key when their stems match (`key_stem`: the
  name without its size fields), so keys written before this layout ('q1.abc.host,S=5', whose
  S= was the CRLF size) find their files before and after `convert_folder`, and stay valid
  database keys. Stems are unique per account (queue id + recipient digest, random, or a digest
  of the content); a caller must never give two messages keys with the same stem.
* **Writing** (`deliver`): CRLF → LF. A CR, or a run of CRs, right before a line end is part of
  that line end (RFC 5322 forbids bare CR; SMTP ingress refuses it), so `a\r\r\n` is stored as
  `a\n`. Any other bare CR is kept as it is and survives the round trip byte for byte. A bare LF
  is a line end: it reads back as CRLF. So data in canonical form (CRLF line ends, no CR before
  a CRLF) reads back exactly; other data reads back in its canonical form, and
  `StoredFile.wire_size` (= W=) is the size of what reads back.
* **Reading** gives the CRLF ("wire") form: every LF not preceded by CR becomes CRLF, an
  existing CRLF stays (Dovecot's i_stream_create_crlf). This is right for converted files, for
  files written before this layout (CRLF), and for foreign LF files dropped in by other tools.

  - `read()` - the whole message, CRLF form (parsing, the API, /raw downloads).
  - `open_crlf()` - a `CrlfReader` over an open file (safe against a concurrent flag rename):
    `.size` (W= when the name carries a consistent one, else one streaming pass), `.chunks()`
    (CRLF chunks of at most 2 x chunk_size bytes, memory bounded by the chunk size),
    `.read_range(start, length)` (IMAP `BODY[]<start.length>`: bytes [start, start+length) of
    the CRLF form, shorter or empty past the end) and `.read_all()`. Use it as a context
    manager; one reader serves several ranges of the same message.
  - `iter_crlf()` / `read_crlf_range()` / `crlf_size()` - one-shot wrappers of the above.

  The total length of `chunks()` always equals `.size`; the database's Message.size is that
  size (what IMAP, POP3, the API and quotas report).
* **Conversion** of files written before this layout: `convert_folder()` (the command
  `manage.py maildir convert`). Per file, under the folder's rename lock: the LF copy is
  written to tmp/ and fsynced, renamed over the old name (content swap, same name), then
  renamed to its new name. Each step is one atomic rename, so at every instant there is
  exactly one file per message; a killed run leaves valid files and a rerun finishes the job.
  A file whose CRLF form would change (a CR before a CRLF) is left as it is (readers still read
  it right) and reported.
* Our renames of existing files (flags, moves, expunges, conversion) take the folder's
  `mailroom-rename.lock` (flock: shared for flag changes, exclusive for a conversion step), so
  a conversion never resurrects a file expunged or renamed under it.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeVar

from mailcore.errors import InvalidFolderNameError, MessageFileMissingError, StorageError
from mailcore.faults import fault_point
from mailcore.fsutil import (
    create_file,
    fsync_dir,
    fsync_side_by_side,
    write_all,
    write_new_file,
)

UIDLIST = "mailroom-uidlist"
KEYWORDS = "dovecot-keywords"
MAX_FOLDER_DEPTH = 16
MAX_COMPONENT_BYTES = 200
SYSTEM_FLAGS = "DFPRST"  # maildir(5): Draft Flagged Passed Replied Seen Trashed
KEYWORD_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_INFO_SEP = ":2,"
LOCATE_ATTEMPTS = 5  # lookups of a file renamed under us (each rename is one more flag change)
RENAME_LOCK = "mailroom-rename.lock"
CHUNK_SIZE = 64 * 1024  # read unit of the CRLF readers and the conversion
MAX_NAME_BYTES = 255  # NAME_MAX of every Linux file system
STEM_CACHE_NAMES = 200_000  # names the per-process stem index keeps, over all directories

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


_SIZE_FIELD = re.compile(r",[SW]=\d+")
_S_FIELD = re.compile(r",S=(\d+)")
_W_FIELD = re.compile(r",W=(\d+)")
_LINE_END_IN = re.compile(rb"\r*\n")  # CRLF, bare LF, CRs before a line end → one LF on disk
_CR_BEFORE_CRLF = re.compile(rb"\r\r\n")


def key_stem(key: str) -> str:
    """A key or file base name without its ',S=' and ',W=' size fields: what identifies the
    message ('q1.abc.host,S=5' and 'q1.abc.host,S=4,W=5' are the same message)."""
    return _SIZE_FIELD.sub("", key)


def sized_name(key: str, disk_size: int, wire_size: int) -> str:
    """The base file name of `key` in the LF layout: '<stem>,S=<disk>,W=<crlf>'."""
    return _sized(key_stem(key), disk_size, wire_size)


def _sized(stem: str, disk_size: int, wire_size: int) -> str:
    return f"{stem},S={disk_size},W={wire_size}"


def name_sizes(base: str) -> tuple[int | None, int | None]:
    """(S=, W=) of a base file name, None where absent (first field wins, as in Dovecot)."""
    s = _S_FIELD.search(base)
    w = _W_FIELD.search(base)
    return (int(s.group(1)) if s else None, int(w.group(1)) if w else None)


def to_disk_form(data: bytes) -> bytes:
    """Message bytes as stored: every line end (CRLF, bare LF, CRs before an LF) → LF."""
    out = data.replace(b"\r\n", b"\n")  # bytes.replace: ten times a regex's speed
    while b"\r\n" in out:  # CRs before a line end (rare): each pass drops one
        out = _LINE_END_IN.sub(b"\n", out)
    return out


def disk_wire_size(disk: bytes) -> int:
    """CRLF size of bytes in disk form (no LF there follows a CR): one more byte per line."""
    return len(disk) + disk.count(b"\n")


def to_crlf_form(data: bytes) -> bytes:
    """The CRLF ("wire") form of file bytes: each LF not preceded by CR → CRLF."""
    if b"\r" in data:
        if data.count(b"\r\n") == data.count(b"\n"):
            return data  # every LF has its CR already (files delivered in CRLF form): no copy
        # Same result as re.sub(rb"(?<!\r)\n", b"\r\n", data): every LF ends up with exactly one CR
        # before it, its own or a new one (the CR of a CRLF is dropped, then put back).
        data = data.replace(b"\r\n", b"\n")
    return data.replace(b"\n", b"\r\n")


def canonical_crlf(data: bytes) -> bytes:
    """`data` as it reads back after deliver(): CRLF line ends (bare LF → CRLF, CRs before a
    line end dropped), every other byte as it is. `data` itself when it is canonical already
    (no copy), so its length is the W= size the file gets."""
    # Every LF has a CR before it, and no CR comes before a CRLF (bytes.count and `in`: a
    # tenth of the two regular expressions' time on a 4 KiB message).
    if data.count(b"\n") == data.count(b"\r\n") and b"\r\r\n" not in data:
        return data
    return to_crlf_form(to_disk_form(data))


def _crlf_chunk(chunk: bytes, after_cr: bool) -> bytes:
    """to_crlf_form of one chunk of a file, `after_cr` when the byte before it is a CR."""
    out = to_crlf_form(chunk)
    if after_cr and chunk[:1] == b"\n":
        return out[1:]  # that LF ends a CRLF split between two chunks
    return out


def _crlf_chunk_len(chunk: bytes, after_cr: bool) -> int:
    """len(_crlf_chunk(chunk, after_cr)), counted without building it."""
    bare = chunk.count(b"\n") - (chunk.count(b"\r\n") if b"\r" in chunk else 0)
    return len(chunk) + bare - (1 if after_cr and chunk[:1] == b"\n" else 0)


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str  # the file's base name (without ':2,info'), as it is on disk
    in_cur: bool
    info: str  # letters after ':2,' (system flags then keyword letters)
    size: int  # bytes on disk
    mtime: float
    # Size of the CRLF form: W= of the name where it has one (scan), or computed (deliver).
    wire_size: int | None = None


@dataclass(slots=True)
class PendingFile:
    """A message written to tmp/ by Maildir.start_delivery: not yet fsynced (its descriptor
    `fd` is open) nor linked into new/ or cur/."""

    key: str
    base: str
    stem: str
    info: str
    in_cur: bool
    wire_size: int
    tmp: str
    parent: str  # the new/ or cur/ directory it is linked into
    name: str
    fd: int


def finish_deliveries(
    pending: list[PendingFile], dirs_to_sync: list[str] | None = None
) -> list[tuple[StoredFile, bool] | StorageError]:
    """Complete Maildir.start_delivery for each of `pending`: every file fsynced (side by
    side, fsutil.fsync_side_by_side) and its descriptor closed, then each durable file linked
    under its name and its tmp/ name removed. Each result, in order, is deliver()'s (file,
    created), or the StorageError that stopped that one (nothing of it is left in new/ or
    cur/ then). The directories that got links are fsynced here, or with `dirs_to_sync`
    appended to it for the caller to fsync (deliver()'s rule). Every descriptor is closed and
    every tmp/ name removed whatever happens."""
    results: list[tuple[StoredFile, bool] | StorageError] = []
    try:
        errors = fsync_side_by_side([p.fd for p in pending])
    except BaseException:
        abandon_deliveries(pending)
        raise
    for p in pending:
        with contextlib.suppress(OSError):
            os.close(p.fd)
    for n, (p, error) in enumerate(zip(pending, errors, strict=True)):
        target = f"{p.parent}/{p.name}"
        try:
            if error is not None:
                raise error
            created = True
            try:
                os.link(p.tmp, target)
            except FileExistsError:
                created = False
            os.unlink(p.tmp)
            # Only the link must be durable; a tmp/ name that reappears after a crash is
            # debris that clean_tmp() removes.
            if dirs_to_sync is None:
                fsync_dir(p.parent)
            else:
                dirs_to_sync.append(p.parent)
            if created:
                _STEMS.note(p.parent, p.name, p.stem)
            st = os.stat(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(p.tmp)
            results.append(StorageError(f"cannot write message {p.key}: {exc}"))
            continue
        except BaseException:
            for left in pending[n:]:
                with contextlib.suppress(OSError):
                    os.unlink(left.tmp)
            raise
        results.append(
            (StoredFile(p.base, p.in_cur, p.info, st.st_size, st.st_mtime, p.wire_size), created)
        )
    return results


def abandon_deliveries(pending: list[PendingFile]) -> None:
    """Give up files that Maildir.start_delivery wrote: descriptors closed, tmp/ names
    removed (nothing of them was linked)."""
    for p in pending:
        with contextlib.suppress(OSError):
            os.close(p.fd)
        with contextlib.suppress(OSError):
            os.unlink(p.tmp)


class CrlfReader:
    """The CRLF form of one open message file (see the module docstring). Not thread-safe:
    one reader per task; close it (or use `with`)."""

    def __init__(self, fh: BinaryIO, name: str, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._fh = fh
        self._chunk_size = chunk_size
        self._size: int | None = None
        disk, wire = name_sizes(split_filename(name)[0])
        # W= is trusted when S= matches the file: a name that lies about one lies about both.
        if disk is not None and wire is not None and disk == os.fstat(fh.fileno()).st_size:
            self._size = wire

    def __enter__(self) -> CrlfReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def _raw_chunks(self) -> Iterator[tuple[bytes, bool]]:
        """(file chunk, whether the byte before it is a CR), from the start of the file."""
        self._fh.seek(0)
        after_cr = False
        while True:
            chunk = self._fh.read(self._chunk_size)
            if not chunk:
                return
            yield chunk, after_cr
            after_cr = chunk[-1:] == b"\r"

    @property
    def size(self) -> int:
        """Bytes of the CRLF form (W=, or counted in one pass over the file)."""
        if self._size is None:
            self._size = sum(_crlf_chunk_len(c, cr) for c, cr in self._raw_chunks())
        return self._size

    def chunks(self) -> Iterator[bytes]:
        """The CRLF form in order, chunk by chunk (none of them empty)."""
        for chunk, after_cr in self._raw_chunks():
            yield _crlf_chunk(chunk, after_cr)

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def read_range(self, start: int, length: int) -> bytes:
        """Bytes [start, start+length) of the CRLF form; fewer (or none) past its end."""
        if start < 0 or length < 0:
            raise ValueError("start and length must not be negative")
        out: list[bytes] = []
        want = length
        pos = 0  # CRLF offset of the current chunk
        for chunk, after_cr in self._raw_chunks():
            if want <= 0:
                break
            n = _crlf_chunk_len(chunk, after_cr)
            if pos + n <= start:
                pos += n  # before the range: counted, not converted
                continue
            piece = _crlf_chunk(chunk, after_cr)[max(0, start - pos) :][:want]
            out.append(piece)
            want -= len(piece)
            pos += n
        return b"".join(out)


class _StemIndex:
    """Per-process hint of which file in a new/ or cur/ directory holds a stem (an LF-layout
    name carries S=, which no caller knows, so it cannot be stat()ed by name). Entries are
    checked before use and a miss rescans, so a stale hint costs a rescan, never a wrong file.
    Two files with one stem in a directory (a repeated delivery about to be rolled back, a copy
    left by another client) are told apart by their ':2,' letters. Bounded by
    STEM_CACHE_NAMES names over all directories (least recently used go first); a directory
    larger than that is scanned on every lookup."""

    def __init__(self, max_names: int = STEM_CACHE_NAMES) -> None:
        self._lock = threading.Lock()
        self._dirs: OrderedDict[str, tuple[int, dict[str, str], dict[str, list[str]]]] = (
            OrderedDict()
        )
        self._names = 0
        self._max = max_names

    @staticmethod
    def _pick(
        names: dict[str, str], dups: dict[str, list[str]], stem: str, info: str
    ) -> str | None:
        many = dups.get(stem)
        if many:
            return next((n for n in many if split_filename(n)[1] == info), many[0])
        return names.get(stem)

    def hint(self, directory: Path, stem: str, info: str = "") -> Path | None:
        """find() without a rescan: the name a scan noted, if it still holds and the file
        exists; None otherwise (then find() or locate())."""
        try:
            mtime = os.stat(directory).st_mtime_ns
        except OSError:
            return None
        with self._lock:
            cached = self._dirs.get(str(directory))
            if cached is None:
                return None
            name = self._pick(cached[1], cached[2], stem, info)
        if name is None or (cached[0] != mtime and split_filename(name)[1] != info):
            return None
        return directory / name if os.path.lexists(directory / name) else None

    def exact(self, directory: str, stem: str, info: str) -> str | None:
        """The noted name of `stem` in `directory` (as str(Path)) only if its letters are
        exactly `info`: the same message in the same state, to be opened without a stat()
        (the open() tells whether it is still there). None otherwise."""
        with self._lock:
            cached = self._dirs.get(directory)
            if cached is None:
                return None
            name = self._pick(cached[1], cached[2], stem, info)
        if name is None or split_filename(name)[1] != info:
            return None
        return name

    def find(self, directory: Path, stem: str, info: str = "") -> Path | None:
        try:
            mtime = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return None
        ident = str(directory)
        name: str | None = None
        with self._lock:
            cached = self._dirs.get(ident)
            if cached is not None:
                name = self._pick(cached[1], cached[2], stem, info)
                if cached[0] != mtime and name is not None and split_filename(name)[1] != info:
                    # The directory changed since the scan (any flag change in it does): a
                    # hint is still good if it names exactly the file asked for, stem and
                    # letters, and that file exists; anything else is looked up again.
                    name = None
                self._dirs.move_to_end(ident)
        if name is not None and os.path.lexists(directory / name):
            return directory / name
        names: dict[str, str] = {}
        dups: dict[str, list[str]] = {}
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    stem_of = key_stem(split_filename(entry.name)[0])
                    first = names.setdefault(stem_of, entry.name)
                    if first != entry.name:
                        dups.setdefault(stem_of, [first]).append(entry.name)
        except FileNotFoundError:
            return None
        with self._lock:
            old = self._dirs.pop(ident, None)
            if old is not None:
                self._names -= len(old[1])
            if len(names) <= self._max:
                self._dirs[ident] = (mtime, names, dups)  # mtime from before the scan
                self._names += len(names)
                while self._names > self._max:
                    _, (_, dropped, _) = self._dirs.popitem(last=False)
                    self._names -= len(dropped)
        found = self._pick(names, dups, stem, info)
        return directory / found if found is not None else None

    def note(self, directory: Path | str, name: str, stem: str | None = None) -> None:
        """This process just put `name` in `directory` (a delivery, a flag change): the hint
        follows it, so the next lookup of its stem needs no rescan of a busy directory.
        `stem`: key_stem of the name's base, when the caller has it."""
        if stem is None:
            stem = key_stem(split_filename(name)[0])
        with self._lock:
            cached = self._dirs.get(str(directory))
            if cached is None or stem in cached[2]:
                return  # not scanned yet, or two files of the stem: left to a rescan
            if stem not in cached[1]:
                if self._names >= self._max:
                    return
                self._names += 1
            cached[1][stem] = name


_STEMS = _StemIndex()
# read_crlf_cached's note of the file it last opened for (root, folder, key, new/cur, letters):
# a body FETCH of an LF-layout file opens it by that name at once (one open(), no pathlib)
# instead of a failed open() by the key, a stat() of the directory and an lstat() first. A
# name is unique to one message, so a note names the right file or none (renamed: a flag
# change; gone: expunged), and then the lookup runs again. Cleared when full.
_OPENED: dict[tuple[str, str, str, bool, str], str] = {}
OPENED_NAMES = 20_000


@dataclass(slots=True)
class ConvertReport:
    converted: int = 0  # rewritten with LF line ends and renamed
    renamed: int = 0  # content was LF already (an interrupted run, a foreign file): renamed
    current: int = 0  # in the LF layout already
    kept: list[str] = field(default_factory=list)  # left as they are, with the reason


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

    @contextlib.contextmanager
    def frozen(self) -> Iterator[list[str]]:
        """Hold every folder's rename lock exclusively (in path order, so no deadlock with a
        move, which holds one lock at a time): while held, no flag change, move or expunge
        runs in this Maildir; deliveries still add files to new/. Yields the folder paths.
        For a backup's listing (mailcore.backup): keep the time inside short."""
        with contextlib.ExitStack() as stack:
            paths = self.list_folder_paths()
            for path in paths:
                stack.enter_context(self._rename_lock(self.folder_dir(path), exclusive=True))
            yield paths

    def list_files(self, path: str) -> list[str]:
        """Every file of a folder but tmp/ and the rename lock ('new/<name>', 'cur/<name>',
        'mailroom-uidlist', ...), relative to the folder: what a backup copies. new/ before cur/,
        so a file that moves new/ -> cur/ meanwhile is listed at least once."""
        d = self.folder_dir(path)
        found: list[str] = []
        for sub in ("new", "cur", ""):
            try:
                it = os.scandir(d / sub if sub else d)
            except FileNotFoundError:
                continue
            with it:
                for entry in it:
                    if entry.name == RENAME_LOCK or not entry.is_file(follow_symlinks=False):
                        continue
                    found.append(f"{sub}/{entry.name}" if sub else entry.name)
        return found

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
        dirs_to_sync: list[str] | None = None,
    ) -> tuple[StoredFile, bool]:
        """Store `data` (CRLF form) for `key` in folder `path`, with LF line ends under
        '<stem>,S=<disk>,W=<crlf>'. Returns (file, created); file.wire_size is the CRLF size.
        With `dirs_to_sync`, the directory that got the new link is appended to it instead of
        fsynced here: the caller fsyncs each directory once for a batch, before it indexes any
        of the batch's files.

        created is False when the message is present already under either layout's name (a
        repeated delivery, also one that started before the LF layout): the existing file is
        kept untouched. Raises StorageError on any I/O failure; nothing is left in new/ or
        cur/ then.
        """
        started = self.start_delivery(path, key, data, info=info, in_cur=in_cur, mtime=mtime)
        if isinstance(started, StoredFile):
            return started, False
        done = finish_deliveries([started], dirs_to_sync)[0]
        if isinstance(done, StorageError):
            raise done
        return done

    def start_delivery(
        self,
        path: str,
        key: str,
        data: bytes,
        *,
        info: str = "",
        in_cur: bool = False,
        mtime: float | None = None,
    ) -> StoredFile | PendingFile:
        """deliver()'s first half: the file already there (a StoredFile: nothing written), or
        `data` written to tmp/ and not yet fsynced nor linked (a PendingFile, whose descriptor
        is open): finish_deliveries() completes it. Raises StorageError; nothing is left in
        tmp/ then."""
        _check_key(key)
        disk = to_disk_form(data)
        wire = disk_wire_size(disk)
        stem = key_stem(key)
        base = _sized(stem, len(disk), wire)
        if len(base.encode()) + len(_INFO_SEP) + len(info) > MAX_NAME_BYTES:
            raise StorageError(f"maildir key {key!r} is too long")
        # Strings, not pathlib: building and formatting the Paths cost more than the system
        # calls they name (one delivery makes a dozen).
        d = os.fspath(self.folder_dir(path))
        existing = self._lookup_fast(d, (base, key), info, wire)
        if existing is not None:
            return existing
        tmp = f"{d}/tmp/{base}"  # noqa: S108 (the folder's own tmp/, not /tmp)
        cur = in_cur or bool(info)
        parent = f"{d}/cur" if cur else f"{d}/new"
        name = f"{base}{_INFO_SEP}{info}" if cur else base
        fd = -1
        try:
            try:
                fd = create_file(tmp, disk)
            except FileExistsError:
                os.unlink(tmp)  # debris of an attempt that died before its link
                fd = create_file(tmp, disk)
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        except BaseException as exc:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)  # ours: the folder's tmp/ name of this key (a partial file)
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write message {key}: {exc}") from exc
            raise
        return PendingFile(key, base, stem, info, cur, wire, tmp, parent, name, fd)

    def _lookup_fast(
        self, d: str, bases: tuple[str, ...], info: str, wire: int
    ) -> StoredFile | None:
        for base in bases:
            for cur, candidate in (
                (False, f"{d}/new/{base}"),
                (True, f"{d}/cur/{base}{_INFO_SEP}{info}"),
            ):
                try:
                    st = os.stat(candidate)
                except FileNotFoundError:
                    continue
                return StoredFile(base, cur, info if cur else "", st.st_size, st.st_mtime, wire)
        return None

    def locate(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> Path:
        """Path of the file of `key` (any name with the same stem, either layout); tries the
        expected names first, then the stem index (another Maildir client may have renamed
        it, or it has an LF-layout name). Raises MessageFileMissingError when it is gone."""
        _check_key(key)
        d = self.folder_dir(path)
        expected = d / "cur" / f"{key}{_INFO_SEP}{info}" if in_cur else d / "new" / key
        if expected.exists():
            return expected
        if (d / "new" / key).exists():
            return d / "new" / key
        stem = key_stem(key)
        for sub in ("cur", "new") if in_cur else ("new", "cur"):
            found = _STEMS.find(d / sub, stem, info if sub == "cur" else "")
            if found is not None:
                return found
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
        """The whole message in CRLF form (whatever the file's layout)."""

        def read_crlf(p: Path) -> bytes:
            return to_crlf_form(p.read_bytes())

        return self._on_file(path, key, in_cur, info, read_crlf, "read message")

    def read_crlf_cached(
        self, path: str, key: str, *, in_cur: bool = False, info: str = "", limit: int
    ) -> bytes | None:
        """The message's whole CRLF form, only when its file is found without a directory
        scan (the name the row gives, or the stem index's note of its LF-layout name), has at
        most `limit` bytes and is all in the page cache: read with RWF_NOWAIT, so this never
        waits for the disk and an event loop may call it. None in every other case (a file
        renamed behind the index, a missing one, a larger one, a page-cache miss, no
        RWF_NOWAIT here): then read it with open_crlf in a thread, which looks further."""
        nowait = getattr(os, "RWF_NOWAIT", None)
        if nowait is None:
            return None
        note = (str(self.root), path, key, in_cur, info)
        fd = -1
        opened = _OPENED.get(note)
        if opened is not None:
            try:
                fd = os.open(opened, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                _OPENED.pop(note, None)
        if fd < 0:
            fd = self._open_cached(path, key, in_cur, info, note)
            if fd < 0:
                return None
        try:
            size = os.fstat(fd).st_size
            if size > limit:
                return None
            buf = bytearray(size + 1)  # one more: a file that grew is not read as complete
            try:
                n = os.preadv(fd, [buf], 0, nowait)
            except OSError:  # EAGAIN (not cached), EOPNOTSUPP (file system without it)
                return None
            if n != size:
                return None
        finally:
            os.close(fd)
        del buf[n:]
        return to_crlf_form(bytes(buf))

    def _open_cached(
        self, path: str, key: str, in_cur: bool, info: str, note: tuple[str, str, str, bool, str]
    ) -> int:
        """read_crlf_cached's lookup without a directory scan: the file by the key's name, or
        the stem index's note of its LF-layout name; -1 when neither opens."""
        _check_key(key)
        d = self.folder_dir(path)
        sub = "cur" if in_cur else "new"
        # The name the stem index noted for the key with exactly these letters (an LF-layout
        # name: S= and W= added to the key): opened at once, in plain strings (pathlib's
        # joins cost more than the system calls here).
        where = f"{d}/{sub}"
        name = _STEMS.exact(where, key_stem(key), info if in_cur else "")
        if name is not None:
            try:
                fd = os.open(f"{where}/{name}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                pass
            else:
                return self._opened(note, f"{where}/{name}", fd)
        p = d / "cur" / f"{key}{_INFO_SEP}{info}" if in_cur else d / "new" / key
        try:
            fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            # An LF-layout name: the stem index's note of it, if it has one (no directory
            # scan here).
            hinted = _STEMS.hint(d / sub, key_stem(key), info if in_cur else "")
            if hinted is None:
                return -1
            try:
                fd = os.open(hinted, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return -1
            p = hinted
        return self._opened(note, str(p), fd)

    @staticmethod
    def _opened(note: tuple[str, str, str, bool, str], name: str, fd: int) -> int:
        if len(_OPENED) >= OPENED_NAMES:
            _OPENED.clear()
        _OPENED[note] = name
        return fd

    def open_crlf(
        self,
        path: str,
        key: str,
        *,
        in_cur: bool = False,
        info: str = "",
        chunk_size: int = CHUNK_SIZE,
    ) -> CrlfReader:
        """A CrlfReader over the file of `key` (open: later renames do not disturb it)."""

        def open_file(p: Path) -> CrlfReader:
            fh = open(p, "rb")  # noqa: SIM115 - the reader owns and closes it
            try:
                return CrlfReader(fh, p.name, chunk_size)
            except BaseException:
                fh.close()
                raise

        return self._on_file(path, key, in_cur, info, open_file, "read message")

    def iter_crlf(
        self,
        path: str,
        key: str,
        *,
        in_cur: bool = False,
        info: str = "",
        chunk_size: int = CHUNK_SIZE,
    ) -> Iterator[bytes]:
        """The CRLF form of the message in chunks (the file is opened on the first next())."""
        with self.open_crlf(path, key, in_cur=in_cur, info=info, chunk_size=chunk_size) as r:
            try:
                yield from r.chunks()
            except OSError as exc:
                raise StorageError(f"cannot read message {key}: {exc}") from exc

    def read_crlf_range(
        self, path: str, key: str, start: int, length: int, *, in_cur: bool = False, info: str = ""
    ) -> bytes:
        """Bytes [start, start+length) of the message's CRLF form (IMAP partial FETCH)."""
        with self.open_crlf(path, key, in_cur=in_cur, info=info) as r:
            try:
                return r.read_range(start, length)
            except OSError as exc:
                raise StorageError(f"cannot read message {key}: {exc}") from exc

    def crlf_size(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> int:
        """Size of the message's CRLF form: W= of its name, else one pass over the file."""
        with self.open_crlf(path, key, in_cur=in_cur, info=info) as r:
            try:
                return r.size
            except OSError as exc:
                raise StorageError(f"cannot read message {key}: {exc}") from exc

    @contextlib.contextmanager
    def _rename_lock(self, d: Path, *, exclusive: bool) -> Iterator[None]:
        """The folder's flock that orders our renames of existing files against a conversion
        step (shared: flags, moves, expunges; exclusive: one file's conversion)."""
        try:
            fd: int | None = os.open(d / RENAME_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            fd = None  # the folder itself is gone: nothing to order against
        except OSError as exc:
            raise StorageError(f"cannot lock folder {d.name or 'INBOX'}: {exc}") from exc
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    def set_info(self, path: str, key: str, *, in_cur: bool, info: str, new_info: str) -> None:
        """Rename the file into cur/ with the new ':2,' letters (its base name is kept).

        Not followed by a directory fsync, as Dovecot does not fsync a flag change
        (mail_fsync=optimized) and as the flag change's database commit is asynchronous
        (history.next_modseq): a crash of the machine may lose the last seconds of flag
        changes (the file keeps its old name, whole: a rename is atomic), never a message."""
        d = self.folder_dir(path)

        def rename(src: Path) -> None:
            dst = d / "cur" / f"{split_filename(src.name)[0]}{_INFO_SEP}{new_info}"
            if src == dst:
                return
            os.rename(src, dst)
            _STEMS.note(dst.parent, dst.name)

        with self._rename_lock(d, exclusive=False):
            self._on_file(path, key, in_cur, info, rename, "update flags of")

    def move(
        self, src_path: str, dst_path: str, key: str, *, in_cur: bool, info: str, new_info: str
    ) -> None:
        """Move the file into another folder's cur/ (rename: same file system)."""
        dst_dir = self.folder_dir(dst_path) / "cur"

        def rename(src: Path) -> None:
            dst = dst_dir / f"{split_filename(src.name)[0]}{_INFO_SEP}{new_info}"
            os.rename(src, dst)
            fsync_dir(dst.parent)
            fsync_dir(src.parent)

        with self._rename_lock(self.folder_dir(src_path), exclusive=False):
            self._on_file(src_path, key, in_cur, info, rename, "move")

    def unlink(self, path: str, key: str, *, in_cur: bool = False, info: str = "") -> None:
        with self._rename_lock(self.folder_dir(path), exclusive=False):
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
        with self._rename_lock(self.folder_dir(path), exclusive=False):
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
        """Every message file of a folder (new/ and cur/), for reindexing. StoredFile.key is
        the file's base name; match it to index keys by key_stem()."""
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
                    disk, wire = name_sizes(key)
                    yield StoredFile(
                        key,
                        sub == "cur",
                        info if sub == "cur" else "",
                        st.st_size,
                        st.st_mtime,
                        wire if disk == st.st_size else None,
                    )

    # -- conversion to the LF layout --
    def convert_folder(
        self, path: str, *, dry_run: bool = False, report: ConvertReport | None = None
    ) -> ConvertReport:
        """Rewrite every file of folder `path` not yet in the LF layout (see the module
        docstring). Safe to interrupt and to run again; flags and keys are kept. dry_run
        counts what would change and writes nothing."""
        report = report if report is not None else ConvertReport()
        d = self.folder_dir(path)
        for sub in ("new", "cur"):
            try:
                names = sorted(e.name for e in os.scandir(d / sub) if not e.name.startswith("."))
            except FileNotFoundError:
                continue
            for name in names:
                src = d / sub / name
                if not src.is_file() or src.is_symlink():
                    continue
                try:
                    self._convert_file(d, src, dry_run, report)
                except FileNotFoundError:
                    continue  # renamed or removed meanwhile: converted under its new name
                except OSError as exc:
                    raise StorageError(f"cannot convert {src}: {exc}") from exc
        return report

    def _convert_file(self, d: Path, src: Path, dry_run: bool, report: ConvertReport) -> None:
        base, info = split_filename(src.name)
        sep = _INFO_SEP if src.parent.name == "cur" and _INFO_SEP in src.name else ""
        st = src.stat()
        disk_size, wire_size = name_sizes(base)
        stem = key_stem(base)
        if (
            disk_size == st.st_size
            and wire_size is not None
            and base == sized_name(stem, disk_size, wire_size)
            and wire_size != disk_size  # S=W: no line end, or a CRLF file named by an import
        ):
            report.current += 1
            return
        # One streaming pass: is the content LF already, would its CRLF form change?
        lf_only, lossy, disk_len, lines = self._survey(src)
        if lossy:
            report.kept.append(f"{src.relative_to(self.root)}: a CR before a line end")
            return
        new_base = sized_name(stem, disk_len, disk_len + lines)
        if lf_only and new_base == base:
            report.current += 1
            return
        if len(new_base.encode()) + len(sep) + len(info) > MAX_NAME_BYTES:
            report.kept.append(f"{src.relative_to(self.root)}: the new name would be too long")
            return
        if dry_run:
            if lf_only:
                report.renamed += 1
            else:
                report.converted += 1
            return
        dst = src.parent / f"{new_base}{sep}{info}"
        if dst.exists():
            report.kept.append(f"{src.relative_to(self.root)}: {dst.name} exists already")
            return
        tmp = d / "tmp" / f"{new_base}.lf"
        if not lf_only:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # debris of an interrupted run
            self._write_disk_form(src, tmp, st)
        try:
            with self._rename_lock(d, exclusive=True):
                try:
                    now = src.stat()
                except FileNotFoundError:
                    return  # expunged, moved or renamed meanwhile: the next run sees it
                if (now.st_ino, now.st_size, now.st_mtime_ns) != (
                    st.st_ino,
                    st.st_size,
                    st.st_mtime_ns,
                ):
                    return  # replaced meanwhile: the next run converts the new one
                if not lf_only:
                    os.rename(tmp, src)  # same name, LF content: readers see the same bytes
                    fault_point("maildir.convert.after_content")
                os.rename(src, dst)
                fsync_dir(src.parent)  # both renames (one directory, journalled in order)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if lf_only:
            report.renamed += 1
        else:
            report.converted += 1

    @staticmethod
    def _survey(src: Path) -> tuple[bool, bool, int, int]:
        """(no CR before any LF, a CR before a CRLF, disk-form length, LF count) of a file."""
        lf_only, lossy = True, False
        disk_len = lines = 0
        carry = b""
        with open(src, "rb") as fh:
            while True:
                chunk = fh.read(CHUNK_SIZE)
                block = carry + chunk
                # Hold back trailing CRs: whether they end a line shows in the next chunk.
                keep = len(block) - len(block.rstrip(b"\r")) if chunk else 0
                carry = block[len(block) - keep :] if keep else b""
                block = block[: len(block) - keep] if keep else block
                if b"\r\n" in block:
                    lf_only = False
                    lossy = lossy or _CR_BEFORE_CRLF.search(block) is not None
                disk = to_disk_form(block)
                disk_len += len(disk)
                lines += disk.count(b"\n")
                if not chunk:
                    return lf_only, lossy, disk_len, lines

    @staticmethod
    def _write_disk_form(src: Path, tmp: Path, st: os.stat_result) -> None:
        """tmp ← src with LF line ends (streamed), same mode and times, fsynced."""
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with open(src, "rb") as fh:
                carry = b""
                while True:
                    chunk = fh.read(CHUNK_SIZE)
                    block = carry + chunk
                    keep = len(block) - len(block.rstrip(b"\r")) if chunk else 0
                    carry = block[len(block) - keep :] if keep else b""
                    block = block[: len(block) - keep] if keep else block
                    write_all(fd, to_disk_form(block))
                    if not chunk:
                        break
            os.fchmod(fd, st.st_mode & 0o777)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))  # internal date of reindexed rows

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
    def append_uid(self, path: str, uid: int, key: str, *, sync: bool = True) -> None:
        """Record uid → key durably (O_APPEND: concurrent appenders never interleave lines)."""
        self.append_uids(path, [(uid, key)], sync=sync)

    def append_uids(self, path: str, entries: list[tuple[int, str]], *, sync: bool = True) -> None:
        """Record several uid → key lines durably with one write and one fdatasync.

        sync=False leaves the fdatasync to a later sync_uidlist(path): a store action writes
        its lines inside its transaction (a process that dies after the commit has written
        them) and makes them durable after the commit, outside the account's modseq lock."""
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
                if sync:
                    os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot record UID: {exc}") from exc

    def sync_uidlist(self, path: str) -> None:
        """fdatasync the folder's uidlist: the lines append_uids(sync=False) wrote (by any
        process: the file's dirty pages are flushed whoever wrote them) reach the disk."""
        try:
            fd = os.open(self.folder_dir(path) / UIDLIST, os.O_WRONLY | os.O_APPEND)
            try:
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
