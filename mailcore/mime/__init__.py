"""Pure MIME layer: parse stored messages, fetch parts, sanitise HTML bodies.

No Django and no I/O. Importing this package installs the CP949 codec fix
(charsets.install), so import it before any mail is decoded.
"""

from . import charsets

charsets.install()

from .parse import (  # noqa: E402 - the codec fix must run before anything decodes
    DEFAULT_LIMITS,
    Address,
    Attachment,
    ParsedMessage,
    ParseLimits,
    get_attachment,
    get_part_by_cid,
    parse_message,
    search_text,
)
from .sanitize import SanitizedHtml, sanitize_html  # noqa: E402

__all__ = [
    "DEFAULT_LIMITS",
    "Address",
    "Attachment",
    "ParseLimits",
    "ParsedMessage",
    "SanitizedHtml",
    "get_attachment",
    "get_part_by_cid",
    "parse_message",
    "sanitize_html",
    "search_text",
]
