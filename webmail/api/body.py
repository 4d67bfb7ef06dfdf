"""GET messages/{id}/body: the message body as a complete, sanitized HTML document for the
browser's sandboxed iframe, with its own strict CSP.

HTML bodies go through mailcore.mime.sanitize_html; text bodies are escaped, linkified
(http, https, mailto only) and sanitized too. Inline images point at signed cid URLs
(webmail.api.cidsign) because the sandboxed frame sends no cookies.
"""

from __future__ import annotations

import html
import re
from typing import Final
from urllib.parse import quote

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


def body_csp(request: Request, message: Message, *, load_remote: bool) -> str:
    origin = f"{request.scheme}://{request.get_host()}"
    img_src = f"data: {origin}{_cid_prefix(message)}"
    if load_remote:
        img_src += " " + _REMOTE_IMG_SRC
    return _CSP_TEMPLATE.format(img_src=img_src)


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
        message = access_message(current_account(request), pk)
        query = BodyQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        load_remote = bool(query.validated_data["images"]) or remote_images_allowed(
            current_account(request), message.from_addr
        )
        parsed = parse_message(read_message_bytes(message))
        response = HttpResponse(
            render_body(message, parsed, load_remote=load_remote),
            content_type="text/html; charset=utf-8",
        )
        response["Content-Security-Policy"] = body_csp(request, message, load_remote=load_remote)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        # The app frames this same-origin document; everything else stays DENY.
        response["X-Frame-Options"] = "SAMEORIGIN"
        return response
