"""The password policy: length, similarity, common and breached passwords, and the Argon2id
cost. Django's validators do the checking (AUTH_PASSWORD_VALIDATORS in settings); this module
adds what they lack for us:

- `KoreanCommonPasswordValidator`: a packaged list of passwords common among Korean users
  (keyboard walks such as 1q2w3e4r, Hangul typed on a QWERTY layout such as tkfkdgo = 사랑해),
  beside Django's own list of the 20,000 most common passwords.
- `BreachedPasswordValidator`: an admin's list of breached passwords, imported once with
  `manage.py passwords import` (Have I Been Pwned's SHA-1 file, or plain words) into a sorted
  file of SHA-1 digests that is looked up by binary search in a memory map: no network, no
  load time, and the memory is the page cache's, however long the list.
- `MaximumLengthValidator`: verify_credentials refuses passwords over 1,024 characters, so a
  longer one must never be set (it would lock its owner out).
- `Argon2idHasher`: Django's Argon2 hasher with its cost from settings; a hash made with other
  parameters is rehashed at the owner's next successful login through any door.
"""

from __future__ import annotations

import gzip
import hashlib
import mmap
import os
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.exceptions import ValidationError

MAX_PASSWORD_CHARS = 1024  # verify_credentials refuses longer ones
DIGEST = 20  # SHA-1
_KOREAN_LIST = Path(__file__).with_name("data") / "common-passwords-ko.txt"


def _fold(password: str) -> str:
    return unicodedata.normalize("NFKC", password).strip().lower()


@lru_cache(maxsize=1)
def _korean_common() -> frozenset[str]:
    lines = _KOREAN_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


class KoreanCommonPasswordValidator:
    def validate(self, password: str, user: Any = None) -> None:
        if _fold(password) in _korean_common():
            raise ValidationError("This password is too common.", code="password_too_common")

    def get_help_text(self) -> str:
        return "Your password can't be a commonly used password."


class MaximumLengthValidator:
    def __init__(self, max_length: int = MAX_PASSWORD_CHARS) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                f"This password is too long. It must contain at most {self.max_length} characters.",
                code="password_too_long",
                params={"max_length": self.max_length},
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at most {self.max_length} characters."


# -- breached passwords: a sorted file of SHA-1 digests -------------------------------------


def denylist_path() -> Path:
    return Path(settings.PASSWORD_DENYLIST_FILE)


def _digest(password: str) -> bytes:
    return hashlib.sha1(password.encode("utf-8")).digest()  # noqa: S324 (HIBP's format)


class _SortedDigests:
    """Binary search over a file of sorted DIGEST-byte records, read through mmap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        stat = path.stat()
        self.key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stat.st_size % DIGEST:
            raise ValueError(f"{path} is not a digest list (size {stat.st_size})")
        self.count = stat.st_size // DIGEST
        with path.open("rb") as f:
            self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if self.count else None

    def __contains__(self, digest: bytes) -> bool:
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            assert self.map is not None
            here = self.map[mid * DIGEST : (mid + 1) * DIGEST]
            if here < digest:
                lo = mid + 1
            elif here > digest:
                hi = mid
            else:
                return True
        return False


_open_list: _SortedDigests | None = None


def breached_list() -> _SortedDigests | None:
    """The imported list, reopened when `passwords import` replaced the file; None if none."""
    global _open_list
    path = denylist_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if _open_list is None or _open_list.key != (stat.st_ino, stat.st_mtime_ns, stat.st_size):
        _open_list = _SortedDigests(path)
    return _open_list


class BreachedPasswordValidator:
    def validate(self, password: str, user: Any = None) -> None:
        found = breached_list()
        if found is not None and _digest(password) in found:
            raise ValidationError(
                "This password has appeared in a data breach; choose another one.",
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return "Your password can't be one known from data breaches."


def _digests_of(lines: Iterable[str], min_count: int) -> Iterator[bytes]:
    """SHA-1 digests from HIBP lines (`HEX` or `HEX:count`) or plain passwords, one a line."""
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            continue
        head, _, count = line.partition(":")
        if len(head) == 2 * DIGEST and all(c in "0123456789abcdefABCDEF" for c in head):
            if count.strip().isdigit() and int(count) < min_count:
                continue
            yield bytes.fromhex(head)
        else:
            yield _digest(line)


def _open_text(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as f:
        yield from f


def import_denylist(sources: list[Path], *, min_count: int = 0, merge: bool = True) -> int:
    """Write the sorted, de-duplicated digest file from `sources` (plus the current list when
    `merge`), atomically; returns the number of entries. Memory: about 60 bytes per entry."""
    digests: set[bytes] = set()
    current = breached_list() if merge else None
    if current is not None and current.map is not None:
        end = current.count * DIGEST
        digests.update(current.map[i : i + DIGEST] for i in range(0, end, DIGEST))
    for source in sources:
        digests.update(_digests_of(_open_text(source), min_count))
    target = denylist_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("wb") as f:
        for digest in sorted(digests):
            f.write(digest)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)
    return len(digests)


# -- the hash cost ----------------------------------------------------------------------------


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id (Django's default variant) with ARGON2_TIME_COST / ARGON2_MEMORY_KIB /
    ARGON2_PARALLELISM. The algorithm name stays "argon2", so existing hashes verify, and
    Django's must_update() sees changed parameters and rehashes at the next login."""

    def params(self) -> Any:
        params = super().params()
        params.time_cost = int(settings.ARGON2_TIME_COST)
        params.memory_cost = int(settings.ARGON2_MEMORY_KIB)
        params.parallelism = int(settings.ARGON2_PARALLELISM)
        return params


def policy() -> dict[str, Any]:
    """What a form needs to know before asking: the limits, and which lists are checked."""
    found = breached_list()
    return {
        "min_length": int(settings.PASSWORD_MIN_LENGTH),
        "max_length": MAX_PASSWORD_CHARS,
        "common_list": True,
        "breached_list_entries": found.count if found is not None else 0,
    }
