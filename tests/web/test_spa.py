"""The SPA shell: index.html for every app path (deep links survive a reload), the built app
when present, its assets under /static/, and the app's strict CSP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client


@pytest.fixture
def frontend(tmp_path: Path, settings: Any) -> Path:
    (tmp_path / "placeholder.html").write_text("<p>placeholder page</p>")
    settings.FRONTEND_DIR = tmp_path
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/folders/3", "/folders/3/messages/42", "/settings/x"])
def test_built_index_for_every_app_path(frontend: Path, client: Client, path: str) -> None:
    (frontend / "dist").mkdir()
    (frontend / "dist" / "index.html").write_text("<p>built app</p>")
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == b"<p>built app</p>"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp


def test_placeholder_until_built(frontend: Path, client: Client) -> None:
    response = client.get("/folders/1")
    assert response.status_code == 200
    assert response.content == b"<p>placeholder page</p>"


def test_api_and_static_paths_are_not_the_app(frontend: Path, client: Client) -> None:
    (frontend / "dist").mkdir()
    (frontend / "dist" / "index.html").write_text("<p>built app</p>")
    assert client.get("/static/assets/missing-abcdefgh.js").status_code == 404
    assert client.get("/api/v1/nope").status_code == 404


BUILT_INDEX = Path(settings.FRONTEND_DIR) / "dist" / "index.html"


@pytest.mark.skipif(not BUILT_INDEX.is_file(), reason="frontend not built (make frontend)")
def test_real_build_loads_only_external_assets(client: Client) -> None:
    """What `make frontend` produced: no inline script (the CSP would block it), and every
    script and stylesheet it names is served from /static/ by whitenoise."""
    html = client.get("/folders/1").content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "index.html loads no script"
    for attrs, body in scripts:
        assert 'src="/static/' in attrs
        assert body.strip() == ""
    assets = re.findall(r'(?:src|href)="(/static/assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        response = client.get(asset)
        try:
            assert response.status_code == 200, asset
            assert "immutable" in response["Cache-Control"]
            assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
        finally:
            response.close()
