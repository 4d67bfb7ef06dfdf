"""The console dashboard warns a superadmin 14 days (TLS_EXPIRY_WARNING_DAYS) before a
listener's certificate ends (issue 15 item 2); domain admins, who cannot renew it, are not
told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailcore.tls import ensure_self_signed
from tests.admin.conftest import World, client_for
from tests.deploy.test_tls_reload import write_cert

pytestmark = pytest.mark.django_db


def tls_warnings(world: World, role: str) -> list[dict[str, str]]:
    response = client_for(world, role).get("/api/v1/admin/dashboard?days=1")
    assert response.status_code == 200
    return [w for w in response.json()["warnings"] if w["code"].startswith("tls_")]


def test_certificate_expiring_within_14_days_is_a_warning(
    world: World, settings: Any, tmp_path: Path
) -> None:
    settings.TLS_CERT_FILE = tmp_path / "cert.pem"
    settings.TLS_KEY_FILE = tmp_path / "key.pem"
    settings.TLS_CERT_DIR = str(tmp_path / "live")
    ensure_self_signed(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, "mail.ops.example")
    assert tls_warnings(world, "superadmin") == []  # 825 days left
    live = tmp_path / "live" / "soon.example"
    write_cert(live / "fullchain.pem", live / "privkey.pem", ["mail.soon.example"], days=13)
    [warning] = tls_warnings(world, "superadmin")
    assert warning["code"] == "tls_expiring"
    assert warning["address"] == "mail.soon.example"
    assert warning["detail"].startswith("12 days left")
    assert tls_warnings(world, "domain_admin") == []
    settings.TLS_EXPIRY_WARNING_DAYS = 10
    assert tls_warnings(world, "superadmin") == []
