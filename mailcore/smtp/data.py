"""The DATA content of an SMTP transaction (RFC 5321 §4.1.1.4), read in blocks: the end is the
first CRLF "." CRLF (the DATA command's own CRLF counts as the first CRLF, so a message may be
empty), dots are unstuffed at every line start, a line's length is counted whatever its ending
(CRLF, a lone LF), and the size limit is on the bytes as sent. A lone LF ends a line but never
the data: LF "." CRLF or CRLF "." LF are content (SMTP smuggling, security.md); the handler
refuses bare CRs and normalises or refuses bare LFs afterwards.

The scanner sees the bytes as they arrive, in pieces of any size, and keeps only what it needs:
the last two bytes before the piece (so a terminator split over pieces is found) and the length
of the line in progress. Searching a piece for the terminator, the LFs and the dots is done by
bytes methods, not per line in Python."""

from __future__ import annotations

from dataclasses import dataclass, field

END = b"\r\n.\r\n"
# The last two bytes of a piece stay unconsumed until more arrives: they may be the "." and
# "\r" of a terminator whose CRLF before the "." is then in `before`.
_HOLD = 2


@dataclass(slots=True)
class DataScanner:
    """Feed it the bytes that follow the 354; it says how many it took and when it is done."""

    line_limit: int  # a line longer than this, its ending included: 500 (nothing kept)
    size_limit: int | None  # more bytes than this before the terminator: 552 (nothing kept)
    before: bytes = b"\r\n"  # the two bytes before the next piece (the DATA line's CRLF)
    line_length: int = 0  # bytes of the current line seen so far
    total: int = 0
    too_long: bool = False
    too_much: bool = False
    done: bool = False
    _pieces: list[bytes] = field(default_factory=list)

    def feed(self, buf: bytes | bytearray) -> int:
        """Take what it can of `buf` (up to and including the terminator); returns the number
        of bytes taken. Bytes not taken must be offered again, with more after them."""
        window = self.before + bytes(buf[: len(END)])
        at = window.find(END)
        if at >= 0:  # the terminator begins in `before`: its "." is buf[at]
            self._take(bytes(memoryview(buf)[:at]))
            self.done = True
            return at + 3
        at = buf.find(END)
        if at >= 0:
            self._take(bytes(memoryview(buf)[: at + 2]))  # the CRLF before "." is content
            self.done = True
            return at + 5
        take = max(0, len(buf) - _HOLD)
        self._take(bytes(memoryview(buf)[:take]))
        return take

    def _take(self, data: bytes) -> None:
        if not data:
            return
        self.before = (self.before + data)[-2:] if len(data) < 2 else data[-2:]
        size = len(data)
        start_length, start_total = self.line_length, self.total
        self.total += size
        last_lf = data.rfind(b"\n")
        self.line_length = size - last_lf - 1 if last_lf >= 0 else start_length + size
        if self.too_long or self.too_much:
            return  # read to the end, keep nothing (RFC 5321 §4.2.5)
        over_size = self.size_limit is not None and self.size_limit and self.total > self.size_limit
        if start_length + size > self.line_limit and self._longest(data, start_length):
            # Which came first in the stream: the overlong line or the byte past the limit?
            long_at = self._long_at(data, start_length)
            size_at = (self.size_limit or 0) - start_total if over_size else size
            if long_at < size_at:
                self.too_long = True
            else:
                self.too_much = True
            self._pieces.clear()
            return
        if over_size:
            self.too_much = True
            self._pieces.clear()
            return
        self._pieces.append(data)

    def _longest(self, data: bytes, start_length: int) -> bool:
        return self._long_at(data, start_length) < len(data)

    def _long_at(self, data: bytes, start_length: int) -> int:
        """Index in `data` of the byte that makes a line longer than line_limit, or len(data)."""
        line_start = -start_length  # where the current line began, relative to data
        pos = 0
        while True:
            lf = data.find(b"\n", pos)
            end = len(data) if lf < 0 else lf + 1
            if end - line_start > self.line_limit:
                return line_start + self.line_limit
            if lf < 0:
                return len(data)
            line_start = pos = lf + 1

    def content(self) -> bytes:
        """The message, dots unstuffed (only when done and within the limits)."""
        raw = b"".join(self._pieces)
        self._pieces.clear()
        if raw.startswith(b"."):
            raw = raw[1:]
        return raw.replace(b"\n.", b"\n")
