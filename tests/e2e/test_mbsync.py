"""A real IMAP client we did not write, end to end: Debian's isync (`mbsync`) syncs an account
from `python -m mailcore.imap` (implicit TLS, the self-signed certificate, an app password)
down into a local Maildir; a flag change and a deletion made in that Maildir go back up with a
second run and show in the REST API; a flag set through the API comes down with a third."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from mailcore.directory.actions import do_create_app_password
from mailcore.directory.models import Account
from mailcore.store.actions import do_append, do_create_folder
from mailcore.store.queries import get_folder_by_special_use
from mailcore.tls import ensure_self_signed
from tests.api.helpers import token_client
from tests.conftest import database_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KOREAN_FOLDER = "보고서"  # modified UTF-7 on the wire: &vPSs4MEc-


@pytest.fixture(scope="module")
def mbsync() -> str:
    """The mbsync binary; installed by scripts/ensure-imap-tools.sh (as `make test` does) when
    missing. Skips only when it truly cannot be installed here."""
    path = shutil.which("mbsync")
    if path is None:
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure-imap-tools.sh")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        path = shutil.which("mbsync")
        if path is None:
            pytest.skip(
                "mbsync (Debian's isync) is not installed and scripts/ensure-imap-tools.sh "
                f"could not install it: {(out.stderr or out.stdout).strip()[-500:]}"
            )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def imap_server(
    transactional_db: None, settings: object, tmp_path: Path
) -> Iterator[Callable[[], Listeners]]:
    """Start `python -m mailcore.imap` against the test database and MAIL_ROOT; returns its
    ports and the certificate file."""
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    ensure_self_signed(cert, key, "localhost")
    log_path = tmp_path / "imap.log"

    def start() -> Listeners:
        for _ in range(3):  # a free port can be taken between our probe and the server's bind
            imap, imaps = _free_port(), _free_port()
            env = {
                **os.environ,
                "DATABASE_URL": database_url(),
                "MAIL_ROOT": str(django_settings.MAIL_ROOT),
                "SPOOL_DIR": str(django_settings.SPOOL_DIR),
                "MAIL_HOSTNAME": django_settings.MAIL_HOSTNAME,
                "BROKER_DIR": str(django_settings.BROKER_DIR),
                "MAILROOM_ENV_FILE": str(tmp_path / "none.env"),
                "IMAP_LISTEN": f"127.0.0.1:{imap}",
                "IMAPS_LISTEN": f"127.0.0.1:{imaps}",
                "TLS_CERT_FILE": str(cert),
                "TLS_KEY_FILE": str(key),
            }
            log = log_path.open("ab")
            logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "mailcore.imap"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", imaps), timeout=1):
                        pass
                    with socket.create_connection(("127.0.0.1", imap), timeout=1):
                        return Listeners(imap, imaps, cert)
                except OSError:
                    time.sleep(0.2)
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        raise AssertionError(f"the IMAP server did not come up:\n{log_path.read_text()[-3000:]}")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
    for log in logs:
        log.close()


@dataclass(frozen=True, slots=True)
class Listeners:
    starttls: int  # 143-style
    implicit: int  # 993-style
    cert: Path


def _mbsync_config(
    tmp_path: Path, port: int, cert: Path, user: str, secret: str, *, tls: str = "IMAPS"
) -> Path:
    version = subprocess.run(["mbsync", "--version"], capture_output=True, text=True, check=True)
    # isync 1.5 renamed SSLType to TLSType (1.4, Debian 12's, knows only SSLType).
    major_minor = tuple(int(x) for x in re.findall(r"\d+", version.stdout)[:2])
    tls_keyword = "TLSType" if major_minor >= (1, 5) else "SSLType"
    local = tmp_path / "local"
    local.mkdir()
    (tmp_path / "secret").write_text(secret)
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount mailroom
Host 127.0.0.1
Port {port}
User {user}
PassCmd "cat {tmp_path / "secret"}"
{tls_keyword} {tls}
CertificateFile {cert}
AuthMechs PLAIN
Timeout 60

IMAPStore remote
Account mailroom

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel everything
Far :remote:
Near :local:
Patterns *
Create Near
Expunge Both
Sync All
SyncState *
"""
    )
    return config


def _sync(mbsync: str, config: Path) -> None:
    out = subprocess.run(
        [mbsync, "--config", str(config), "--all"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, f"mbsync failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"


def _files(folder: Path) -> dict[str, Path]:
    """Subject → file of the messages in a local Maildir folder (new/ and cur/)."""
    found = {}
    for sub in ("new", "cur"):
        for path in (folder / sub).iterdir():
            head = path.read_bytes().split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            match = re.search(rb"^Subject: (.*?)\r?$", head, re.MULTILINE)
            assert match, path
            found[match.group(1).decode()] = path
    return found


def _flags(path: Path) -> str:
    return path.name.rpartition(":2,")[2] if ":2," in path.name else ""


def _message(subject: str, body: str = "Hello from the mbsync test.\r\n") -> bytes:
    return (
        f"From: Bob <bob@example.net>\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@example.net>\r\n"
        f"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n\r\n{body}"
    ).encode()


def _api_messages(api: APIClient, folder_id: int) -> dict[str, dict[str, object]]:
    response = api.get(f"/api/v1/folders/{folder_id}/messages?limit=100")
    assert response.status_code == 200, response.content
    return {m["subject"]: m for m in response.json()["results"]}


def test_mbsync_down_and_up_with_the_api_in_agreement(
    mbsync: str,
    imap_server: Callable[[], Listeners],
    smtp_server: tuple[str, int],
    deliver_all: Callable[[], list[str]],
    alice: Account,
    tmp_path: Path,
) -> None:
    # INBOX through SMTP and the delivery worker's code; Sent and a Korean-named folder
    # through the store actions the webmail uses.
    with smtplib.SMTP(*smtp_server) as smtp:
        for subject in ("inbox one", "inbox two", "inbox three"):
            smtp.sendmail("bob@example.net", ["alice@example.com"], _message(subject))
    assert deliver_all()
    sent = get_folder_by_special_use(alice, "sent")
    for subject in ("sent one", "sent two"):
        do_append(acting_account=alice, folder=sent, data=_message(subject), flags=["seen"])
    korean = do_create_folder(acting_account=alice, name=KOREAN_FOLDER)
    do_append(acting_account=alice, folder=korean, data=_message("보고서 첫째", "본문입니다.\r\n"))
    do_append(acting_account=alice, folder=korean, data=_message("report two"))
    _, secret = do_create_app_password(alice, "mbsync")

    listeners = imap_server()
    config = _mbsync_config(tmp_path, listeners.implicit, listeners.cert, alice.address, secret)
    local = tmp_path / "local"

    # 1. Down: every folder, every message, flags as the store has them.
    _sync(mbsync, config)
    inbox = _files(local / "INBOX")
    assert set(inbox) == {"inbox one", "inbox two", "inbox three"}
    assert all("S" not in _flags(p) for p in inbox.values())  # unread on the server
    sent_files = _files(local / "Sent")
    assert set(sent_files) == {"sent one", "sent two"}
    assert all("S" in _flags(p) for p in sent_files.values())
    korean_dirs = [p for p in local.iterdir() if p.name not in ("INBOX", "Sent")]
    korean_local = next(
        (p for p in korean_dirs if p.name in (KOREAN_FOLDER, "&vPSs4MEc-")), None
    )  # isync 1.4 keeps the mUTF-7 name, later versions may decode it
    assert korean_local is not None, sorted(p.name for p in local.iterdir())
    korean_files = _files(korean_local)
    assert set(korean_files) == {"보고서 첫째", "report two"}
    # The bytes are the message's, line ends aside and the X-TUID header mbsync adds to every
    # message it copies; mbsync also read exactly the literal's announced size.
    got = korean_files["보고서 첫째"].read_bytes().replace(b"\r\n", b"\n")
    got = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", got, count=1)
    assert got == _message("보고서 첫째", "본문입니다.\r\n").replace(b"\r\n", b"\n")

    # 2. Up: mark one seen and flagged, delete another, in the local Maildir.
    one = inbox["inbox one"]
    flagged = one.parent.parent / "cur" / (one.name.split(":2,")[0] + ":2,FS")
    one.rename(flagged)
    inbox["inbox two"].unlink()
    _sync(mbsync, config)

    api = token_client(alice)
    folders = {
        f["special_use"] or f["name"]: f for f in api.get("/api/v1/folders").json()["results"]
    }
    listed = _api_messages(api, folders["inbox"]["id"])
    assert set(listed) == {"inbox one", "inbox three"}  # expunged, not kept as \Deleted
    assert listed["inbox one"]["flags"]["seen"] is True
    assert listed["inbox one"]["flags"]["flagged"] is True
    assert listed["inbox three"]["flags"]["seen"] is False
    assert listed["inbox three"]["flags"]["flagged"] is False
    trash = _api_messages(api, folders["trash"]["id"])
    assert "inbox two" not in trash  # an IMAP EXPUNGE deletes; it does not move to Trash
    assert set(_api_messages(api, folders["sent"]["id"])) == {"sent one", "sent two"}
    assert set(_api_messages(api, folders[KOREAN_FOLDER]["id"])) == {"보고서 첫째", "report two"}

    # 3. And back down: a flag set in the webmail reaches the local Maildir.
    three = listed["inbox three"]
    response = api.patch(f"/api/v1/messages/{three['id']}", {"flagged": True}, format="json")
    assert response.status_code == 200, response.content
    _sync(mbsync, config)
    inbox = _files(local / "INBOX")
    assert set(inbox) == {"inbox one", "inbox three"}
    assert "F" in _flags(inbox["inbox three"])
    assert _flags(inbox["inbox one"]) == "FS"


def test_mbsync_over_starttls(
    mbsync: str,
    imap_server: Callable[[], Listeners],
    alice: Account,
    tmp_path: Path,
) -> None:
    """The 143-style listener: mbsync says STARTTLS and sends its next command as soon as the
    handshake is done (a command the server must not drop). Every run must work."""
    inbox = get_folder_by_special_use(alice, "inbox")
    for subject in ("plain one", "plain two"):
        do_append(acting_account=alice, folder=inbox, data=_message(subject))
    _, secret = do_create_app_password(alice, "mbsync")
    listeners = imap_server()
    config = _mbsync_config(
        tmp_path, listeners.starttls, listeners.cert, alice.address, secret, tls="STARTTLS"
    )
    local = tmp_path / "local"

    _sync(mbsync, config)
    files = _files(local / "INBOX")
    assert set(files) == {"plain one", "plain two"}
    one = files["plain one"]
    one.rename(one.parent.parent / "cur" / (one.name.split(":2,")[0] + ":2,S"))
    for _ in range(5):  # each run is a new connection: a new STARTTLS handshake
        _sync(mbsync, config)

    api = token_client(alice)
    listed = _api_messages(api, inbox.pk)
    assert listed["plain one"]["flags"]["seen"] is True
    assert listed["plain two"]["flags"]["seen"] is False
