"""Message detail: bodies parsed from the Maildir file, HTML sanitized on the server (W1-W4),
remote images blocked and counted, attachment metadata, storage failures as 503."""

from __future__ import annotations

from rest_framework.test import APIClient

from mailcore.directory.models import Account
from tests.api.helpers import build_message, message_path, png_bytes, put

HOSTILE_HTML = """<html><head><style>body{background:url(https://t.example/bg)}</style></head>
<body>
<p onclick="alert(1)">Hi <b>there</b></p>
<script>alert(document.cookie)</script>
<img src="x" onerror="alert(1)">
<img src="https://tracker.example/p.gif" width="1">
<img src="http://tracker.example/q.gif">
<img src="cid:logo@remote.test" alt="logo">
<img src="cid:missing@remote.test">
<a href="javascript:alert(1)">click</a> <a href="https://example.org/">ok</a>
</body></html>"""


def _hostile(alice: Account) -> int:
    return put(
        alice,
        build_message(
            subject="Offer",
            html=HOSTILE_HTML,
            inline_images=[(png_bytes(), "image/png", "logo@remote.test")],
            attachments=[(b"%PDF-1.4\n", "application/pdf", "보고서.pdf")],
            reply_to="Sales <sales@remote.test>",
            references="<a@remote.test> <b@remote.test>",
        ),
    ).pk


def test_detail_fields(alice: Account, alice_api: APIClient) -> None:
    pk = _hostile(alice)
    response = alice_api.get(f"/api/v1/messages/{pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == pk and body["subject"] == "Offer"
    assert body["from"] == {"name": "Bob Sender", "address": "bob@remote.test"}
    assert body["message_id"] == "m1@remote.test"
    assert body["in_reply_to"] == "b@remote.test"
    assert body["references"] == ["a@remote.test", "b@remote.test"]
    assert body["reply_to"] == [{"name": "Sales", "address": "sales@remote.test"}]
    assert body["text"] == "Hello Alice,\nsee you.\n"
    assert body["flags"]["seen"] is False  # reading does not mark seen

    logo, report = body["attachments"]
    assert logo == {
        "index": logo["index"],
        "filename": logo["filename"],
        "content_type": "image/png",
        "size": len(png_bytes()),
        "inline": True,
        "content_id": "logo@remote.test",
        "url": f"/api/v1/messages/{pk}/attachments/{logo['index']}",
    }
    assert report["filename"] == "보고서.pdf"
    assert report["inline"] is False and report["content_id"] == ""
    assert report["content_type"] == "application/pdf" and report["size"] == 9


def test_hostile_html_is_sanitized_and_remote_images_blocked(
    alice: Account, alice_api: APIClient
) -> None:
    pk = _hostile(alice)
    body = alice_api.get(f"/api/v1/messages/{pk}").json()
    html = body["html"]
    lowered = html.lower()
    for bad in (
        "<script",
        "alert(document.cookie)",
        "onerror",
        "onclick",
        "javascript:",
        "tracker.example",
        "<style",
        "missing@remote.test",
        'src="x"',
    ):
        assert bad not in lowered, bad
    assert "<b>there</b>" in html
    assert 'href="https://example.org/"' in html
    # cid: points at our own endpoint for the part that exists.
    assert f'src="/api/v1/messages/{pk}/cid/logo@remote.test"' in html
    assert body["remote_images_blocked"] == 2  # p.gif and q.gif


def test_remote_images_on_request(alice: Account, alice_api: APIClient) -> None:
    pk = _hostile(alice)
    body = alice_api.get(f"/api/v1/messages/{pk}?remote_images=1").json()
    assert 'src="https://tracker.example/p.gif"' in body["html"]
    assert body["remote_images_blocked"] == 0
    assert "<script" not in body["html"] and "onerror" not in body["html"]


def test_plain_text_message_has_null_html(alice: Account, alice_api: APIClient) -> None:
    pk = put(alice, text="just text 한글\n").pk
    body = alice_api.get(f"/api/v1/messages/{pk}").json()
    assert body["html"] is None
    assert body["text"] == "just text 한글\n"
    assert body["attachments"] == [] and body["remote_images_blocked"] == 0


def test_missing_file_is_503_storage_unavailable(alice: Account, alice_api: APIClient) -> None:
    message = put(alice)
    message_path(alice, message).unlink()
    for url in (f"/api/v1/messages/{message.pk}", f"/api/v1/messages/{message.pk}/raw"):
        response = alice_api.get(url)
        assert response.status_code == 503
        assert response.json() == {
            "error": "storage_unavailable",
            "detail": "Mail storage is unavailable; try again.",
        }


def test_unknown_message_is_404(alice_api: APIClient) -> None:
    for url in (
        "/api/v1/messages/424242",
        "/api/v1/messages/424242/raw",
        "/api/v1/messages/99999999999999999999999",
    ):
        response = alice_api.get(url)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
