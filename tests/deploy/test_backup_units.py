"""deploy/backup: the systemd service and timer of `manage.py backup` pass `systemd-analyze
verify` (with this checkout and a scratch user in place of /opt/mailroom and mailroom), run as
the service user with the hardening of the other units, and the cron line names the same
command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailcore.privileges import ServiceUser

from .conftest import ROOT

BACKUP = ROOT / "deploy" / "backup"
COMMAND = "manage.py backup /var/backups/mailroom --quiet"


def test_service_timer_and_cron_run_the_backup_as_the_service_user() -> None:
    service = (BACKUP / "mailroom-backup.service").read_text().splitlines()
    for line in (
        "User=mailroom",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/mailroom /var/backups/mailroom",
        f"ExecStart=/opt/mailroom/.venv/bin/python {COMMAND}",
    ):
        assert line in service, line
    timer = (BACKUP / "mailroom-backup.timer").read_text().splitlines()
    assert "Persistent=true" in timer
    cron = (BACKUP / "mailroom-backup.cron").read_text()
    assert " mailroom " in cron and COMMAND in cron


def test_units_pass_systemd_analyze_verify(tmp_path: Path, scratch_user: ServiceUser) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    python = str(Path(sys.executable).resolve())
    for name in ("mailroom-backup.service", "mailroom-backup.timer"):
        text = (BACKUP / name).read_text().replace("/opt/mailroom/.venv/bin/python", python)
        text = text.replace("/opt/mailroom", str(ROOT)).replace(
            "=mailroom\n", f"={scratch_user.name}\n"
        )
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
