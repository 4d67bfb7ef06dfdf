"""Charset plumbing for mail: the process-wide Korean (CP949) codec fix and bytes->str helpers.

No Django, no I/O. install() mutates the process-global codec registry; keep it idempotent.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
import re
from typing import Final

import charset_normalizer

# Labels seen on Korean mail that must decode as CP949 (Microsoft's superset of EUC-KR;
# libraries.md §5). Stock CPython maps several of them to strict euc_kr, which turns the
# 8,822 CP949-only syllables (똠, 펲, ...) into U+FFFD without any error, and does not
# know the "windows-949" family at all (LookupError). Names are normalised the way
# encodings.normalize_encoding does it (lower case, '-' and ' ' -> '_').
_CP949_NAMES: Final = frozenset(
    {
        "ks_c_5601_1987",
        "ks_c_5601",
        "ksc5601",
        "ksc_5601",
        "ks_c_5601_1989",
        "euc_kr",
        "euckr",
        "x_euc_kr",
        "cseuckr",
        "x_windows_949",
        "windows_949",
        "ms949",
        "cp_949",
        "x_uhc",
        "uhc",
        "korean",
        "ks_x_1001",
        "csksc56011987",
        "iso_ir_149",
    }
)

# Codecs that are "text encodings" to Python but must never be applied to mail bytes:
# the escape codecs turn '\x3c' into '<', idna/punycode are not charsets, 'undefined'
# always raises. UTF-7 is handled separately by callers (security.md M8).
_DENIED_CODECS: Final = frozenset(
    {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}
)

_UTF7_NAMES: Final = frozenset({"utf_7", "utf7", "unicode_1_1_utf_7", "csunicode11utf7"})

_LABEL_CLEAN_RE: Final = re.compile(r"[^a-z0-9_.:+]")
_MAX_LABEL: Final = 64
# charset_normalizer is O(sample); giving it more than this gains nothing.
_DETECT_SAMPLE: Final = 256 * 1024


def _normalise(label: str) -> str:
    return label.strip().strip("\"'").lower().replace("-", "_").replace(" ", "_")


def _search(name: str) -> codecs.CodecInfo | None:
    if _normalise(name) in _CP949_NAMES:
        return codecs.lookup("cp949")
    return None


def _clear_codec_caches() -> None:
    # encodings.search_function memoises by the name it was asked for.
    cache: dict[str, object] = encodings._cache
    for key in list(cache):
        if _normalise(key) in _CP949_NAMES:
            del cache[key]

    # The C-level registry cache can only be flushed by codecs.unregister(), and only
    # when the function passed is actually registered (Python >= 3.10).
    def _flush(_name: str) -> None:
        return None

    codecs.register(_flush)
    codecs.unregister(_flush)


_installed = False


def install() -> None:
    """Make every Korean label decode as CP949. Idempotent; safe after euc_kr was cached."""
    global _installed
    for name in _CP949_NAMES:
        # Names Python already knows (as strict euc_kr) are answered by the encodings
        # module's search function, which runs before ours: re-point its alias table.
        encodings.aliases.aliases[name] = "cp949"
    if not _installed:
        # Names Python does not know at all (x-windows-949, windows-949, ...).
        codecs.register(_search)
        _installed = True
    _clear_codec_caches()
    for probe in ("ks_c_5601-1987", "euc-kr", "x-windows-949", "windows-949"):
        if codecs.lookup(probe).name != "cp949":
            raise RuntimeError(f"Korean charset fix failed: {probe} -> {codecs.lookup(probe).name}")


def codec_name(label: str) -> str | None:
    """Python codec name for a MIME charset label, or None if unknown/denied.

    UTF-7 is returned as 'utf-7'; callers decide whether to honour it.
    """
    norm = _normalise(label)
    if not norm or len(norm) > _MAX_LABEL or _LABEL_CLEAN_RE.search(norm):
        return None
    if norm in _CP949_NAMES:  # do not depend on install() having run
        return "cp949"
    if norm in _UTF7_NAMES:
        return "utf-7"
    try:
        info = codecs.lookup(norm)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name.replace("-", "_") in _DENIED_CODECS or not getattr(
        info, "_is_text_encoding", True
    ):
        return None
    if info.name.replace("-", "_") in _UTF7_NAMES:
        return "utf-7"
    return info.name


def decode_with(data: bytes, codec: str) -> str:
    """Decode with a known codec and errors='replace'; never raises."""
    try:
        return data.decode(codec, "replace")
    except Exception:  # codecs may raise anything (e.g. 'undefined' raises UnicodeError)
        return data.decode("utf-8", "replace")


def _strict_ok(data: bytes, codec: str, truncated: bool) -> str | None:
    try:
        if truncated:
            # The byte cap may have cut a multi-byte sequence; do not let that make a
            # valid UTF-8/CP949 text look invalid.
            return codecs.getincrementaldecoder(codec)("strict").decode(data, final=False)
        return data.decode(codec, "strict")
    except (UnicodeDecodeError, LookupError):
        return None


def guess_encoding(data: bytes) -> str | None:
    """charset_normalizer's best guess for an unlabelled/unknown-labelled blob."""
    if not data:
        return None
    try:
        best = charset_normalizer.from_bytes(data[:_DETECT_SAMPLE]).best()
    except Exception:  # a detector bug must never take a parse down
        return None
    if best is None:
        return None
    name = codec_name(best.encoding)
    return None if name in (None, "utf-7") else name


def decode_unlabelled(
    data: bytes, *, truncated: bool = False, hint: str | None = None, detect: bool = True
) -> str:
    """8-bit data without a usable charset: UTF-8 strict, hint, CP949, detector, UTF-8 replace."""
    if data.isascii():
        return data.decode("ascii")
    text = _strict_ok(data, "utf-8", truncated)
    if text is not None:
        return text
    if hint is not None:
        return decode_with(data, hint)
    text = _strict_ok(data, "cp949", truncated)
    if text is not None:
        return text
    guessed = guess_encoding(data) if detect else None
    return decode_with(data, guessed or "utf-8")


def decode_header_bytes(data: bytes) -> str:
    """Raw header bytes (RFC 6532 or plain 8-bit abuse) -> str: UTF-8 if valid, else CP949."""
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return data.decode("cp949", "replace")
