"""A private rspamd (Debian's package) on loopback ports with a scratch configuration: for the
test session and the embedded default. The host's /etc/rspamd is read as the stock config and
never changed; everything we set is in `<dir>/local.d` (rspamd's LOCAL_CONFDIR overlay), and
runtime, database and log directories are under `<dir>` too.

No network use is configured: rspamd's DNS goes to `dns` (a loopback resolver, or a dead port
so RBL lookups fail at once), Bayes statistics go to the Redis given (or nowhere).
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STOCK_CONFIG = Path("/etc/rspamd/rspamd.conf")


@dataclass(frozen=True, slots=True)
class LocalRspamd:
    dir: Path
    normal_port: int
    controller_port: int
    proxy_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.normal_port}"

    @property
    def controller_url(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"


def installed() -> bool:
    return shutil.which("rspamd") is not None and STOCK_CONFIG.exists()


def write_config(
    where: LocalRspamd,
    *,
    redis: tuple[str, int, int] | None,
    dns: str | None,
    db_dir: Path | None = None,
) -> None:
    """The overlay: our ports on 127.0.0.1, one process each, log to a file, `dns` ("ip:port")
    as the only resolver (None: the system's), Redis (host, port, db) for Bayes when given."""
    local = where.dir / "local.d"
    for sub in ("local.d", "run", "log"):
        (where.dir / sub).mkdir(parents=True, exist_ok=True)
    (db_dir or where.dir / "db").mkdir(parents=True, exist_ok=True)
    files = {
        "worker-normal.inc": f'bind_socket = "127.0.0.1:{where.normal_port}";\ncount = 1;\n',
        "worker-controller.inc": (
            f'bind_socket = "127.0.0.1:{where.controller_port}";\ncount = 1;\n'
        ),
        "worker-proxy.inc": f'bind_socket = "127.0.0.1:{where.proxy_port}";\ncount = 1;\n',
        "logging.inc": f'type = "file";\nfilename = "{where.dir / "log" / "rspamd.log"}";\n'
        'level = "warning";\n',
    }
    if dns is not None:
        files["options.inc"] = (
            f'dns {{ nameserver = ["{dns}"]; timeout = 0.5s; retransmits = 1; }}\n'
        )
    if redis is not None:
        host, port, db = redis
        files["redis.conf"] = f'servers = "{host}:{port}";\ndb = "{db}";\n'
    for name, text in files.items():
        (local / name).write_text(text)
    for stale in {"options.inc", "redis.conf"} - files.keys():  # from an earlier configuration
        (local / stale).unlink(missing_ok=True)


def argv(where: LocalRspamd, db_dir: Path | None = None) -> list[str]:
    """The command line: foreground (-f), allowed to run as root (-i: a scratch instance that
    reads only its own overlay), stock config with our overlay and directories."""
    return [
        shutil.which("rspamd") or "rspamd",
        "-f",
        "-i",
        "-c",
        str(STOCK_CONFIG),
        "--var",
        f"LOCAL_CONFDIR={where.dir}",
        "--var",
        f"RUNDIR={where.dir / 'run'}",
        "--var",
        f"DBDIR={db_dir or where.dir / 'db'}",
        "--var",
        f"LOGDIR={where.dir / 'log'}",
    ]


def start(where: LocalRspamd, db_dir: Path | None = None) -> subprocess.Popen[bytes]:
    with (where.dir / "log" / "stdout.log").open("ab") as log:  # the child keeps its own fd
        return subprocess.Popen(
            argv(where, db_dir), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def wait_ready(where: LocalRspamd, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once the normal worker answers /ping (its first start compiles the regexp cache:
    tens of seconds on a busy machine); False if it died or took longer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", where.normal_port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.5)
    return False
