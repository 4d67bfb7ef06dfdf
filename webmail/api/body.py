"""GET messages/{id}/body: the message body as a complete, sanitized HTML document for the
browser's sandboxed iframe, with its own strict CSP.

HTML bodies go through mailcore.mime.sanitize_html; text bodies are escaped, linkified
(http, https, mailto only) and sanitized too. Inline images point at signed cid URLs
(webmail.api.cidsign) because the sandboxed frame sends no cookies.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from mailcore.mime import ParsedMessage, parse_message, sanitize_html
from mailcore.store.models import Message
from mailcore.store.queries import access_message, read_message_bytes
from webmail.accounts.current import current_account
from webmail.accounts.queries import remote_images_allowed
from webmail.api.cidsign import sign_cid_access
from webmail.api.downloads import normalize_type
from webmail.api.messages import NOT_FOUND, STORAGE, _BytesView

# Contract "Reading": the frame may open links in new tabs (popups that escape the sandbox)
# and nothing else: no script, no same-origin access, no forms, no plugins, no fetches except
# this message's own inline images (and remote images when the user allows them).
_CSP_TEMPLATE: Final = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; font-src data:; img-src {img_src}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_REMOTE_IMG_SRC: Final = "https: http:"

_DOCUMENT: Final = (
    "<!DOCTYPE html>\n"
    '<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
    "<style>"
    "html,body{margin:0;padding:0;background:#fff}"
    "body{padding:8px;color:#1f2328;font-size:14px;line-height:1.5;"
    'font-family:system-ui,-apple-system,"Segoe UI","Apple SD Gothic Neo","Malgun Gothic",'
    "sans-serif;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}"
    "pre{margin:0;font-family:inherit}"
    "</style></head><body>{content}</body></html>\n"
)

# RFC 3986 characters only: in Korean text a URL is often followed directly by a particle
# ("https://x.example/a입니다"), which must not become part of the link.
_LINK_RE: Final = re.compile(r"(?:https?://|mailto:)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.I)
_TRAILING: Final = ".,;:!?'\""
_CLOSERS: Final = {")": "(", "]": "["}


class BodyQuerySerializer(serializers.Serializer):
    images = serializers.BooleanField(
        required=False,
        default=False,
        help_text="1 loads remote images for this view (the user clicked 'show images')",
    )


class PrintQuerySerializer(BodyQuerySerializer):
    lang = serializers.ChoiceField(
        choices=("ko", "en"), required=False, default="ko", help_text="language of the labels"
    )
    tz = serializers.CharField(
        required=False, default="UTC", max_length=64, help_text="IANA zone for the date"
    )


def _trim_link(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets from the end of a URL."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])):
            url = url[:-1]
            continue
        break
    return url


def text_to_html(text: str) -> str:
    """Plain text as HTML: escaped, http/https/mailto URLs linked, line breaks kept."""
    out: list[str] = []
    pos = 0
    for match in _LINK_RE.finditer(text):
        url = _trim_link(match.group(0))
        if url.lower() in ("http://", "https://", "mailto:"):
            continue
        out.append(html.escape(text[pos : match.start()]))
        escaped = html.escape(url, quote=True)
        out.append(f'<a href="{escaped}">{escaped}</a>')
        pos = match.start() + len(url)
    out.append(html.escape(text[pos:]))
    return '<pre style="white-space:pre-wrap">' + "".join(out) + "</pre>"


def _inline_image_cids(parsed: ParsedMessage) -> set[str]:
    return {
        a.content_id.strip().strip("<>").strip().casefold()
        for a in parsed.attachments
        if a.content_id and normalize_type(a.content_type).startswith("image/")
    }


def _cid_prefix(message: Message) -> str:
    # The path every inline image of this message lives under, with a trailing slash so that
    # as a CSP source it matches those paths and nothing else.
    path = reverse("api:message-cid", kwargs={"pk": message.pk, "content_id": "_"})
    return path[:-1]


def render_body(message: Message, parsed: ParsedMessage, *, load_remote: bool) -> str:
    """The sanitized body document. Always sanitized: a text body through the same allowlist."""
    cids = _inline_image_cids(parsed)
    sig = quote(sign_cid_access(account_id=message.account_id, message_id=message.pk), safe="")
    prefix = _cid_prefix(message)

    def cid_url(cid: str) -> str | None:
        if cid.casefold() not in cids:
            return None
        return f"{prefix}{quote(cid, safe='@.-_~!$&()*+,;=:')}?sig={sig}"

    if parsed.html:
        content = sanitize_html(parsed.html, cid_url=cid_url, load_remote=load_remote).html
    elif parsed.text:
        content = sanitize_html(text_to_html(parsed.text)).html
    else:
        content = ""
    return _DOCUMENT.replace("{content}", content)


def _img_src(request: Request, message: Message, *, load_remote: bool) -> str:
    origin = f"{request.scheme}://{request.get_host()}"
    img_src = f"data: {origin}{_cid_prefix(message)}"
    return f"{img_src} {_REMOTE_IMG_SRC}" if load_remote else img_src


def body_csp(request: Request, message: Message, *, load_remote: bool) -> str:
    return _CSP_TEMPLATE.format(img_src=_img_src(request, message, load_remote=load_remote))


# --- the print page ---------------------------------------------------------------------------
# A frame prints only its own box and no script may measure the sandboxed body to grow it, so
# the print button opens this page in a tab of its own (as Naver's 인쇄 window does): the
# headers and the same sanitized body as one document, which the browser paginates whole.
# Its one script is this fixed line, allowed by its hash; the page is sandboxed to an opaque
# origin (no cookies, no API, no same-origin access), so even mail HTML that slipped past the
# sanitizer could run nothing: CSP allows no other script, inline handler or fetch.
_PRINT_SCRIPT: Final = 'addEventListener("load",function(){print()})'
_PRINT_SCRIPT_HASH: Final = base64.b64encode(
    hashlib.sha256(_PRINT_SCRIPT.encode()).digest()
).decode()
_PRINT_CSP_TEMPLATE: Final = (
    "sandbox allow-scripts allow-modals allow-popups allow-popups-to-escape-sandbox; "
    f"default-src 'none'; script-src 'sha256-{_PRINT_SCRIPT_HASH}'; "
    "style-src 'unsafe-inline'; font-src data:; img-src {img_src}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PRINT_LABELS: Final = {
    "ko": {
        "from": "보낸 사람",
        "to": "받는 사람",
        "cc": "참조",
        "date": "날짜",
        "none": "(제목 없음)",
    },
    "en": {"from": "From", "to": "To", "cc": "Cc", "date": "Date", "none": "(no subject)"},
}
_PRINT_STYLE: Final = (
    "<style>@page{margin:15mm}"
    ".print-head{margin:0 0 12px;padding:0 8px 8px;border-bottom:1px solid #d0d7de}"
    ".print-head h1{font-size:18px;margin:0 0 6px}"
    ".print-head table{border-collapse:collapse;font-size:13px}"
    ".print-head th{text-align:left;font-weight:600;padding:1px 12px 1px 0;white-space:nowrap;"
    "vertical-align:top}"
    ".print-head td{padding:1px 0}"
    "</style>"
)


def _addresses(pairs: list[list[str]]) -> str:
    def one(name: str, address: str) -> str:
        return f"{name} <{address}>" if name and address else name or address

    return ", ".join(one(*[*pair, "", ""][:2]) for pair in pairs)


def _print_date(when: datetime, zone: str) -> str:
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M (%Z)")


def render_print(
    message: Message, parsed: ParsedMessage, *, load_remote: bool, lang: str, zone: str
) -> str:
    """The print page: the body document with a header block (subject, from, to, cc, date,
    all escaped) and the script that opens the print dialog once images have loaded."""
    labels = _PRINT_LABELS[lang]
    rows = [
        ("from", _addresses([[message.from_name, message.from_addr]])),
        ("to", _addresses(message.to_addrs)),
        ("cc", _addresses(message.cc_addrs)),
        ("date", _print_date(message.sent_date or message.internal_date, zone)),
    ]
    table = "".join(
        f"<tr><th>{html.escape(labels[key])}</th><td>{html.escape(value)}</td></tr>"
        for key, value in rows
        if value
    )
    head = (
        f'<header class="print-head"><h1>{html.escape(message.subject or labels["none"])}</h1>'
        f"<table>{table}</table></header>"
    )
    document = render_body(message, parsed, load_remote=load_remote)
    document = document.replace("</style></head><body>", "</style>" + _PRINT_STYLE, 1)
    document = document.replace(
        _PRINT_STYLE, _PRINT_STYLE + f"<script>{_PRINT_SCRIPT}</script></head><body>" + head, 1
    )
    return document.replace("<html>", f'<html lang="{lang}">', 1)


def print_csp(request: Request, message: Message, *, load_remote: bool) -> str:
    return _PRINT_CSP_TEMPLATE.replace(
        "{img_src}", _img_src(request, message, load_remote=load_remote)
    )


@dataclass(frozen=True, slots=True)
class _Opened:
    message: Message
    parsed: ParsedMessage
    load_remote: bool
    query: dict[str, Any]


def _open(request: Request, pk: int, query_class: type[BodyQuerySerializer]) -> _Opened:
    """The message (NotFound if not the user's), parsed, with its validated query and whether
    remote images load: ?images=1, the user's policy, or a trusted sender."""
    message = access_message(current_account(request), pk)
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    load_remote = bool(query.validated_data["images"]) or remote_images_allowed(
        current_account(request), message.from_addr
    )
    parsed = parse_message(read_message_bytes(message))
    return _Opened(message, parsed, load_remote, dict(query.validated_data))


def _document(text: str, csp: str, *, frame_options: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = csp
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = frame_options
    return response


class MessageBodyView(_BytesView):
    @extend_schema(
        operation_id="messages_body",
        parameters=[BodyQuerySerializer],
        responses={(200, "text/html"): OpenApiTypes.STR, 404: NOT_FOUND, 503: STORAGE},
        description="The body as a complete HTML document for a sandboxed iframe "
        '(`<iframe sandbox="allow-popups allow-popups-to-escape-sandbox">`): sanitized on the '
        "server, a text body escaped and linkified. Served with its own Content-Security-"
        "Policy (sandbox, no script, images only from this message's signed cid URLs, plus "
        "remote images when allowed: ?images=1, the user's policy 'always', or a trusted "
        "sender under policy 'ask'). Inline image URLs work without cookies for 1 hour.",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        o = _open(request, pk, BodyQuerySerializer)
        return _document(
            render_body(o.message, o.parsed, load_remote=o.load_remote),
            body_csp(request, o.message, load_remote=o.load_remote),
            # The app frames this same-origin document; everything else stays DENY.
            frame_options="SAMEORIGIN",
        )


class MessagePrintView(_BytesView):
    @extend_schema(
        operation_id="messages_print",
        parameters=[PrintQuerySerializer],
        responses={(200, "text/html"): OpenApiTypes.STR, 404: NOT_FOUND, 503: STORAGE},
        description="A page to print the message from (the webmail's print button opens it in "
        "a new tab): its headers and the sanitized body as one document, so every page of a "
        "long mail prints, HTML and text alike. It opens the print dialog itself with one "
        "hash-pinned script, sandboxed to an opaque origin; images as for body.",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        o = _open(request, pk, PrintQuerySerializer)
        page = render_print(
            o.message,
            o.parsed,
            load_remote=o.load_remote,
            lang=o.query["lang"],
            zone=o.query["tz"],
        )
        return _document(
            page, print_csp(request, o.message, load_remote=o.load_remote), frame_options="DENY"
        )
