"""Byte endpoints: raw .eml, attachment downloads (W6 types, W7 filenames) and cid images."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from mailcore.store.models import Message
from tests.api.helpers import message_path, png_bytes, put
from webmail.api.downloads import content_disposition, display_filename, download_type

# filename="<printable ASCII but quote and backslash>"; filename*=UTF-8''<RFC 5987 attr-chars>
DISPOSITION = re.compile(
    r"""^attachment; filename="(?P<ascii>[ -!#-\[\]-~]*)"; """
    r"""filename\*=UTF-8''(?P<utf8>[A-Za-z0-9%._~-]+)$"""
)


def _with_part(part_headers: str, payload: bytes) -> bytes:
    """A multipart/mixed message with a text body and one hand-written part (base64)."""
    encoded = base64.encodebytes(payload)
    return (
        b"From: Bob <bob@remote.test>\r\nTo: alice@example.com\r\nSubject: parts\r\n"
        b"Message-ID: <parts@remote.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
        b"--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
        b"--BOUNDARY\r\n" + part_headers.encode() + b"\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n" + encoded + b"--BOUNDARY--\r\n"
    )


def _only_attachment(client: APIClient, message: Message) -> dict[str, Any]:
    (attachment,) = client.get(f"/api/v1/messages/{message.pk}").json()["attachments"]
    return attachment  # type: ignore[no-any-return]


def _assert_hardened(response: Any) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def _disposition(response: Any) -> tuple[str, str]:
    match = DISPOSITION.match(response["Content-Disposition"])
    assert match, response["Content-Disposition"]
    return match["ascii"], unquote(match["utf8"])


# --- raw ---------------------------------------------------------------------------------------


def test_raw_returns_the_stored_bytes(alice: Account, alice_api: APIClient) -> None:
    message = put(alice, subject="raw 원문")
    # Accept of a mail client: no 406, the stored type whatever was asked for.
    response = alice_api.get(f"/api/v1/messages/{message.pk}/raw", HTTP_ACCEPT="message/rfc822")
    assert response.status_code == 200
    # The .eml is the CRLF form (RFC 5322), though the file on disk has LF line ends.
    on_disk = message_path(alice, message).read_bytes()
    assert b"\r" not in on_disk
    assert response.content == on_disk.replace(b"\n", b"\r\n")
    assert len(response.content) == message.size
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == (f'attachment; filename="message-{message.pk}.eml"')
    _assert_hardened(response)


def test_raw_view_shows_the_bytes_as_text(alice: Account, alice_api: APIClient) -> None:
    message = put(alice, subject="raw 원문")
    response = alice_api.get(f"/api/v1/messages/{message.pk}/raw?view=1")
    assert response.status_code == 200
    assert response.content == message_path(alice, message).read_bytes().replace(b"\n", b"\r\n")
    # Displayed in the tab ("View source"), not saved, and never rendered as HTML.
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == "inline"
    _assert_hardened(response)


def test_raw_view_of_another_users_message_is_404(alice: Account, bob_api: APIClient) -> None:
    message = put(alice, subject="private")
    assert bob_api.get(f"/api/v1/messages/{message.pk}/raw?view=1").status_code == 404


# --- attachments -------------------------------------------------------------------------------


def test_attachment_bytes_and_korean_filename(alice: Account, alice_api: APIClient) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    message = put(alice, attachments=[(pdf, "application/pdf", "보고서.pdf")])
    attachment = _only_attachment(alice_api, message)

    response = alice_api.get(attachment["url"])
    assert response.status_code == 200
    assert response.content == pdf
    assert response["Content-Type"] == "application/pdf"
    ascii_name, utf8_name = _disposition(response)
    assert utf8_name == "보고서.pdf"
    assert ascii_name == "attachment.pdf"
    assert "filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf" in response["Content-Disposition"]
    _assert_hardened(response)


def test_hostile_filename_cannot_break_the_header(alice: Account, alice_api: APIClient) -> None:
    # RFC 2231 lets a part name carry CR LF, quotes and U+202E (RIGHT-TO-LEFT OVERRIDE).
    hostile = (
        "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%0D%0AX-Evil%3A%201"
        "%0D%0Ainvoice%E2%80%AEfdp.exe"
    )
    message = put(
        alice,
        _with_part(
            "Content-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename*=UTF-8''{hostile}",
            b"MZ\x90\x00",
        ),
    )
    attachment = _only_attachment(alice_api, message)
    assert "\u202e" not in attachment["filename"]
    assert not set(attachment["filename"]) & {"\r", "\n"}

    response = alice_api.get(attachment["url"])
    assert response.status_code == 200
    assert "X-Evil" not in response.headers
    ascii_name, utf8_name = _disposition(response)
    assert '"' not in ascii_name
    assert not set(utf8_name) & {"\r", "\n", "\u202e", "\x00"}
    assert utf8_name.endswith("invoicefdp.exe")  # the real extension shows
    assert response["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("data", "ctype", "filename", "served"),
    [
        (
            b"<html><script>alert(1)</script></html>",
            "text/html",
            "page.html",
            "application/octet-stream",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            "image/svg+xml",
            "logo.svg",
            "application/octet-stream",
        ),
        (b"<?xml version='1.0'?><x/>", "text/xml", "data.xml", "application/octet-stream"),
        (
            b"<?xml version='1.0'?><x/>",
            "application/xhtml+xml",
            "a.xhtml",
            "application/octet-stream",
        ),
        # Declared PNG, actually HTML (Roundcube CVE-2024-42008): sniffing says no.
        (
            b"<html><script>alert(1)</script></html>",
            "image/png",
            "fake.png",
            "application/octet-stream",
        ),
        (png_bytes(), "image/png", "real.png", "image/png"),
        (b"plain words", "text/plain", "notes.txt", "text/plain"),
        (b"PK\x03\x04", "application/zip", "a.zip", "application/zip"),
        (b"\x00\x01", "application/x-msdownload", "setup.exe", "application/octet-stream"),
    ],
)
def test_attachment_content_type_policy(
    alice: Account, alice_api: APIClient, data: bytes, ctype: str, filename: str, served: str
) -> None:
    message = put(alice, attachments=[(data, ctype, filename)])
    response = alice_api.get(_only_attachment(alice_api, message)["url"])
    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == served
    assert response["Content-Disposition"].startswith("attachment;")
    _assert_hardened(response)


def test_unknown_attachment_index_is_404(alice: Account, alice_api: APIClient) -> None:
    message = put(alice, attachments=[(b"x", "text/plain", "a.txt")])
    for index in (99, 2**40):
        response = alice_api.get(f"/api/v1/messages/{message.pk}/attachments/{index}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


# --- cid ------------------------------------------------------------------------------------


def _inline(alice: Account, data: bytes, ctype: str, cid: str) -> Message:
    return put(alice, html=f'<p><img src="cid:{cid}"></p>', inline_images=[(data, ctype, cid)])


def test_cid_serves_inline_raster_image(alice: Account, alice_api: APIClient) -> None:
    image = png_bytes(2, 2)
    message = _inline(alice, image, "image/png", "logo/1@remote.test")
    html = alice_api.get(f"/api/v1/messages/{message.pk}").json()["html"]
    src = re.search(r'src="([^"]+)"', html)
    assert src is not None
    assert src[1] == f"/api/v1/messages/{message.pk}/cid/logo/1@remote.test"

    response = alice_api.get(src[1], HTTP_ACCEPT="image/avif,image/webp,*/*")
    assert response.status_code == 200
    assert response.content == image
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, max-age=3600"
    _assert_hardened(response)


@pytest.mark.parametrize(
    ("data", "ctype"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
        (b"<html><script>alert(1)</script></html>", "image/png"),
        (b"%PDF-1.4", "application/pdf"),
    ],
)
def test_cid_refuses_anything_but_real_raster_images(
    alice: Account, alice_api: APIClient, data: bytes, ctype: str
) -> None:
    message = _inline(alice, data, ctype, "part@remote.test")
    response = alice_api.get(f"/api/v1/messages/{message.pk}/cid/part@remote.test")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_cid_is_404(alice: Account, alice_api: APIClient) -> None:
    message = _inline(alice, png_bytes(), "image/png", "logo@remote.test")
    assert alice_api.get(f"/api/v1/messages/{message.pk}/cid/other@remote.test").status_code == 404


# --- the helpers themselves, on names the parser would already have cleaned -------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ('a\r\nb"c.txt', 'ab"c.txt'),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("\u2067x\u2069.pdf", "x.pdf"),
        (".hidden", "hidden"),
        ("", "attachment"),
        (None, "attachment"),
        ("x" * 5000 + ".pdf", "x" * 176 + ".pdf"),
    ],
)
def test_display_filename(raw: str | None, shown: str) -> None:
    assert display_filename(raw) == shown


def test_content_disposition_has_ascii_fallback_and_utf8() -> None:
    header = content_disposition('dir\\a"b%c;d\r\n 한.pdf')
    assert header == (
        "attachment; filename=\"a_b_c_d _.pdf\"; filename*=UTF-8''a%22b%25c%3Bd%20%ED%95%9C.pdf"
    )


def test_download_type_never_types_markup() -> None:
    for ctype in (
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/javascript",
        "multipart/related",
    ):
        assert download_type(ctype, b"whatever") == "application/octet-stream"
    assert download_type("image/jpg", b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert download_type("application/PDF", b"%PDF") == "application/pdf"
