"""`manage.py runall` and rspamd: started as a child with a scratch overlay under VAR_DIR when
installed (its URL handed to the other children), never when RSPAMD_EMBEDDED=0 or an external
RSPAMD_URL is configured. (The process itself is the one tests/inbound scans with.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mailcore.management.commands.runall import embedded_rspamd


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RSPAMD_URL", raising=False)
    monkeypatch.delenv("RSPAMD_CONTROLLER_URL", raising=False)


def test_runall_starts_rspamd_with_a_scratch_overlay(
    settings: Any, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path
    settings.RSPAMD_EMBEDDED = "auto"
    settings.RSPAMD_EMBEDDED_PORT = 21433
    settings.REDIS_URL = "redis://127.0.0.1:6379/7"
    settings.RELAY_NAMESERVERS = "127.0.0.1:5353"
    child = embedded_rspamd()
    assert child is not None and child.name == "rspamd"
    assert "-f" in child.argv and "/etc/rspamd/rspamd.conf" in child.argv
    assert f"LOCAL_CONFDIR={tmp_path / 'rspamd'}" in child.argv
    local = tmp_path / "rspamd" / "local.d"
    assert '"127.0.0.1:21433"' in (local / "worker-normal.inc").read_text()
    assert '"127.0.0.1:21434"' in (local / "worker-controller.inc").read_text()
    assert 'db = "7"' in (local / "redis.conf").read_text()
    assert '"127.0.0.1:5353"' in (local / "options.inc").read_text()
    assert os.environ["RSPAMD_URL"] == "http://127.0.0.1:21433"
    assert os.environ["RSPAMD_CONTROLLER_URL"] == "http://127.0.0.1:21434"
    monkeypatch.delenv("RSPAMD_URL")
    monkeypatch.delenv("RSPAMD_CONTROLLER_URL")


def test_runall_leaves_rspamd_off_when_told(settings: Any, clean_env: None) -> None:
    settings.RSPAMD_EMBEDDED = "0"
    assert embedded_rspamd() is None
    settings.RSPAMD_EMBEDDED = "auto"
    settings.RSPAMD_URL = "http://127.0.0.1:1"  # an rspamd of the admin's: not ours to start
    assert embedded_rspamd() is None
    assert "RSPAMD_URL" not in os.environ
