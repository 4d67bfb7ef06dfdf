"""Pure MIME layer: parse stored messages, fetch parts, sanitise HTML bodies, find the header
block of raw bytes.

No Django and no I/O. Importing this package installs the CP949 codec fix
(charsets.install), so import it before any mail is decoded.
"""

from . import charsets

charsets.install()

from .headers import (  # noqa: E402 - after the codec fix, like the rest
    MAX_HEADER_BYTES,
    HeaderBlock,
    find_header_block,
    get_header,
    header_fields,
    header_lines,
)
from .parse import (  # noqa: E402 - the codec fix must run before anything decodes
    DEFAULT_LIMITS,
    Address,
    Attachment,
    ParsedMessage,
    ParseLimits,
    fold,
    get_attachment,
    get_part_by_cid,
    parse_message,
    search_text,
)
from .sanitize import SanitizedHtml, sanitize_html  # noqa: E402

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_HEADER_BYTES",
    "Address",
    "Attachment",
    "HeaderBlock",
    "ParseLimits",
    "ParsedMessage",
    "SanitizedHtml",
    "find_header_block",
    "fold",
    "get_attachment",
    "get_header",
    "get_part_by_cid",
    "header_fields",
    "header_lines",
    "parse_message",
    "sanitize_html",
    "search_text",
]
