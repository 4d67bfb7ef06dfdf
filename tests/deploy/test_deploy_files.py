"""The shipped deployment files (issue 15 item 3): docker-compose.yml publishes every listener,
orders migrate before the processes, checks health, fronts the web with the tested nginx
site; the systemd units pass `systemd-analyze verify`, run one process each as the mailroom
user with the sandbox options, and name modules that exist. (`docker compose` is not
available on the test machines, so the compose file is checked as data.)"""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailcore.privileges import ServiceUser

from .conftest import ROOT

UNITS = ROOT / "deploy" / "systemd"
PROCESSES = {"web", "smtp", "imap", "pop3", "worker", "beat", "maillog"}


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_publishes_every_listener_on_its_standard_port() -> None:
    services = compose()["services"]
    published = {
        int(spec.split(":")[0]): (name, int(spec.split(":")[1]))
        for name, svc in services.items()
        for spec in svc.get("ports", [])
    }
    assert set(published) == {25, 587, 465, 143, 993, 110, 995, 80, 443}
    env = services["smtp"]["environment"]
    # Each published port reaches the listener that container binds.
    listen = {
        25: "SMTP_LISTEN",
        587: "SUBMISSION_LISTEN",
        465: "SMTPS_LISTEN",
        143: "IMAP_LISTEN",
        993: "IMAPS_LISTEN",
        110: "POP3_LISTEN",
        995: "POP3S_LISTEN",
    }
    for port, setting in listen.items():
        service, inner = published[port]
        assert env[setting] == f"0.0.0.0:{inner}", setting
        assert services[service]["command"][2] == f"mailcore.{service}"
    assert published[443][0] == "proxy"
    assert "ports" not in services["web"]  # only through the proxy


def test_compose_orders_migrate_first_and_checks_health() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in PROCESSES:
        needs = services[name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, name
        assert needs["postgres"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["MAILROOM_USER"] == "mailroom"  # production mode: files are checked
    for name in ("postgres", "redis", "web", "smtp", "imap", "pop3", "worker", "proxy"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_compose_proxy_uses_the_tested_site_with_sse_settings() -> None:
    proxy = compose()["services"]["proxy"]
    assert "./deploy/nginx/mailroom.conf:/etc/mailroom/nginx-site.conf:ro" in proxy["volumes"]
    site = (ROOT / "deploy" / "nginx" / "mailroom.conf").read_text()
    events = site.split("location = /api/v1/events", 1)[1].split("}", 1)[0]
    assert "proxy_buffering off;" in events
    assert "proxy_read_timeout 1h;" in events
    assert "X-Forwarded-Proto $scheme" in site


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker")
def test_compose_config_when_docker_compose_is_there(tmp_path: Path) -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("docker compose is not installed")
    done = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_one_hardened_unit_per_process() -> None:
    names = {p.name for p in UNITS.glob("mailroom-*.service")}
    assert names == {f"mailroom-{p}.service" for p in PROCESSES | {"migrate"}}
    for name in names:
        text = (UNITS / name).read_text()
        service = unit(name)["Service"]
        assert service["User"] == "mailroom", name
        for option in (
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/mailroom",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "PrivateDevices=yes",
            "UMask=0077",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
        ):
            assert option in text.splitlines(), (name, option)
        argv = service["ExecStart"].split()
        if argv[1] == "-m":
            assert importlib.util.find_spec(argv[2]) is not None, argv
        listener = name.removeprefix("mailroom-").removesuffix(".service") in {
            "smtp",
            "imap",
            "pop3",
        }
        caps = service.get("AmbientCapabilities", "")
        assert (caps == "CAP_NET_BIND_SERVICE") == listener, name
        if name != "mailroom-migrate.service":
            assert "mailroom-migrate.service" in unit(name)["Unit"]["After"]
            assert service["ExecStartPre"].endswith("-m mailcore.privileges")


def test_units_pass_systemd_analyze_verify(tmp_path: Path, scratch_user: ServiceUser) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze")
    python = str(Path(sys.executable).resolve())
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/mailroom/.venv/bin/python", python)
        text = text.replace("/opt/mailroom", str(ROOT))
        text = text.replace("User=mailroom", f"User={scratch_user.name}")
        (tmp_path / path.name).write_text(
            text.replace("Group=mailroom", "Group=" + scratch_user.name)
        )
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
