"""The embedded default end to end: `make run` with no DATABASE_URL/REDIS_URL (SQLite and the
filesystem broker in a scratch directory), mail in over SMTP, read back over the REST API."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_make_run_embedded_default_end_to_end() -> None:
    path = Path(__file__).resolve().parents[2] / "scripts" / "smoke_embedded.py"
    spec = importlib.util.spec_from_file_location("smoke_embedded", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run_smoke()
