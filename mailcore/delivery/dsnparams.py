"""The DSN extension's SMTP parameters (RFC 3461): NOTIFY and ORCPT on RCPT, RET and ENVID on
MAIL. Pure functions: parse and validate what a client sent (the SMTP server), encode what we
pass on (the relay client). No I/O, no Django."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ENVID = 100  # RFC 3461 §4.4: "at most 100 characters" (xtext as sent)
MAX_ORCPT = 500  # RFC 3461 §4.2: the whole ORCPT value, xtext as sent

NOTIFY_KEYWORDS = ("SUCCESS", "DELAY", "FAILURE")  # canonical order of a stored list
RET_VALUES = ("FULL", "HDRS")

# RFC 3461 §4: xtext = *( xchar / hexchar ), xchar = "!".."~" except "+" and "=",
# hexchar = "+" 2(upper-case HEXDIG).
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})*")
_HEXCHAR = re.compile(r"\+([0-9A-F]{2})")
_ADDR_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,30}")  # RFC 3461 §4.2: an atom
# RFC 6533 §3: utf-8-addr-xtext / utf-8-addr-unitext: no controls, space, "+" or "=";
# anything may be written as \x{HEX}.
_UNITEXT = re.compile(r"(?:[^\x00-\x20\x7f+=\\]|\\x\{[0-9A-F]{1,6}\})+")
_EMBEDDED = re.compile(r"\\x\{([0-9A-F]{1,6})\}")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


class DsnParamError(ValueError):
    """A malformed or repeated DSN parameter: 501 5.5.4 (RFC 3461 §4)."""


@dataclass(frozen=True, slots=True)
class MailDsn:
    ret: str = ""  # "" (not given) | "FULL" | "HDRS"
    envid: str = ""  # decoded from xtext; printable ASCII


@dataclass(frozen=True, slots=True)
class RcptDsn:
    notify: str = ""  # "" (not given) | "NEVER" | "SUCCESS,DELAY,FAILURE" (a subset, this order)
    orcpt: str = ""  # "addr-type;address", decoded ("rfc822;bob@example.com")

    def wants(self, what: str) -> bool:
        """Whether a notice of kind `what` (SUCCESS, DELAY, FAILURE) is asked for. Without
        NOTIFY, failures and delays are reported and successes are not (RFC 3461 §4.1)."""
        if not self.notify:
            return what != "SUCCESS"
        return what in self.notify.split(",")


def xtext_decode(value: str) -> str:
    if not _XTEXT.fullmatch(value):
        raise DsnParamError("not xtext")
    return _HEXCHAR.sub(lambda m: chr(int(m.group(1), 16)), value)


def xtext_encode(value: str) -> str:
    """ASCII `value` as xtext: "+", "=" and anything outside "!".."~" as +HH."""
    return "".join(
        c if "!" <= c <= "~" and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )


def split_params(text: str) -> list[tuple[str, str, bool]]:
    """ESMTP parameters (RFC 5321 §4.1.2) as (NAME upper-cased, value as sent, has "=")."""
    out: list[tuple[str, str, bool]] = []
    for token in text.split():
        name, eq, value = token.partition("=")
        out.append((name.upper(), value, bool(eq)))
    return out


def _once(seen: set[str], name: str) -> None:
    if name in seen:
        raise DsnParamError(f"{name} given twice")
    seen.add(name)


def parse_mail_params(params: list[tuple[str, str, bool]]) -> tuple[MailDsn, list[str]]:
    """RET and ENVID out of MAIL FROM's parameters; the others are returned as sent."""
    ret = envid = ""
    seen: set[str] = set()
    rest: list[str] = []
    for name, value, eq in params:
        if name == "RET":
            _once(seen, name)
            if value.upper() not in RET_VALUES:
                raise DsnParamError("RET must be FULL or HDRS")
            ret = value.upper()
        elif name == "ENVID":
            _once(seen, name)
            if not value or len(value) > MAX_ENVID:
                raise DsnParamError(f"ENVID must be 1 to {MAX_ENVID} characters of xtext")
            envid = xtext_decode(value)
            if not _PRINTABLE_ASCII.fullmatch(envid):
                raise DsnParamError("ENVID must decode to printable ASCII")
        else:
            rest.append(f"{name}={value}" if eq else name)
    return MailDsn(ret, envid), rest


def parse_notify(value: str) -> str:
    words = [w.upper() for w in value.split(",")]
    if words == ["NEVER"]:
        return "NEVER"
    if not words or any(w not in NOTIFY_KEYWORDS for w in words) or len(set(words)) != len(words):
        raise DsnParamError("NOTIFY must be NEVER or a list of SUCCESS, DELAY, FAILURE")
    return ",".join(k for k in NOTIFY_KEYWORDS if k in words)


def parse_orcpt(value: str) -> str:
    """The decoded "addr-type;address" of an ORCPT value (RFC 3461 §4.2, RFC 6533 §3)."""
    if not value or len(value) > MAX_ORCPT:
        raise DsnParamError(f"ORCPT must be 1 to {MAX_ORCPT} characters")
    addr_type, semi, address = value.partition(";")
    if not semi or not _ADDR_TYPE.fullmatch(addr_type) or not address:
        raise DsnParamError("ORCPT must be addr-type;xtext")
    if addr_type.lower() == "utf-8":
        if not _UNITEXT.fullmatch(address):
            raise DsnParamError("ORCPT utf-8 address is malformed")
        decoded = _EMBEDDED.sub(lambda m: _codepoint(m.group(1)), address)
    else:
        decoded = xtext_decode(address)
        if not _PRINTABLE_ASCII.fullmatch(decoded):
            raise DsnParamError("ORCPT must decode to printable ASCII")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        raise DsnParamError("ORCPT contains control characters")
    return f"{addr_type.lower()};{decoded}"


def _codepoint(hexpoint: str) -> str:
    point = int(hexpoint, 16)
    if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
        raise DsnParamError("ORCPT has an invalid code point")
    return chr(point)


def parse_rcpt_params(params: list[tuple[str, str, bool]]) -> tuple[RcptDsn, list[str]]:
    """NOTIFY and ORCPT out of RCPT TO's parameters; the others are returned as sent."""
    notify = orcpt = ""
    seen: set[str] = set()
    rest: list[str] = []
    for name, value, eq in params:
        if name == "NOTIFY":
            _once(seen, name)
            notify = parse_notify(value)
        elif name == "ORCPT":
            _once(seen, name)
            orcpt = parse_orcpt(value)
        else:
            rest.append(f"{name}={value}" if eq else name)
    return RcptDsn(notify, orcpt), rest


def encode_orcpt(orcpt: str) -> str:
    """A stored "addr-type;address" as it goes on the wire (xtext, or RFC 6533 utf-8-addr-xtext
    for a non-ASCII address)."""
    addr_type, _, address = orcpt.partition(";")
    if address.isascii():
        return f"{addr_type};{xtext_encode(address)}"
    escaped = "".join(
        c if c.isascii() and "!" <= c <= "~" and c not in "+=\\" else f"\\x{{{ord(c):X}}}"
        for c in address
    )
    return f"utf-8;{escaped}"


def field_value(orcpt: str) -> str:
    """The ORCPT as an Original-Recipient field value (RFC 3464 §2.3.1): "rfc822; address"."""
    addr_type, _, address = orcpt.partition(";")
    return f"{addr_type}; {address}"
