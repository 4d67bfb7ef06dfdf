"""Address book exchange formats, pure functions over bytes/text (no Django, no rows): vCard
3.0/4.0 (RFC 2426, RFC 6350; 2.1 quoted-printable read too) and CSV with the column names of
Naver, Gmail (old and new Google CSV) and Outlook exports, English and Korean. CSV input may
be UTF-8 (with or without BOM), UTF-16 (with BOM) or CP949/EUC-KR, as Korean Excel saves it.
"""

from __future__ import annotations

import csv
import io
import quopri
import re
from dataclasses import dataclass, field

MAX_ADDRESSES = 10
MAX_GROUPS_PER_CARD = 20


class FormatError(ValueError):
    """The file is not one of the formats (or not readable in any known encoding)."""


@dataclass(slots=True)
class Card:
    name: str = ""
    addresses: list[str] = field(default_factory=list)
    phone: str = ""
    company: str = ""
    memo: str = ""
    groups: list[str] = field(default_factory=list)
    line: int = 0  # where it started in the file, for error reports


# --- text decoding -----------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """The text of an uploaded file: a BOM decides; else strict UTF-8; else CP949 (a superset
    of EUC-KR, what Korean Excel and Naver's export write). FormatError if neither fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError as exc:
        raise FormatError("not UTF-8, UTF-16 or CP949/EUC-KR text") from exc


def detect_format(text: str) -> str:
    """'vcard' or 'csv' by content."""
    return "vcard" if re.search(r"^\s*BEGIN:VCARD", text, re.IGNORECASE | re.MULTILINE) else "csv"


# --- vCard ---------------------------------------------------------------------------------------

_VCARD_ESCAPES = {"n": "\n", "N": "\n", ",": ",", ";": ";", "\\": "\\"}


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _VCARD_ESCAPES.get(m.group(1), m.group(1)), value)


def _split_unescaped(value: str, sep: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            current.append(value[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with their first physical line number (RFC 6350 §3.2 folding, and the
    2.1 quoted-printable soft line breaks)."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif lines and lines[-1][1].endswith("=") and "QUOTED-PRINTABLE" in lines[-1][1].upper():
            lines[-1] = (lines[-1][0], lines[-1][1][:-1] + raw)
        else:
            lines.append((number, raw))
    return lines


def _decode_value(params: list[str], value: str) -> str:
    upper = [p.upper() for p in params]
    if "ENCODING=QUOTED-PRINTABLE" in upper or "QUOTED-PRINTABLE" in upper:
        charset = next((p.split("=", 1)[1] for p in params if p.upper().startswith("CHARSET=")), "")
        raw = quopri.decodestring(value.encode("latin-1", errors="replace"))
        for enc in (charset or "utf-8", "utf-8", "cp949"):
            try:
                return raw.decode(enc)
            except (LookupError, UnicodeDecodeError):
                continue
        return raw.decode("utf-8", errors="replace")
    return value


def parse_vcards(text: str) -> list[Card]:
    cards: list[Card] = []
    card: Card | None = None
    given_family = ""
    for number, line in _unfold(text):
        if not line.strip() or ":" not in line:
            continue
        head, value = line.split(":", 1)
        name, *params = _split_unescaped(head, ";")
        prop = name.rsplit(".", 1)[-1].upper()  # item1.EMAIL (Apple) → EMAIL
        value = _decode_value(params, value)
        if prop == "BEGIN" and value.strip().upper() == "VCARD":
            card, given_family = Card(line=number), ""
            continue
        if card is None:
            continue
        if prop == "END":
            if not card.name:
                card.name = given_family
            cards.append(card)
            card = None
        elif prop == "FN":
            card.name = _unescape(value).strip()
        elif prop == "N":
            family, given, *_ = [*_split_unescaped(value, ";"), "", ""]
            given_family = " ".join(
                p for p in (_unescape(family).strip(), _unescape(given).strip()) if p
            )
        elif prop == "EMAIL":
            addr = _unescape(value).strip()
            if addr.lower().startswith("mailto:"):
                addr = addr[7:]
            if addr and addr not in card.addresses:
                card.addresses.append(addr)
        elif prop == "TEL" and not card.phone:
            tel = _unescape(value).strip()
            card.phone = tel[4:] if tel.lower().startswith("tel:") else tel
        elif prop == "ORG" and not card.company:
            card.company = " ".join(
                _unescape(p).strip() for p in _split_unescaped(value, ";") if p.strip()
            )
        elif prop == "NOTE":
            card.memo = _unescape(value).strip()
        elif prop == "CATEGORIES":
            for group in _split_unescaped(value, ","):
                group = _unescape(group).strip()
                if group and group not in card.groups:
                    card.groups.append(group)
    return cards


def _escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\r", "")
        .replace(",", "\\,")
        .replace(";", "\\;")
    )


def _fold(line: str) -> str:
    """RFC 6350 §3.2: lines of at most 75 octets, continued with a space; never inside a
    UTF-8 sequence."""
    out: list[str] = []
    current, size = "", 0
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += ch
        size += width
    out.append(current)
    return "\r\n".join(out)


def render_vcards(cards: list[Card], *, version: str = "3.0") -> str:
    lines: list[str] = []
    for card in cards:
        lines += ["BEGIN:VCARD", f"VERSION:{version}", f"FN:{_escape(card.name)}"]
        lines.append(f"N:{_escape(card.name)};;;;")
        for i, addr in enumerate(card.addresses):
            pref = (";PREF=1" if version == "4.0" else ";TYPE=INTERNET,PREF") if i == 0 else ""
            lines.append(f"EMAIL{pref if pref else ''}:{_escape(addr)}")
        if card.phone:
            lines.append(f"TEL:{_escape(card.phone)}")
        if card.company:
            lines.append(f"ORG:{_escape(card.company)}")
        if card.memo:
            lines.append(f"NOTE:{_escape(card.memo)}")
        if card.groups:
            lines.append("CATEGORIES:" + ",".join(_escape(g) for g in card.groups))
        lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


# --- CSV ---------------------------------------------------------------------------------


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-.]+", " ", header.strip().strip('"').casefold()).strip()


# Column names (normalised with _norm) of the exports we read, by field.
_NAME = {"name", "display name", "full name", "이름", "성명", "표시 이름", "전체 이름"}
_GIVEN = {"first name", "given name", "이름(名)"}
_FAMILY = {"last name", "family name", "성"}
_MIDDLE = {"middle name", "additional name", "중간 이름"}
_EMAIL = re.compile(
    r"^(e ?mail|email address|e ?mail \d+ (value|address)|e ?mail( \d+)? address|"
    r"primary email|이메일|이메일 ?\d*|이메일 주소|전자 ?메일( 주소)?|전자 ?메일 ?\d+( 주소)?|"
    r"메일|메일 주소)$"
)
_PHONE = re.compile(
    r"^(mobile phone|phone|phone \d+ value|business phone|home phone|primary phone|"
    r"휴대폰|휴대폰 번호|휴대전화|핸드폰|전화|전화번호|회사 전화|집 전화)$"
)
_COMPANY = {"company", "organization 1 name", "organization name", "회사", "회사명", "소속"}
_MEMO = {"notes", "note", "memo", "메모", "비고", "참고"}
_GROUPS = {"group membership", "labels", "categories", "group", "groups", "그룹", "그룹명", "범주"}


def _role(header: str) -> str:
    h = _norm(header)
    if h in _NAME:
        return "name"
    if h in _GIVEN:
        return "given"
    if h in _FAMILY:
        return "family"
    if h in _MIDDLE:
        return "middle"
    if _EMAIL.match(h):
        return "email"
    if _PHONE.match(h):
        return "phone"
    if h in _COMPANY:
        return "company"
    if h in _MEMO:
        return "memo"
    if h in _GROUPS:
        return "groups"
    return ""


def _split_groups(value: str) -> list[str]:
    # Google: "Friends ::: * myContacts"; Outlook: "a;b"; Naver: "a,b".
    parts = re.split(r"\s*(?::::|;|,)\s*", value)
    return [p.strip() for p in parts if p.strip() and not p.strip().startswith("*")]


def parse_csv(text: str) -> list[Card]:
    """Cards from a CSV whose first row names the columns. FormatError when no column is a
    name or an e-mail address."""
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise FormatError("the file is empty") from exc
    roles = [_role(h) for h in header]
    if "family" in roles and "given" not in roles:
        # Korean Outlook: 성 + 이름, where 이름 is the given name.
        roles = ["given" if r == "name" else r for r in roles]
    if not {"name", "given", "family", "email"} & set(roles):
        raise FormatError("no name or e-mail column")
    cards: list[Card] = []
    for number, row in enumerate(reader, 2):
        if not any(cell.strip() for cell in row):
            continue
        card = Card(line=number)
        given = family = middle = ""
        for role, cell in zip(roles, row, strict=False):
            value = cell.strip()
            if not value or not role:
                continue
            if role == "name" and not card.name:
                card.name = value
            elif role == "given":
                given = value
            elif role == "family":
                family = value
            elif role == "middle":
                middle = value
            elif role == "email":
                for addr in re.split(r"\s*(?::::|;)\s*", value):
                    if addr and addr not in card.addresses:
                        card.addresses.append(addr)
            elif role == "phone" and not card.phone:
                card.phone = value
            elif role == "company" and not card.company:
                card.company = value
            elif role == "memo" and not card.memo:
                card.memo = value
            elif role == "groups":
                card.groups += [g for g in _split_groups(value) if g not in card.groups]
        if not card.name:
            # Korean order (성 이름, no space: 김민수) when the name is Hangul, else Western.
            if re.search(r"[\uac00-\ud7a3]", family + given):
                card.name = family + given
            else:
                card.name = " ".join(p for p in (given, middle, family) if p)
        cards.append(card)
    return cards


CSV_HEADER = (
    "Name",
    "Given Name",
    "Family Name",
    "E-mail 1 - Value",
    "E-mail 2 - Value",
    "E-mail 3 - Value",
    "Phone 1 - Value",
    "Organization 1 - Name",
    "Notes",
    "Group Membership",
)


def render_csv(cards: list[Card]) -> bytes:
    """Google CSV columns (Gmail and Outlook both import them), UTF-8 with a BOM so Excel
    shows Hangul; addresses past the third go into the third, separated by ' ::: '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for card in cards:
        addrs = [*card.addresses[:2], " ::: ".join(card.addresses[2:])]
        addrs += [""] * (3 - len(addrs))
        writer.writerow(
            [
                card.name,
                "",
                "",
                *addrs[:3],
                card.phone,
                card.company,
                card.memo,
                " ::: ".join(card.groups),
            ]
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def parse_file(data: bytes) -> list[Card]:
    """Cards from an uploaded vCard or CSV file (format and encoding found by content)."""
    text = decode_text(data)
    return parse_vcards(text) if detect_format(text) == "vcard" else parse_csv(text)
