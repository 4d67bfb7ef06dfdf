"""Fixtures for inbound trust: the loopback DNS zone of tests/outbound (dnslib, UDP and TCP on
127.0.0.1) with the sender checks switched on, signing keys published in it, and one real
rspamd (Debian's package) for the session on free loopback ports with a scratch config."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mailcore.delivery.dkim import do_generate_dkim_key, txt_value
from mailcore.delivery.models import DkimAlgorithm
from mailcore.inbound import rspamd_local
from tests.api.conftest import alice_api  # noqa: F401 - fixture
from tests.outbound.conftest import Zone, free_port, zone  # noqa: F401 - the zone fixture

SENDER = "sender.example"  # signs with RSA and ed25519, SPF -all, DMARC p=reject
SENDER_IP = "127.0.0.9"


@pytest.fixture
def trust_zone(zone: Zone, settings: Any, db: None) -> Zone:  # noqa: F811
    """The zone with sender.example published; the checks on, with a short DNS budget."""
    settings.INBOUND_AUTH = True
    settings.INBOUND_AUTH_TIMEOUT = 3.0
    for algorithm in (DkimAlgorithm.RSA, DkimAlgorithm.ED25519):
        key = do_generate_dkim_key(SENDER, algorithm=algorithm)
        zone.add(f"{key.selector}._domainkey.{SENDER}", "TXT", txt_value(key))
    zone.add(SENDER, "TXT", f"v=spf1 ip4:{SENDER_IP} -all")
    zone.add(f"_dmarc.{SENDER}", "TXT", "v=DMARC1; p=reject; adkim=r; aspf=r")
    zone.add("relaxed.example", "TXT", f"v=spf1 ip4:{SENDER_IP} ~all")
    zone.add("_dmarc.relaxed.example", "TXT", "v=DMARC1; p=none")
    return zone


def _redis() -> tuple[str, int, int]:
    url = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15")
    return url.hostname or "127.0.0.1", url.port or 6379, int((url.path or "/0").strip("/") or 0)


@pytest.fixture(scope="session")
def rspamd_server() -> Iterator[rspamd_local.LocalRspamd]:
    """rspamd on three free loopback ports; its compiled regexp cache is kept between sessions
    (the first start takes tens of seconds)."""
    if not rspamd_local.installed():
        pytest.fail("rspamd is not installed: run scripts/ensure-rspamd.sh (make test does)")
    scratch = Path(tempfile.mkdtemp(prefix="mailroom-rspamd-"))
    cache = Path(tempfile.gettempdir()) / f"mailroom-rspamd-db-{os.getuid()}"
    where = rspamd_local.LocalRspamd(scratch, free_port(), free_port(), free_port())
    # DNS to a dead loopback port: RBL and friends fail at once, nothing leaves the machine.
    rspamd_local.write_config(where, redis=_redis(), dns=f"127.0.0.1:{free_port()}", db_dir=cache)
    proc = rspamd_local.start(where, db_dir=cache)
    try:
        if not rspamd_local.wait_ready(where, proc, timeout=240):
            log = (scratch / "log" / "rspamd.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"rspamd did not start: {log}")
        yield where
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def rspamd_on(rspamd_server: rspamd_local.LocalRspamd, settings: Any) -> rspamd_local.LocalRspamd:
    settings.RSPAMD_URL = rspamd_server.url
    settings.RSPAMD_CONTROLLER_URL = rspamd_server.controller_url
    settings.RSPAMD_TIMEOUT = 30.0
    return rspamd_server
