"""GET messages/{id}/body: the sanitized body document for the sandboxed iframe (its CSP and
headers), signed cookie-less cid URLs, remote images only when allowed, text bodies escaped and
linkified, and the detail JSON fields that point at it."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.core import signing
from rest_framework.test import APIClient

from mailcore.directory.actions import do_set_account_active
from mailcore.directory.models import Account
from mailcore.store.actions import do_delete_messages
from mailcore.store.models import Message
from tests.api.helpers import build_message, png_bytes, put
from tests.conftest import load_eml
from webmail.accounts.actions import do_trust_image_sender, do_update_settings
from webmail.api.cidsign import CID_URL_MAX_AGE, sign_cid_access

REMOTE = "https://img.example/banner.png"


def _csp(pk: int, *, remote: bool = False) -> str:
    img = f"data: http://testserver/api/v1/messages/{pk}/cid/" + (" https: http:" if remote else "")
    return (
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
        f"style-src 'unsafe-inline'; font-src data:; img-src {img}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


class _Collect(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(document: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collect()
    parser.feed(document)
    return parser.tags


def _body(client: APIClient, pk: int, query: str = "") -> str:
    response = client.get(f"/api/v1/messages/{pk}/body{query}")
    assert response.status_code == 200, response.content
    return response.content.decode()


def _img_srcs(document: str) -> list[str]:
    return [str(a.get("src")) for tag, a in _tags(document) if tag == "img" and a.get("src")]


def _with_remote_image(account: Account, sender: str = "News <news@shop.test>") -> Message:
    return put(account, sender=sender, html=f'<p>Sale!</p><img src="{REMOTE}" alt="banner">')


def _with_inline_image(account: Account) -> Message:
    return put(
        account,
        html='<p>Logo: <img src="cid:logo@remote.test" alt="logo"></p>',
        inline_images=[(png_bytes(), "image/png", "logo@remote.test")],
    )


# --- headers ----------------------------------------------------------------------------------


def test_headers_and_exact_csp(alice: Account, alice_api: APIClient) -> None:
    pk = _with_inline_image(alice).pk
    response = alice_api.get(f"/api/v1/messages/{pk}/body")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == _csp(pk)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    document = response.content.decode()
    assert document.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in document


def test_csp_widens_img_src_only_when_remote_images_load(
    alice: Account, alice_api: APIClient
) -> None:
    pk = _with_remote_image(alice).pk
    plain = alice_api.get(f"/api/v1/messages/{pk}/body")
    assert plain["Content-Security-Policy"] == _csp(pk)
    shown = alice_api.get(f"/api/v1/messages/{pk}/body?images=1")
    assert shown["Content-Security-Policy"] == _csp(pk, remote=True)


def test_other_api_responses_still_refuse_framing(alice: Account, alice_api: APIClient) -> None:
    pk = _with_inline_image(alice).pk
    assert alice_api.get(f"/api/v1/messages/{pk}")["X-Frame-Options"] == "DENY"


def test_app_shell_csp_allows_framing_same_origin(db: None) -> None:
    response = APIClient().get("/")
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    assert "frame-src 'self'" in directives
    assert "frame-ancestors 'none'" in directives  # the app itself is never framed


def test_body_works_with_the_browser_session(alice: Account) -> None:
    # The iframe's own request comes from the app's page, so it carries the session cookie.
    client = APIClient()
    client.force_login(alice)
    pk = _with_inline_image(alice).pk
    assert client.get(f"/api/v1/messages/{pk}/body").status_code == 200


def test_body_needs_a_sign_in(alice: Account) -> None:
    pk = _with_inline_image(alice).pk
    assert APIClient().get(f"/api/v1/messages/{pk}/body").status_code == 401


def test_bad_images_parameter_is_refused(alice: Account, alice_api: APIClient) -> None:
    pk = _with_remote_image(alice).pk
    response = alice_api.get(f"/api/v1/messages/{pk}/body?images=maybe")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"


# --- hostile HTML -----------------------------------------------------------------------------


def test_hostile_html_has_no_script_handlers_or_dangerous_urls(
    alice: Account, alice_api: APIClient
) -> None:
    pk = put(alice, load_eml("hostile_html.eml")).pk
    document = _body(alice_api, pk)
    lowered = document.lower()
    for bad in (
        "<script", "alert(", "javascript:", "vbscript:", "data:text/html", "<iframe", "<object",
        "<embed", "<form", "<input", "<svg", "<math", "<animate", "<set", "<use", "<link",
        "<details", "position:", "z-index", "expression(", "tracker.example", "evil.example",
    ):  # fmt: skip
        assert bad not in lowered, bad
    assert "<p>visible text</p>" in document

    for tag, attrs in _tags(document):
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert value is not None
                assert urlsplit(value).scheme in ("http", "https", "mailto"), value
            if name in ("src", "background"):
                pytest.fail(f"{tag} {name}={value}: hostile mail has no loadable image")
        if tag == "a":
            assert attrs.get("target") == "_blank"
            rel = set(str(attrs.get("rel")).split())
            assert {"noopener", "noreferrer"} <= rel
    # Only the document's own <style> (before <body>) survives; the mail's is gone.
    assert document.count("<style") == 1
    assert document.index("<style") < document.index("<body>")


def test_links_open_in_a_new_tab(alice: Account, alice_api: APIClient) -> None:
    pk = put(alice, html='<a href="https://example.org/x" target="_self">x</a>').pk
    links = [a for tag, a in _tags(_body(alice_api, pk)) if tag == "a"]
    assert links == [
        {
            "href": "https://example.org/x",
            "target": "_blank",
            "rel": "noopener noreferrer nofollow",
        }
    ]


def test_allowed_css_is_kept(alice: Account, alice_api: APIClient) -> None:
    pk = put(
        alice,
        html="<html><head><style>.btn{color:#fff;background-color:#0a66c2;position:absolute}"
        '</style></head><body><a class="btn" href="https://example.org/">Go</a>'
        '<p style="font-size:18px;position:fixed">big</p></body></html>',
    ).pk
    document = _body(alice_api, pk)
    styles = [a.get("style") or "" for tag, a in _tags(document) if tag in ("a", "p")]
    assert "color:#fff" in styles[0].replace(" ", "")
    assert "background-color:#0a66c2" in styles[0].replace(" ", "")
    assert "font-size:18px" in styles[1].replace(" ", "")
    assert "position" not in document.split("</style>", 1)[1]


# --- remote images ----------------------------------------------------------------------------


def test_remote_images_blocked_by_default_and_loaded_on_request(
    alice: Account, alice_api: APIClient
) -> None:
    pk = _with_remote_image(alice).pk
    assert REMOTE not in _body(alice_api, pk)
    assert _img_srcs(_body(alice_api, pk, "?images=1")) == [REMOTE]
    detail = alice_api.get(f"/api/v1/messages/{pk}").json()
    assert detail["remote_images_allowed"] is False
    assert detail["remote_images_blocked"] == 1
    assert detail["body_url"] == f"/api/v1/messages/{pk}/body"


def test_trusted_sender_images_load_by_themselves(alice: Account, alice_api: APIClient) -> None:
    trusted = _with_remote_image(alice, sender="News <News@Shop.TEST>").pk
    other = _with_remote_image(alice, sender="Spam <spam@elsewhere.test>").pk
    do_trust_image_sender(acting_account=alice, address="news@shop.test")

    assert _img_srcs(_body(alice_api, trusted)) == [REMOTE]
    assert REMOTE not in _body(alice_api, other)
    detail = alice_api.get(f"/api/v1/messages/{trusted}").json()
    assert detail["remote_images_allowed"] is True
    assert detail["remote_images_blocked"] == 0
    assert REMOTE in detail["html"]
    assert alice_api.get(f"/api/v1/messages/{other}").json()["remote_images_allowed"] is False


def test_policy_always_loads_every_remote_image(alice: Account, alice_api: APIClient) -> None:
    pk = _with_remote_image(alice).pk
    do_update_settings(acting_account=alice, changes={"remote_images": "always"})
    response = alice_api.get(f"/api/v1/messages/{pk}/body")
    assert response["Content-Security-Policy"] == _csp(pk, remote=True)
    assert _img_srcs(response.content.decode()) == [REMOTE]
    assert alice_api.get(f"/api/v1/messages/{pk}").json()["remote_images_allowed"] is True


def test_policy_never_ignores_trust_but_not_an_explicit_request(
    alice: Account, alice_api: APIClient
) -> None:
    pk = _with_remote_image(alice).pk
    do_trust_image_sender(acting_account=alice, address="news@shop.test")
    do_update_settings(acting_account=alice, changes={"remote_images": "never"})
    assert REMOTE not in _body(alice_api, pk)
    assert alice_api.get(f"/api/v1/messages/{pk}").json()["remote_images_allowed"] is False
    # "Never automatically": the user's click (?images=1) still shows them.
    assert _img_srcs(_body(alice_api, pk, "?images=1")) == [REMOTE]


def test_another_users_trust_does_not_count(
    alice: Account, bob: Account, alice_api: APIClient
) -> None:
    pk = _with_remote_image(alice).pk
    do_trust_image_sender(acting_account=bob, address="news@shop.test")
    do_update_settings(acting_account=bob, changes={"remote_images": "always"})
    assert REMOTE not in _body(alice_api, pk)


# --- text bodies ------------------------------------------------------------------------------


def test_text_body_is_escaped_and_linkified(alice: Account, alice_api: APIClient) -> None:
    text = (
        "Hi <b>bold</b> & <script>alert(1)</script>\n"
        "See https://example.org/a?b=1&c=2. Or mailto:bob@example.com, (https://paren.example/x)\n"
        "링크 https://x.example/a입니다 and javascript:alert(2) ftp://files.example/f\n"
    )
    pk = put(alice, text=text).pk
    document = _body(alice_api, pk)
    content = document.split("<body>", 1)[1]
    assert content.startswith('<pre style="white-space:pre-wrap">')
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in content
    links = [a for tag, a in _tags(document) if tag == "a"]
    assert [a["href"] for a in links] == [
        "https://example.org/a?b=1&c=2",
        "mailto:bob@example.com",
        "https://paren.example/x",
        "https://x.example/a",
    ]
    assert all(a["target"] == "_blank" and "noopener" in str(a["rel"]) for a in links)
    assert "</a>입니다" in content
    assert "javascript:alert(2)" in content  # as text, not a link
    assert [t for t, _ in _tags(document) if t not in ("html", "head", "meta", "style")] == [
        "body",
        "pre",
        "a",
        "a",
        "a",
        "a",
    ]


def test_empty_message_gives_an_empty_document(alice: Account, alice_api: APIClient) -> None:
    pk = put(alice, load_eml("empty.eml")).pk
    document = _body(alice_api, pk)
    assert document.split("<body>", 1)[1].startswith("</body>")


# --- signed cid URLs --------------------------------------------------------------------------


def _cid_url(client: APIClient, pk: int) -> str:
    (src,) = _img_srcs(_body(client, pk))
    return src


def test_signed_cid_url_works_without_cookies(alice: Account, alice_api: APIClient) -> None:
    pk = _with_inline_image(alice).pk
    url = _cid_url(alice_api, pk)
    assert url.startswith(f"/api/v1/messages/{pk}/cid/logo@remote.test?sig=")
    response = APIClient().get(url)  # a sandboxed frame sends no cookies
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == png_bytes()


def test_cid_without_signature_still_needs_a_sign_in(alice: Account, alice_api: APIClient) -> None:
    pk = _with_inline_image(alice).pk
    path = f"/api/v1/messages/{pk}/cid/logo@remote.test"
    assert APIClient().get(path).status_code == 401
    assert alice_api.get(path).status_code == 200


def _signed_at(monkeypatch: pytest.MonkeyPatch, when: float, **ids: int) -> str:
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: when)
        return sign_cid_access(**ids)


def test_cid_signature_expires_after_an_hour(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _with_inline_image(alice)
    path = f"/api/v1/messages/{message.pk}/cid/logo@remote.test?sig="
    ids = {"account_id": alice.pk, "message_id": message.pk}
    fresh = _signed_at(monkeypatch, time.time() - CID_URL_MAX_AGE + 60, **ids)
    stale = _signed_at(monkeypatch, time.time() - CID_URL_MAX_AGE - 60, **ids)
    assert APIClient().get(path + quote(fresh)).status_code == 200
    expired = APIClient().get(path + quote(stale))
    assert expired.status_code == 404
    assert expired.json() == {"error": "not_found", "detail": "Not found."}


def test_cid_signature_of_another_message_or_account_is_refused(
    alice: Account, bob: Account, bob_api: APIClient
) -> None:
    alices = _with_inline_image(alice)
    bobs = _with_inline_image(bob)
    bob_sig = parse_qs(urlsplit(_cid_url(bob_api, bobs.pk)).query)["sig"][0]
    # Bob's valid signature on alice's message id.
    path = f"/api/v1/messages/{alices.pk}/cid/logo@remote.test?sig={quote(bob_sig)}"
    assert APIClient().get(path).status_code == 404
    # A signature for alice's message that names bob's account: not ours to read.
    wrong_account = sign_cid_access(account_id=bob.pk, message_id=alices.pk)
    path = f"/api/v1/messages/{alices.pk}/cid/logo@remote.test?sig={quote(wrong_account)}"
    assert APIClient().get(path).status_code == 404
    # A signature for one of alice's messages does not open another of hers.
    other = _with_inline_image(alice)
    sig = sign_cid_access(account_id=alice.pk, message_id=alices.pk)
    path = f"/api/v1/messages/{other.pk}/cid/logo@remote.test?sig={quote(sig)}"
    assert APIClient().get(path).status_code == 404


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s, a, b: s.replace(f"{a}.", f"{b}.", 1),  # other account id, same MAC
        lambda s, a, b: s[:-1] + ("A" if s[-1] != "A" else "B"),  # MAC changed
        lambda s, a, b: s.split(":", 1)[0],  # MAC and timestamp removed
        lambda s, a, b: "",
        lambda s, a, b: "x" * 5000,
    ],
)
def test_tampered_cid_signature_is_a_404(alice: Account, bob: Account, tamper: object) -> None:
    message = _with_inline_image(alice)
    sig = sign_cid_access(account_id=alice.pk, message_id=message.pk)
    bad = tamper(sig, alice.pk, bob.pk)  # type: ignore[operator]
    path = f"/api/v1/messages/{message.pk}/cid/logo@remote.test?sig={quote(bad)}"
    assert APIClient().get(path).status_code == 404


def test_cid_signature_stops_working_for_disabled_account_or_deleted_message(
    alice: Account, alice_api: APIClient
) -> None:
    message = _with_inline_image(alice)
    url = _cid_url(alice_api, message.pk)
    do_set_account_active(alice.address, False)
    assert APIClient().get(url).status_code == 404
    do_set_account_active(alice.address, True)
    assert APIClient().get(url).status_code == 200
    trash = Message.objects.get(pk=message.pk)
    do_delete_messages(acting_account=alice, messages=[trash])  # into Trash: still hers
    do_delete_messages(acting_account=alice, messages=[Message.objects.get(pk=message.pk)])
    assert APIClient().get(url).status_code == 404


def test_cid_url_only_for_image_parts_that_exist(alice: Account, alice_api: APIClient) -> None:
    pk = put(
        alice,
        html='<img src="cid:missing@x"><img src="cid:doc@x">',
        inline_images=[(b"%PDF-1.4", "application/pdf", "doc@x")],
    ).pk
    assert _img_srcs(_body(alice_api, pk)) == []


# --- object permissions -----------------------------------------------------------------------


def test_another_users_message_body_is_a_404(
    alice: Account, bob: Account, bob_api: APIClient
) -> None:
    pk = _with_inline_image(alice).pk
    response = bob_api.get(f"/api/v1/messages/{pk}/body")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not found."}
    assert bob_api.get(f"/api/v1/messages/{pk}/body?images=1").status_code == 404
    assert bob_api.get("/api/v1/messages/999999/body").status_code == 404


def test_detail_body_url_is_served(alice: Account, alice_api: APIClient) -> None:
    pk = put(alice, build_message(html="<p>hello</p>")).pk
    url = alice_api.get(f"/api/v1/messages/{pk}").json()["body_url"]
    response = alice_api.get(url)
    assert response.status_code == 200
    assert "<p>hello</p>" in response.content.decode()


# --- the print page (issue 12 item 2) ---------------------------------------------------------


def test_print_page_has_headers_body_and_only_its_own_hashed_script(
    alice: Account, bob: Account, alice_api: APIClient, bob_api: APIClient
) -> None:
    pk = put(
        alice,
        load_eml("hostile_html.eml"),
    ).pk
    response = alice_api.get(f"/api/v1/messages/{pk}/print?lang=ko&tz=Asia/Seoul")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    # An opaque origin that may run one pinned script and show the print dialog, nothing else.
    assert csp.startswith("sandbox allow-scripts allow-modals allow-popups ")
    assert "allow-same-origin" not in csp and "frame-ancestors 'none'" in csp
    [script_src] = [d.strip() for d in csp.split(";") if d.strip().startswith("script-src")]
    assert script_src.startswith("script-src 'sha256-") and " " not in script_src[11:]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cache-Control"] == "private, no-store"
    document = response.content.decode()
    assert document.count("<script") == 1
    assert document.count('addEventListener("load",function(){print()})') == 1
    assert '<html lang="ko">' in document and "보낸 사람" in document
    assert "<p>visible text</p>" in document
    for tag, attrs in _tags(document):
        assert not any(name.startswith("on") for name in attrs), tag
    assert bob_api.get(f"/api/v1/messages/{pk}/print").status_code == 404


def test_print_page_escapes_headers_and_prints_text_mail_whole(
    alice: Account, alice_api: APIClient
) -> None:
    text = "".join(f"줄 {n}: <b>not bold</b>\n" for n in range(300))
    pk = put(alice, subject="<img src=x onerror=alert(1)> 보고서", text=text).pk
    document = alice_api.get(f"/api/v1/messages/{pk}/print?lang=en&tz=Not/AZone").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt; 보고서" in document
    assert "<img" not in document
    assert "줄 299: &lt;b&gt;not bold&lt;/b&gt;" in document
    assert "(UTC)" in document and ">From<" in document
    assert alice_api.get(f"/api/v1/messages/{pk}/print?lang=fr").status_code == 400
