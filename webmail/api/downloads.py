"""HTTP responses for bytes out of a mail: attachment downloads, inline cid images, raw .eml.

The defences of security.md W6/W7 live here in one place (type allowlist, magic-byte sniffing,
safe Content-Disposition, nosniff, CSP sandbox). Pure functions over bytes; no ORM, no files.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from django.http import HttpResponse
from django.http.response import HttpResponseBase

OCTET_STREAM = "application/octet-stream"
MAX_FILENAME_CHARS = 180

# Raster images a browser decodes as images only; served with their type only when the bytes
# say so too (a "PNG" that is really HTML is the CVE-2024-42008 trick).
RASTER_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Everything else keeps its declared type only if listed here. The point is that none of
# these is rendered as a document with script by a browser; HTML, SVG, XML and XHTML never
# are listed, whatever the part claims (Roundcube CVE-2020-12625, CVE-2020-13965).
SAFE_DOWNLOAD_TYPES = RASTER_TYPES | frozenset(
    {
        "text/plain",
        "text/csv",
        "text/calendar",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/rtf",
        # Hangul word processor documents: everyday attachments in Korean mail.
        "application/x-hwp",
        "application/haansofthwp",
        "application/vnd.hancom.hwp",
        "application/vnd.hancom.hwpx",
        "audio/mpeg",
        "audio/mp4",
        "video/mp4",
    }
)
_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-zip-compressed": "application/zip",
    "application/x-pdf": "application/pdf",
}
_NEVER_TYPED = re.compile(r"html|xml|svg|script", re.IGNORECASE)

# Bidi embedding/override/isolate marks: "invoice\u202Efdp.exe" displays as "invoiceexe.pdf"
# (Thunderbird CVE-2023-3417). Category Cf below covers them too; this list documents intent.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def sniff_raster(data: bytes) -> str | None:
    """The raster image type the magic bytes announce, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def normalize_type(content_type: str) -> str:
    bare = content_type.split(";", 1)[0].strip().lower()
    return _TYPE_ALIASES.get(bare, bare)


def download_type(declared: str, data: bytes) -> str:
    """The Content-Type to send for an attachment download (W6): allowlisted types keep
    theirs, raster images only when sniffing agrees, everything else is octet-stream."""
    ctype = normalize_type(declared)
    if _NEVER_TYPED.search(ctype) or ctype not in SAFE_DOWNLOAD_TYPES:
        return OCTET_STREAM
    if ctype.startswith("image/") and sniff_raster(data) != ctype:
        return OCTET_STREAM
    return ctype


def inline_image_type(declared: str, data: bytes) -> str | None:
    """The type to serve a cid: part inline with, or None if it must not be shown inline."""
    ctype = normalize_type(declared)
    if not ctype.startswith("image/") or _NEVER_TYPED.search(ctype):
        return None
    # Mislabelled JPEG-as-PNG is common and harmless; what is served is what the bytes are.
    return sniff_raster(data)


def display_filename(name: str | None, *, fallback: str = "attachment") -> str:
    """A filename safe to show and to offer for saving (W7): basename only (RFC 2183 §2.3),
    no control, bidi or other format characters, bounded length, extension kept."""
    text = unicodedata.normalize("NFC", name or "")
    text = _BIDI.sub("", text)
    text = "".join(c for c in text if unicodedata.category(c) not in _STRIPPED_CATEGORIES)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    # Leading dots hide files on Unix; trailing dots and spaces are dropped by Windows.
    text = text.strip().lstrip(".").rstrip(". ")
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:MAX_FILENAME_CHARS]
    return text or fallback


def _ascii_fallback(name: str) -> str:
    # For clients without RFC 6266 filename* support. Quotes, backslashes and '%' (which
    # some browsers decode) become '_', as does anything outside printable ASCII.
    out = "".join(c if " " <= c <= "~" and c not in '"\\%;' else "_" for c in name)
    stem, dot, ext = out.rpartition(".")
    if not dot:
        stem, ext = out, ""
    if not any(c.isalnum() for c in stem):
        stem = "attachment"
    if ext and not any(c.isalnum() for c in ext):
        ext = ""
    return f"{stem}.{ext}" if ext else stem


def content_disposition(filename: str, *, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII `filename` for old clients, then the exact name as `filename*`."""
    name = display_filename(filename)
    return (
        f'{disposition}; filename="{_ascii_fallback(name)}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )


def _harden(response: HttpResponse) -> HttpResponse:
    # Nothing served from mail is a page: no sniffing into HTML, and if a browser does render
    # it after all, a sandbox without scripts or same-origin access (W6).
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def harden(response: HttpResponseBase) -> HttpResponseBase:
    """nosniff + sandbox CSP on any response that serves bytes from mail (streamed ones too)."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def attachment_response(data: bytes, *, filename: str, declared_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=download_type(declared_type, data))
    response["Content-Disposition"] = content_disposition(filename)
    response["Cache-Control"] = "private, no-cache"
    return _harden(response)


def raw_message_response(data: bytes, *, message_id: int) -> HttpResponse:
    response = HttpResponse(data, content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{message_id}.eml"'
    response["Cache-Control"] = "private, no-cache"
    return _harden(response)


def raw_text_response(data: bytes) -> HttpResponse:
    """The raw message shown as text in a browser tab ("View source"), not downloaded. The
    bytes are sent as they are stored; UTF-8 is the label because 8-bit mail is mostly UTF-8
    and 7-bit mail reads the same in any ASCII-compatible charset."""
    response = HttpResponse(data, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, no-cache"
    return _harden(response)


def inline_image_response(data: bytes, *, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = "inline"
    # A message never changes under its id, so its images can be cached, but only by the
    # user's own browser.
    response["Cache-Control"] = "private, max-age=3600"
    return _harden(response)
