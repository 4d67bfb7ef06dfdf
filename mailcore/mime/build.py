"""ComposeRequest → RFC 5322 bytes (email.message.EmailMessage, CRLF), and the reply / reply-all
/ forward helpers that derive subjects, recipients, quotes and threading from a stored message.

Pure: no Django, no I/O. Every header value is checked here (no CR/LF: security.md W11) before
the stdlib sees it; sending, storing and size policy belong to the callers.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.header import Header
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final, Literal

from mailcore.addresses import canonical_address, canonical_domain, canonical_local, split_address
from mailcore.errors import InvalidAddressError, InvalidMessageError, MessageTooLargeError

from .parse import ParsedMessage, parse_message

Priority = Literal["high", "normal", "low"]
Mode = Literal["new", "reply", "reply_all", "forward"]

# RFC 5322 §2.1.1: 998 octets per line; a header value longer than a line is junk anyway.
MAX_HEADER_CHARS: Final = 998
MAX_RECIPIENTS: Final = 1000
MAX_REFERENCES: Final = 20
# C0 controls (TAB allowed in unstructured text), DEL; CR and LF are the injection vector.
_HEADER_BAD_RE: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_NAME_ADDR_RE: Final = re.compile(r"^\s*(.*?)\s*<([^<>]*)>\s*$", re.S)
_TYPE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_MSGID_RE: Final = re.compile(r"^[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+$")
# "Re:", "RE :", "Fwd:", "FW:", "Aw:", "답장:", "전달:" … however many are stacked.
_ANY_PREFIX_RE: Final = re.compile(
    r"^\s*((re|aw|sv|antw|fwd?|tr|wg|답장|회신|전달)\s*(\[\d+\])?\s*:\s*)+", re.I
)
PRIORITY_HEADERS: Final[dict[str, tuple[str, str]]] = {
    # X-Priority is what Outlook and Thunderbird read; Importance is RFC 2156 §5.3.
    "high": ("1 (Highest)", "high"),
    "low": ("5 (Lowest)", "low"),
}


@dataclass(frozen=True, slots=True)
class Recipient:
    """An address as it goes into a header: display name, local part as typed (NFC), A-label
    domain. `envelope` is its canonical form for the SMTP envelope."""

    name: str
    local: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def envelope(self) -> str:
        return canonical_address(self.address)

    @property
    def needs_smtputf8(self) -> bool:
        # RFC 6531 §3.3: a UTF-8 local part can only travel over SMTPUTF8 (domains are
        # A-labels already).
        return not self.local.isascii()


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ComposeRequest:
    sender: Recipient
    to: tuple[Recipient, ...] = ()
    cc: tuple[Recipient, ...] = ()
    bcc: tuple[Recipient, ...] = ()
    reply_to: tuple[Recipient, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: tuple[OutgoingAttachment, ...] = ()
    priority: Priority = "normal"
    in_reply_to: str = ""  # a Message-ID without <>
    references: tuple[str, ...] = ()  # Message-IDs without <>
    # Extra headers (name, value) the caller owns, e.g. X-Mailroom-* on drafts; checked too.
    extra_headers: tuple[tuple[str, str], ...] = ()
    date: datetime | None = None
    message_id: str | None = None  # without <>; generated from the sender's domain if None
    # RFC 8098 §2.1: ask for a read receipt (MDN) to the sender's own address.
    request_receipt: bool = False


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    data: bytes
    message_id: str  # without <>
    envelope_sender: str
    # To+Cc+Bcc for the envelope: local part as typed (only its destination may interpret
    # it, RFC 5321 §2.4), A-label domain; duplicates by canonical form removed.
    recipients: list[str] = field(default_factory=list)
    smtputf8: bool = False  # some address has a UTF-8 local part: the path must offer SMTPUTF8


# --- validation -----------------------------------------------------------------------------


def check_header_text(value: str, field_name: str, *, limit: int = MAX_HEADER_CHARS) -> str:
    """`value` if it can go into a header unchanged, else InvalidMessageError for `field_name`."""
    if _HEADER_BAD_RE.search(value):
        raise InvalidMessageError(
            "line breaks and control characters are not allowed here", field=field_name
        )
    if len(value) > limit:
        raise InvalidMessageError(f"longer than {limit} characters", field=field_name)
    return value


def parse_recipient(value: str, field_name: str = "to") -> Recipient:
    """`alice@example.com` or `Alice Kim <alice@bücher.example>` → Recipient (domain as
    A-label); InvalidMessageError for anything else, including CR/LF anywhere."""
    check_header_text(value, field_name)
    name, addr = "", value.strip()
    match = _NAME_ADDR_RE.match(value)
    if match:
        name, addr = match.group(1).strip(), match.group(2).strip()
        if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return make_recipient(name, addr, field_name)


def make_recipient(name: str, address: str, field_name: str = "to") -> Recipient:
    check_header_text(name, field_name, limit=200)
    check_header_text(address, field_name, limit=320)
    try:
        local, domain = split_address(address)
        canonical_local(local)  # validation only: the header keeps the case as typed
        alabel = canonical_domain(domain)
    except InvalidAddressError as exc:
        raise InvalidMessageError(f"{address!r} is not a valid address", field=field_name) from exc
    if any(c in address for c in '<>,;"() '):
        raise InvalidMessageError(f"{address!r} is not a valid address", field=field_name)
    return Recipient(
        name=" ".join(name.split()), local=unicodedata.normalize("NFC", local), domain=alabel
    )


def _check_msgid(value: str, field_name: str) -> str:
    bare = value.strip().strip("<>").strip()
    if not _MSGID_RE.match(bare) or len(bare) > 250:
        raise InvalidMessageError(f"{value!r} is not a Message-ID", field=field_name)
    return bare


def _safe_filename(name: str) -> str:
    check_header_text(name, "attachments", limit=255)
    # RFC 2183 §2.3: the receiving side uses the base name only; we send nothing else.
    base = PureWindowsPath(PurePosixPath(name).name).name.strip().lstrip(".")
    return base or "attachment"


def _mime_type(value: str) -> tuple[str, str]:
    ctype = value.strip().lower()
    if not _TYPE_RE.match(ctype) or ctype.startswith(("multipart/", "message/")):
        # multipart/* and message/* bodies have structure EmailMessage would have to parse;
        # sent as opaque bytes they arrive intact (a forwarded .eml stays an .eml file).
        ctype = "application/octet-stream"
    maintype, _, subtype = ctype.partition("/")
    return maintype, subtype


def normalise_content_type(value: str) -> str:
    """The type an attachment will be sent with: a plain `type/subtype`, else octet-stream."""
    maintype, subtype = _mime_type(value)
    return f"{maintype}/{subtype}"


# --- building ------------------------------------------------------------------------------


def _header_address(r: Recipient) -> HeaderAddress:
    return HeaderAddress(display_name=r.name, username=r.local, domain=r.domain)


def _encoded_words(text: str, header_name: str) -> str:
    # CPython 3.11's header folder drops the space that falls between two encoded-words
    # ("회의 일정" arrives as "회의일정"); the older Header encoder keeps every space inside
    # the encoded text, so non-ASCII text is encoded with it and stored pre-folded.
    return Header(text, charset="utf-8", header_name=header_name).encode(linesep="\n")


def _encoded_address(r: Recipient) -> str:
    addr = HeaderAddress(username=r.local, domain=r.domain).addr_spec
    if not r.name:
        return addr
    if r.name.isascii():
        return str(HeaderAddress(display_name=r.name, username=r.local, domain=r.domain))
    return f"{_encoded_words(r.name, 'To')} <{addr}>"


def html_to_text(html: str) -> str:
    """A readable text/plain alternative for an HTML-only body (links kept as "text <url>")."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


class _TextExtractor(HTMLParser):
    _BLOCK: Final = {
        "p",
        "div",
        "br",
        "tr",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "hr",
    }
    _SKIP: Final = {"script", "style", "head", "title", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")
        if tag == "a":
            self._href.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")
        if tag == "a" and self._href:
            href = self._href.pop()
            if href.startswith(("http://", "https://")):
                self.out.append(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def build_message(request: ComposeRequest, *, max_bytes: int) -> BuiltMessage:
    """Serialise `request` as CRLF RFC 5322 bytes: multipart/mixed when there are attachments,
    multipart/alternative for text + HTML (an HTML-only body gets a derived text part).

    Bcc stays in the bytes (the Sent copy keeps it); whoever sends must strip it. Raises
    InvalidMessageError (with the field at fault) or MessageTooLargeError.
    """
    subject = check_header_text(request.subject, "subject").strip()
    everyone = (*request.to, *request.cc, *request.bcc)
    if len(everyone) > MAX_RECIPIENTS:
        raise InvalidMessageError(f"at most {MAX_RECIPIENTS} recipients", field="to")
    smtputf8 = (
        request.sender.needs_smtputf8
        or any(r.needs_smtputf8 for r in everyone)
        or any(r.needs_smtputf8 for r in request.reply_to)
    )
    # Content goes out 7-bit clean (quoted-printable or base64 chosen per part), so no relay
    # ever has to downgrade it for a server without 8BITMIME (RFC 6152). Headers are RFC 2047
    # encoded, or raw UTF-8 only when an address needs SMTPUTF8 anyway (RFC 6532).
    pol = email_policy.SMTP.clone(cte_type="7bit", utf8=smtputf8, max_line_length=78)
    msg = EmailMessage(policy=pol)
    for name, recipients in (
        ("From", (request.sender,)),
        ("To", request.to),
        ("Cc", request.cc),
        ("Bcc", request.bcc),
        ("Reply-To", request.reply_to),
    ):
        if not recipients:
            continue
        if smtputf8:
            msg[name] = tuple(_header_address(r) for r in recipients)
        else:
            msg.set_raw(name, ",\n ".join(_encoded_address(r) for r in recipients))
    if smtputf8 or subject.isascii():
        msg["Subject"] = subject
    else:
        msg.set_raw("Subject", _encoded_words(subject, "Subject"))
    msg["Date"] = format_datetime(request.date or datetime.now(tz=UTC))
    message_id = (
        _check_msgid(request.message_id, "message_id")
        if request.message_id
        else make_msgid(domain=request.sender.domain)[1:-1]
    )
    msg["Message-ID"] = f"<{message_id}>"
    if request.in_reply_to:
        msg["In-Reply-To"] = f"<{_check_msgid(request.in_reply_to, 'in_reply_to')}>"
    references = [_check_msgid(r, "references") for r in request.references]
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    if request.priority in PRIORITY_HEADERS:
        x_priority, importance = PRIORITY_HEADERS[request.priority]
        msg["X-Priority"] = x_priority
        msg["Importance"] = importance
    if request.request_receipt:
        msg.set_raw("Disposition-Notification-To", request.sender.envelope)
    for name, value in request.extra_headers:
        if not re.fullmatch(r"X-[A-Za-z0-9-]{1,60}", name):
            raise InvalidMessageError(f"header name {name!r} not allowed", field="headers")
        msg[name] = check_header_text(value, "headers")

    text, html = request.text, request.html
    if html is not None and not html.strip():
        html = None
    if html is not None and not (text or "").strip():
        text = html_to_text(html)
    msg.set_content(_normalise_newlines(text or ""))
    if html is not None:
        msg.add_alternative(_normalise_newlines(html), subtype="html")
    for att in request.attachments:
        maintype, subtype = _mime_type(att.content_type)
        msg.add_attachment(
            att.data, maintype=maintype, subtype=subtype, filename=_safe_filename(att.filename)
        )

    data = msg.as_bytes(policy=pol)
    if len(data) > max_bytes:
        raise MessageTooLargeError(size=len(data), limit=max_bytes)
    return BuiltMessage(
        data=data,
        message_id=message_id,
        envelope_sender=request.sender.envelope,
        recipients=list({r.envelope: r.address for r in everyone}.values()),
        smtputf8=smtputf8,
    )


def _normalise_newlines(text: str) -> str:
    # Bare CR or LF never reach the wire (RFC 5322 §2.3); set_content re-terminates with CRLF.
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- reply, reply-all, forward --------------------------------------------------------------


def reply_subject(subject: str) -> str:
    """`Re: ` once, whatever prefixes the original already stacked (Re: RE: Fwd: → Re:); cut
    to what a Subject may hold, so answering a very long subject still works."""
    text = "Re: " + _ANY_PREFIX_RE.sub("", subject).strip() if subject.strip() else "Re:"
    return text[:MAX_HEADER_CHARS]


def forward_subject(subject: str) -> str:
    text = "Fwd: " + _ANY_PREFIX_RE.sub("", subject).strip() if subject.strip() else "Fwd:"
    return text[:MAX_HEADER_CHARS]


def threading(original: ParsedMessage) -> tuple[str, tuple[str, ...]]:
    """(In-Reply-To, References) for an answer to `original` (RFC 5322 §3.6.4): its
    References (or else its In-Reply-To) plus its Message-ID, the root and newest kept."""
    refs = list(original.references) or ([original.in_reply_to] if original.in_reply_to else [])
    if original.message_id:
        refs.append(original.message_id)
    valid: list[str] = []
    for ref in refs:
        try:
            valid.append(_check_msgid(ref, "references"))
        except InvalidMessageError:
            continue  # a malformed id in someone else's header must not block the reply
    valid = list(dict.fromkeys(valid))
    if len(valid) > MAX_REFERENCES:
        valid = valid[:1] + valid[-(MAX_REFERENCES - 1) :]
    in_reply_to = valid[-1] if original.message_id and valid else ""
    return in_reply_to, tuple(valid)


def _usable(addrs: Iterable[tuple[str, str]]) -> list[Recipient]:
    out: list[Recipient] = []
    for name, addr in addrs:
        try:
            out.append(make_recipient(_one_line(name)[:200], addr))
        except InvalidMessageError:
            continue  # an unusable address in a received header is dropped, not an error
    return out


def reply_recipients(
    original: ParsedMessage, *, reply_all: bool, is_own: Callable[[str], bool]
) -> tuple[list[Recipient], list[Recipient]]:
    """(To, Cc) of a reply: Reply-To (else From); reply-all adds the original To and Cc.
    Addresses for which `is_own` (given the canonical address) is true are left out, except
    that answering one's own message (in Sent) goes to that message's To, as clients do."""

    def mine(r: Recipient) -> bool:
        return is_own(r.envelope)

    authors = _usable((a.name, a.addr) for a in (original.reply_to or original.from_))
    if authors and all(mine(r) for r in authors):
        # Replying to a message in Sent: answer its recipients, as mail clients do.
        to = [r for r in _usable((a.name, a.addr) for a in original.to) if not mine(r)]
    else:
        to = [r for r in authors if not mine(r)]
    cc: list[Recipient] = []
    if reply_all:
        to += [r for r in _usable((a.name, a.addr) for a in original.to) if not mine(r)]
        cc = [r for r in _usable((a.name, a.addr) for a in original.cc) if not mine(r)]
    to = _dedupe(to, [])
    cc = _dedupe(cc, to)
    return to, cc


def _dedupe(recipients: Sequence[Recipient], already: Sequence[Recipient]) -> list[Recipient]:
    seen = {r.envelope for r in already}
    out: list[Recipient] = []
    for r in recipients:
        if r.envelope not in seen:
            seen.add(r.envelope)
            out.append(r)
    return out


def _one_line(text: str) -> str:
    return " ".join(_HEADER_BAD_RE.sub(" ", text).split())


def _author(original: ParsedMessage) -> str:
    if not original.from_:
        return "someone"
    first = original.from_[0]
    return _one_line(first.name) or _one_line(first.addr) or "someone"


def _date_text(original: ParsedMessage) -> str:
    return format_datetime(original.date) if original.date else "an unknown date"


def quote_text(original: ParsedMessage) -> str:
    """`On <date>, <name> wrote:` and the original text with `> ` before every line."""
    body = original.text or (html_to_text(original.html) if original.html else "")
    lines = _normalise_newlines(body).rstrip("\n").split("\n")
    quoted = "\n".join(
        ">" + (" " + line if line and not line.startswith(">") else line) for line in lines
    )
    return f"On {_date_text(original)}, {_author(original)} wrote:\n{quoted}\n"


def quote_html(original: ParsedMessage, sanitized_html: str | None) -> str:
    """The HTML counterpart of quote_text. `sanitized_html` must come from the sanitizer:
    the original's raw HTML is never copied into what we send."""
    inner = (
        sanitized_html
        if sanitized_html is not None
        else ("<pre>" + html_lib.escape(original.text) + "</pre>")
    )
    head = html_lib.escape(f"On {_date_text(original)}, {_author(original)} wrote:")
    return f'<div>{head}</div><blockquote type="cite">{inner}</blockquote>'


def forward_text(original: ParsedMessage) -> str:
    """The header block of an inline forward, followed by the original text."""

    def addrs(items: Iterable[tuple[str, str]]) -> str:
        return ", ".join(
            f"{_one_line(n)} <{_one_line(a)}>" if n else _one_line(a) for n, a in items
        )

    head = [
        "---------- Forwarded message ----------",
        f"From: {addrs((a.name, a.addr) for a in original.from_)}",
        f"Date: {_date_text(original)}",
        f"Subject: {_one_line(original.subject)}",
        f"To: {addrs((a.name, a.addr) for a in original.to)}",
    ]
    if original.cc:
        head.append(f"Cc: {addrs((a.name, a.addr) for a in original.cc)}")
    body = original.text or (html_to_text(original.html) if original.html else "")
    return "\n".join(head) + "\n\n" + _normalise_newlines(body)


def parse_address_header(value: str) -> list[tuple[str, str]]:
    """(name, addr) pairs of one address header value, with the hardened parser (used to read
    Bcc back from a stored draft, which ParsedMessage does not index)."""
    parsed = parse_message(b"To: " + value.encode("utf-8", "replace") + b"\r\n\r\n")
    return [(a.name, a.addr) for a in parsed.to]
