"""HTML mail sanitiser: css-inline (no fetching), then one nh3 allowlist pass.

All rewriting (cid:, remote images, links, CSS) happens inside nh3's attribute_filter and
the output is never modified afterwards (security.md W2). No Django, network or files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

import css_inline
import nh3

# libraries.md §6, plus a few inert text-level elements. No script/style/iframe/object/
# embed/form/input/svg/math/animate/set/use/image/video/audio/link/meta/base (W1, W4).
TAGS: Final = frozenset(
    {
        "a", "abbr", "address", "b", "big", "blockquote", "br", "caption", "center", "cite",
        "code", "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2",
        "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre",
        "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip

# Removed together with their content: script bodies, CSS text, and the SVG/MathML
# subtrees that carry mutation-XSS and animate/set/use payloads (DOMPurify #260/#796).
CLEAN_CONTENT_TAGS: Final = frozenset(
    {
        "script", "style", "title", "noscript", "template", "iframe", "frame", "frameset",
        "noframes", "object", "embed", "applet", "noembed", "xmp", "plaintext", "svg", "math",
        "textarea", "select",
    }
)  # fmt: skip

_GLOBAL_ATTRS: Final = frozenset(
    {
        "style", "title", "align", "dir", "lang", "width", "height", "bgcolor", "valign",
        "colspan", "rowspan", "border", "cellpadding", "cellspacing", "nowrap",
        # Allowed only so the filter sees it: remote backgrounds are blocked and counted.
        "background",
    }
)  # fmt: skip

ATTRIBUTES: Final = {
    "*": set(_GLOBAL_ATTRS),
    "a": {"href"},
    "img": {"src", "alt"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "li": {"value"},
}

# No position/z-index/float tricks (W5), nothing that takes url() (W4: _CSS_BAD drops any
# declaration that could load something). Colours and backgrounds stay (newsletters are
# coloured tables: a white text on a dropped dark background would be unreadable).
CSS_PROPERTIES: Final = frozenset(
    {
        "color", "background", "background-color", "font", "font-size", "font-family",
        "font-weight", "font-style", "font-variant", "text-align", "text-decoration",
        "text-transform", "text-indent", "letter-spacing", "word-spacing", "word-break",
        "overflow-wrap", "line-height", "margin", "margin-left", "margin-right",
        "margin-top", "margin-bottom", "padding", "padding-left", "padding-right",
        "padding-top", "padding-bottom", "border", "border-top", "border-right",
        "border-bottom", "border-left", "border-color", "border-style", "border-width",
        "border-radius", "border-collapse", "border-spacing", "width", "height",
        "min-width", "min-height", "max-width", "max-height", "vertical-align",
        "white-space", "direction", "table-layout", "display",
    }
)  # fmt: skip
_BACKGROUND_PROPERTIES: Final = frozenset({"background", "background-color", "background-image"})

# Schemes ammonia lets through to our filter; the filter narrows them per attribute.
_URL_SCHEMES: Final = frozenset({"http", "https", "mailto", "cid", "data"})
_LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
_LINK_REL: Final = "noopener noreferrer nofollow"

_SCHEME_RE: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
# WHATWG URL parsing strips leading/trailing C0+space and removes TAB/LF/CR anywhere,
# so 'java\tscript:' is 'javascript:' to a browser; check what the browser will see.
_URL_STRIP_INNER_RE: Final = re.compile(r"[\t\n\r]")
_C0_AND_SPACE: Final = "".join(chr(c) for c in range(0x21))
_DATA_IMAGE_RE: Final = re.compile(
    r"data:image/(?:png|gif|jpeg|jpg|webp)(?:;[a-z0-9=._+\-]*)*,[a-z0-9+/=%\s]*\Z", re.I
)
_SAFE_OWN_URL_RE: Final = re.compile(r"(?:/(?!/)|https?://)[^\s\"'<>\\\x00-\x1f\x7f]*\Z")
# CSS declarations containing any of these are dropped whole: url()/image-set() fetch,
# expression()/behavior/binding execute in old engines, backslash escapes can spell any
# of them (\75 rl( is url( to a CSS tokenizer), comments can split tokens.
_CSS_BAD: Final = (
    "url(", "image", "expression", "javascript:", "vbscript:", "behavior", "binding",
    "@import", "\\", "/*", "src(", "element(", "paint(",
)  # fmt: skip
_CSS_REMOTE_URL_RE: Final = re.compile(r"url\(\s*[\"']?\s*(?:https?:)?//", re.I)
_INLINE_MAX_CHARS: Final = 1_000_000  # css-inline cost grows with rules x elements
_HAS_STYLE_RE: Final = re.compile(r"<style", re.I)


@dataclass(frozen=True, slots=True)
class SanitizedHtml:
    html: str
    blocked_remote: int  # remote resources removed (img src, background, CSS url(...))


def _clean_url(value: str) -> str:
    return _URL_STRIP_INNER_RE.sub("", value).strip(_C0_AND_SPACE)


def _scheme(url: str) -> str | None:
    m = _SCHEME_RE.match(url)
    return m.group(1).lower() if m else None


def _is_remote(url: str) -> bool:
    return url.startswith("//") or _scheme(url) in ("http", "https")


class _Filter:
    """nh3 attribute_filter; counts what it blocks. Returns None to drop an attribute."""

    def __init__(self, cid_url: Callable[[str], str | None] | None, load_remote: bool) -> None:
        self.cid_url = cid_url
        self.load_remote = load_remote
        self.blocked = 0

    def __call__(self, tag: str, attr: str, value: str) -> str | None:
        if tag not in TAGS:
            # ammonia also asks about attributes of elements it is about to drop
            # (iframe src, embed src): drop them without counting them as blocked.
            return None
        try:
            if attr == "href":
                return self._href(value)
            if attr in ("src", "background"):
                return self._image(value)
            if attr == "style":
                return self._style(value)
            return value
        except Exception:  # a failing callback (cid_url) must drop the attribute, not leak
            return None

    @staticmethod
    def _href(value: str) -> str | None:
        url = _clean_url(value)
        if url.startswith("#"):
            return url
        return url if _scheme(url) in _LINK_SCHEMES else None

    def _image(self, value: str) -> str | None:
        url = _clean_url(value)
        scheme = _scheme(url)
        if scheme == "cid":
            # RFC 2392: cid URLs are %-encoded Content-IDs; hand the decoded id over.
            cid = unquote(url[4:]).strip().strip("<>")
            if not cid or self.cid_url is None:
                return None
            target = self.cid_url(cid)
            # The callback's result is not re-checked by ammonia: allow only our own
            # absolute path or an http(s) URL, with nothing that could break out.
            if isinstance(target, str) and _SAFE_OWN_URL_RE.match(target):
                return target
            return None
        if scheme == "data":
            return url if _DATA_IMAGE_RE.match(url) else None
        if _is_remote(url):
            if self.load_remote:
                return "https:" + url if url.startswith("//") else url
            self.blocked += 1
            return None
        return None  # relative URLs would resolve against our origin

    def _style(self, value: str) -> str | None:
        kept: list[str] = []
        lost_background = False
        for decl in value.split(";"):
            compact = "".join(decl.split()).lower()
            if not compact:
                continue
            prop = compact.split(":", 1)[0]
            if any(bad in compact for bad in _CSS_BAD):
                self.blocked += len(_CSS_REMOTE_URL_RE.findall(decl))
                lost_background |= prop in _BACKGROUND_PROPERTIES
                continue
            kept.append(decl.strip())
        props = ["".join(d.split()).lower().split(":", 1)[0] for d in kept]
        if lost_background and not _BACKGROUND_PROPERTIES.intersection(props):
            # The text colour was chosen for the background that had to go (an image) and no
            # background colour is left under it: on the page's own background it could be
            # invisible (white on white). Drop it too.
            kept = [d for d, p in zip(kept, props, strict=True) if p != "color"]
        # ammonia then keeps only CSS_PROPERTIES from what we return.
        return ";".join(kept) if kept else None


def _inline_css(html: str) -> str:
    """Move <style> rules into style="" (newsletters need it); fetch nothing."""
    if len(html) > _INLINE_MAX_CHARS or not _HAS_STYLE_RE.search(html):
        return html
    try:
        return css_inline.inline(
            html,
            load_remote_stylesheets=False,
            keep_style_tags=False,
            keep_link_tags=False,
            keep_at_rules=False,
        )
    except Exception:  # broken CSS: sanitise without inlining
        return html


def sanitize_html(
    html: str,
    *,
    cid_url: Callable[[str], str | None] | None = None,
    load_remote: bool = False,
) -> SanitizedHtml:
    """Sanitise mail HTML for display in a sandboxed iframe.

    cid_url receives the (percent-decoded) Content-ID of a `cid:` image and returns the
    URL to serve it from, or None to drop the image. Remote http(s) images are kept only
    when load_remote is True; otherwise they are removed and counted.
    """
    attribute_filter = _Filter(cid_url, load_remote)
    cleaned = nh3.clean(
        _inline_css(html),
        tags=set(TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=_LINK_REL,
        url_schemes=set(_URL_SCHEMES),
        filter_style_properties=set(CSS_PROPERTIES),
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return SanitizedHtml(html=cleaned, blocked_remote=attribute_filter.blocked)
