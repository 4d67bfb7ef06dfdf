"""Debian's Dovecot reads the Maildir we write as its own: the LF layout with ',S=,W=' names is
Dovecot's convention, so its IMAP server (run here in PREAUTH mode over a pipe, the way
`ssh host dovecot/imap` is used) must report RFC822.SIZE = our W= and serve the very CRLF bytes
our readers give, for new files, converted ones and files of the old CRLF layout alike."""

from __future__ import annotations

import contextlib
import imaplib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailcore.store.maildir import Maildir, name_sizes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
IMAP_BIN = Path("/usr/lib/dovecot/imap")
MESSAGES = {
    "1.plain.host,S=44": b"Subject: plain\r\nFrom: a@example.org\r\n\r\nbody\r\n",
    "2.bare-cr.host": b"Subject: cr\r\n\r\na bare \r inside\r\n.\r\nno end",
    "3.lf-upload.host": b"Subject: lf\n\nfrom a script\n",  # reads back as CRLF
    "4.big.host": b"Subject: big\r\n\r\n" + b"0123456789abcdef\r\n" * 5000,
}


@pytest.fixture(scope="module")
def dovecot_imap() -> Path:
    """Dovecot's imap binary; installed by scripts/ensure-imap-tools.sh --dovecot when
    missing. Skips only when it truly cannot be installed here."""
    if not IMAP_BIN.exists():
        out = subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure-imap-tools.sh"), "--dovecot"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if not IMAP_BIN.exists():
            pytest.skip(
                "Dovecot is not installed and scripts/ensure-imap-tools.sh --dovecot could not "
                f"install it: {(out.stderr or out.stdout).strip()[-500:]}"
            )
    return IMAP_BIN


def _dovecot(tmp_path: Path, maildir: Path, imap: Path) -> imaplib.IMAP4_stream:
    uid, gid = (65534, 65534) if os.getuid() == 0 else (os.getuid(), os.getgid())
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        f"base_dir = {tmp_path}/run\nstate_dir = {tmp_path}/state\n"
        f"log_path = {tmp_path}/dovecot.log\ninfo_log_path = /dev/null\n"
        f"mail_uid = {uid}\nmail_gid = {gid}\nfirst_valid_uid = {min(uid, 500)}\n"
        f"first_valid_gid = {min(gid, 500)}\n"
        "passdb {\n  driver = static\n  args = nopassword\n}\n"
        "userdb {\n  driver = static\n  args = home=" + str(maildir.parent) + "\n}\n"
    )
    if os.getuid() == 0:  # Dovecot never reads mail as root: hand the tree to nobody
        for p in [tmp_path, *tmp_path.rglob("*")]:
            os.chown(p, uid, gid, follow_symlinks=False)
        tmp_path.chmod(0o755)
    command = (
        f"env USER=alice HOME={shlex.quote(str(maildir.parent))} "
        f"MAIL=maildir:{shlex.quote(str(maildir))} {imap} -c {shlex.quote(str(conf))}"
    )
    return imaplib.IMAP4_stream(command)


def _served(client: imaplib.IMAP4_stream, mailbox: str, items: str) -> list[tuple[int, bytes]]:
    """(RFC822.SIZE or 0, the body literal) of every message of `mailbox`, sorted."""
    typ, [count] = client.select(mailbox, readonly=True)
    assert typ == "OK", count
    typ, data = client.fetch("1:*", items)
    assert typ == "OK"
    out = []
    for d in data:
        if isinstance(d, tuple):
            meta, body = d
            size = int(meta.split(b"RFC822.SIZE ")[1].split()[0]) if b"RFC822.SIZE" in meta else 0
            out.append((size, body or b""))
    return sorted(out)


@pytest.fixture
def work() -> Iterator[Path]:
    """A scratch directory Dovecot's unprivileged user can reach (pytest's tmp_path sits under
    a 0700 directory of root when tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="mailroom-dovecot-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_dovecot_reads_our_maildir_as_its_own(work: Path, dovecot_imap: Path) -> None:
    tmp_path = work
    md = Maildir(tmp_path / "home" / "Maildir")
    md.create_folder("", 1)
    md.create_folder(".Old", 2)
    for n, (key, data) in enumerate(MESSAGES.items()):
        md.deliver("", key, data, info="S" if n % 2 else "")
    # A file of the old CRLF layout (S= was the CRLF size, the size on disk), left as it is,
    # and two converted by `maildir convert`.
    old = {
        ("", "new", "5.legacy.host", ""): b"Subject: old\r\n\r\nstill CRLF\r\n",
        (".Old", "new", "6.a.host", ""): b"Subject: a\r\n\r\nwas CRLF\r\n",
        (".Old", "cur", "7.b.host", ":2,F"): b"Subject: b\r\n\r\nx\r\n\r\n",
    }
    for (path, sub, stem, info), data in old.items():
        (md.folder_dir(path) / sub / f"{stem},S={len(data)}{info}").write_bytes(data)
    assert md.convert_folder(".Old").converted == 2
    for sub in ("new", "cur"):
        for p in (md.root / ".Old" / sub).iterdir():
            disk, wire = name_sizes(p.name)
            assert b"\r" not in p.read_bytes() and disk == p.stat().st_size and wire

    def ours(path: str) -> list[tuple[int, bytes]]:
        keys = [f.key for f in md.scan(path)]
        return sorted((md.crlf_size(path, k), md.read(path, k)) for k in keys)

    def ranges(path: str) -> list[tuple[int, bytes]]:
        return sorted((0, md.read_crlf_range(path, f.key, 30, 50)) for f in md.scan(path))

    expected = {"INBOX": ours(""), "Old": ours(".Old")}
    expected_ranges = {"INBOX": ranges(""), "Old": ranges(".Old")}
    assert len(expected["INBOX"]) == 5 and len(expected["Old"]) == 2
    client = _dovecot(tmp_path, md.root, dovecot_imap)
    try:
        for mailbox in ("INBOX", "Old"):
            assert _served(client, mailbox, "(RFC822.SIZE BODY.PEEK[])") == expected[mailbox]
            # Partial fetches (BODY[]<start.length>) agree with our ranged reader.
            assert _served(client, mailbox, "(BODY.PEEK[]<30.50>)") == expected_ranges[mailbox]
        client.logout()
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.shutdown()
    log_file = tmp_path / "dovecot.log"
    log = log_file.read_text() if log_file.exists() else ""
    assert "Error" not in log and "Panic" not in log, log
