"""A real POP3 client we did not write, end to end: Debian's fetchmail downloads an account
over STLS (TLS 1.2+ required, the test certificate unchecked) from the POP3 server, once with
the account's policy "delete" and once with "keep", and the counts afterwards agree in the
Maildir, the database and the REST API."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mailcore.directory.models import Account
from mailcore.pop3.actions import do_set_pop3_settings
from mailcore.store.models import Folder, Message, SpecialUse
from mailcore.store.queries import maildir_for
from tests.api.helpers import token_client
from tests.pop3.conftest import PASSWORD, add, msg

ROOT = Path(__file__).resolve().parents[2]
COUNT = 5


@pytest.fixture(scope="module")
def fetchmail() -> str:
    """Installed by scripts/ensure-imap-tools.sh when missing; skips only when it cannot be."""
    path = shutil.which("fetchmail")
    if path is None:
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure-imap-tools.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        path = shutil.which("fetchmail")
        if path is None:
            pytest.skip(f"fetchmail could not be installed: {(out.stderr or out.stdout)[-500:]}")
    return path


def run_fetchmail(
    binary: str, port: int, home: Path, *, keep: bool, fetchall: bool = True, expect: int = 0
) -> list[bytes]:
    """One fetchmail run; returns the messages its MDA received."""
    out = home / "out"
    out.mkdir(parents=True, exist_ok=True)
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll 127.0.0.1 protocol POP3 service {port} auth password\n"
        f'  user "alice@example.com" there with password "{PASSWORD}"\n'
        "  sslproto tls1.2+ no sslcertck\n"
        f"  {'keep' if keep else 'nokeep'} {'fetchall' if fetchall else ''}\n"
        f'  mda "cat > $(mktemp {out}/msg.XXXXXXXX)"\n'
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(home), "FETCHMAILHOME": str(home)}
    result = subprocess.run(
        [
            binary,
            *("-f", str(rc), "--nodetach", "-v", "--pidfile", str(home / "pid")),
            *("--idfile", str(home / "ids")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    # 0: mail was fetched, 1: none was new; the log shows that STLS was used.
    assert result.returncode == expect, result.stdout[-2000:] + result.stderr[-2000:]
    assert "STLS" in result.stdout + result.stderr
    return [p.read_bytes() for p in sorted(out.iterdir())]


def counts(account: Account) -> dict[str, tuple[int, int, int]]:
    """Per folder: (files in the Maildir, rows in the database, total in the API)."""
    listing = token_client(account).get("/api/v1/folders").json()["results"]
    api = {f["special_use"]: f["total"] for f in listing}
    result = {}
    for use in (SpecialUse.INBOX, SpecialUse.TRASH):
        folder = Folder.objects.get(account=account, special_use=use)
        files = len(list(maildir_for(account).scan(folder.path)))
        rows = Message.objects.filter(folder=folder).count()
        result[str(use)] = (files, rows, api[str(use)])
    return result


@pytest.mark.parametrize("policy", ["delete", "keep"])
def test_fetchmail_nokeep(
    policy: str, fetchmail: str, alice: Account, pop3_addr: tuple[str, int], tmp_path: Path
) -> None:
    do_set_pop3_settings(alice, on_delete=policy)
    for i in range(COUNT):
        add(alice, msg(f"fm-{i}", f"line\n.dot line {i}\n"))
    got = run_fetchmail(fetchmail, pop3_addr[1], tmp_path, keep=False)
    assert len(got) == COUNT
    assert sorted(b"Subject: fm-" in m for m in got) == [True] * COUNT
    assert all(b"\n.dot line" in m and b"\n..dot" not in m for m in got)  # unstuffed exactly
    if policy == "delete":
        assert counts(alice) == {"inbox": (0, 0, 0), "trash": (COUNT,) * 3}
    else:
        assert counts(alice) == {"inbox": (COUNT,) * 3, "trash": (0, 0, 0)}


def test_fetchmail_keep_uses_uidl(
    fetchmail: str, alice: Account, pop3_addr: tuple[str, int], tmp_path: Path
) -> None:
    """fetchmail --keep remembers UIDLs: a second run finds nothing new, a third only the
    message that arrived meanwhile (UIDL stable across sessions with a real client)."""
    for i in range(COUNT):
        add(alice, msg(f"fm-{i}"))
    assert len(run_fetchmail(fetchmail, pop3_addr[1], tmp_path, keep=True, fetchall=False)) == 5
    run_fetchmail(fetchmail, pop3_addr[1], tmp_path, keep=True, fetchall=False, expect=1)
    assert len(list((tmp_path / "out").iterdir())) == COUNT
    add(alice, msg("fm-new"))
    got = run_fetchmail(fetchmail, pop3_addr[1], tmp_path, keep=True, fetchall=False)
    assert len(got) == COUNT + 1 and sum(b"Subject: fm-new" in m for m in got) == 1
    assert counts(alice) == {"inbox": (COUNT + 1,) * 3, "trash": (0, 0, 0)}
