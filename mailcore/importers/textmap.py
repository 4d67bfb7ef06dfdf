"""Reading the text maps of sendmail and Postfix (aliases, access, virtual, main.cf values):
physical lines → logical lines with their line numbers. Pure; no Django.

Rules shared by these formats (aliases(5), virtual(5), postconf(5)): a line whose first
non-blank character is '#' is a comment, blank lines are ignored, a line that starts with
white space continues the previous logical line (when the format allows it). CRLF files, a
UTF-8 byte order mark and trailing white space are accepted. A line that is not UTF-8 is
reported, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MAP_BYTES = 16 * 1024 * 1024  # far above any real map; bounds memory on a wrong file
MAX_LOGICAL_LINE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based number of the first physical line
    text: str


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str


def logical_lines(data: bytes, *, continuation: bool = True) -> tuple[list[Line], list[BadLine]]:
    """Split `data` into logical lines (comments and blank lines dropped)."""
    lines: list[Line] = []
    bad: list[BadLine] = []
    data = data.removeprefix(b"\xef\xbb\xbf")
    current: list[str] = []
    start = 0

    def flush() -> None:
        if current:
            text = " ".join(current)
            if len(text) > MAX_LOGICAL_LINE:
                bad.append(BadLine(start, f"logical line longer than {MAX_LOGICAL_LINE} bytes"))
            else:
                lines.append(Line(start, text))
            current.clear()

    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            flush()
            bad.append(BadLine(number, "line is not UTF-8 (8-bit names must be UTF-8)"))
            continue
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Postfix: comments and blank lines do not end a logical line
        if continuation and text[0] in " \t" and current:
            current.append(strip_comment(stripped))
            continue
        flush()
        start = number
        current.append(strip_comment(text.rstrip()))
    flush()
    return lines, bad


def strip_comment(text: str) -> str:
    """Drop a trailing '# comment' (a '#' at the start or after white space, outside double
    quotes). A '#' inside a token (a local part may contain one) stays."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif ch == "#" and not quoted and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text


def split_unquoted(text: str, separators: str) -> list[str]:
    """Split on any of `separators` outside double quotes; empty pieces dropped."""
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    escaped = False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if ch == "\\":
            buf.append(ch)
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
            buf.append(ch)
            continue
        if ch in separators and not quoted:
            piece = "".join(buf).strip()
            if piece:
                out.append(piece)
            buf.clear()
            continue
        buf.append(ch)
    piece = "".join(buf).strip()
    if piece:
        out.append(piece)
    return out


def key_and_value(text: str) -> tuple[str, str]:
    """'key<white space>value' → (key, value); a quoted key may contain blanks."""
    text = text.strip()
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif ch in " \t" and not quoted:
            return text[:i], text[i:].strip()
    return text, ""
