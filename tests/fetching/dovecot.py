"""Debian's Dovecot (dovecot-imapd, dovecot-pop3d) as the "other server" of fetching tests: run
unprivileged-style on free loopback ports with a scratch configuration (as bench/imap.py does),
its certificate signed by a throwaway CA. Mail is put into its Maildirs as files."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DOVECOT = os.environ.get("DOVECOT", "/usr/sbin/dovecot")


def free_port() -> int:
    """A port free on both addresses Dovecot listens on (127.0.0.1 and 127.0.0.2)."""
    while True:
        with socket.socket() as s, socket.socket() as other:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            try:
                other.bind(("127.0.0.2", port))
            except OSError:
                continue
            return port


def available() -> bool:
    return os.access(DOVECOT, os.X_OK) and Path("/usr/lib/dovecot/pop3").exists()


class Dovecot:
    def __init__(
        self, work: Path, cert: Path, key: Path, password: str, users_count: int = 100
    ) -> None:
        self.work = work
        self.ports: dict[str, int] = {}
        for sub in ("run", "state", "mail"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o755)
        if os.geteuid() == 0:  # Dovecot refuses mail access as root: its processes use nobody
            nobody = pwd.getpwnam("nobody")
            self.uid, self.gid, login = nobody.pw_uid, nobody.pw_gid, ""
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(self.uid).pw_name
            login = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        digest = base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()
        (work / "passwd").write_text(
            "".join(f"user{n}:{{SHA256}}{digest}\n" for n in range(1, users_count + 1))
        )
        self._users = itertools.count(1)
        self._seq = itertools.count(1)
        # A port picked free can be taken before Dovecot binds it (another suite's client,
        # an outgoing connection): pick new ones and start again, a few times.
        for attempt in range(3):
            self.ports = {name: free_port() for name in ("imap", "imaps", "pop3", "pop3s")}
            try:
                self._start(login, cert, key)
                return
            except RuntimeError as exc:
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise

    def _start(self, login: str, cert: Path, key: Path) -> None:
        work = self.work
        (work / "dovecot.conf").write_text(
            f"""# tests/fetching/dovecot.py: the remote server of the fetching tests
protocols = imap pop3
listen = 127.0.0.1, 127.0.0.2
base_dir = {work}/run
state_dir = {work}/state
instance_name = mailroom-fetch-test-{work.name}
log_path = {work}/dovecot.log
info_log_path = /dev/null
{login}ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:{work}/mail/%n/Maildir
first_valid_uid = {min(self.uid, 500)}
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=SHA256 username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={work}/mail/%n
}}
# No anvil auth penalty (Dovecot's documented switch): after a wrong password it would slow
# every next login from 127.0.0.1 for seconds, and wrong passwords are part of the tests.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {self.ports["imap"]}
  }}
  inet_listener imaps {{
    port = {self.ports["imaps"]}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = {self.ports["pop3s"]}
    ssl = yes
  }}
}}
"""
        )
        self._stderr = (work / "stderr.log").open("wb")
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(work / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.ports["pop3s"]), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log = (work / "stderr.log").read_text(errors="replace")
                    raise RuntimeError(f"Dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.1)

    def new_user(self) -> str:
        """A fresh user with an empty mailbox (users are all in the passwd file from the start:
        Dovecot may not notice a rewrite of it within the same second)."""
        name = f"user{next(self._users)}"
        self.clear(name)
        return name

    def maildir(self, user: str) -> Path:
        return self.work / "mail" / user / "Maildir"

    def clear(self, user: str) -> None:
        home = self.work / "mail" / user
        shutil.rmtree(home, ignore_errors=True)
        for sub in ("new", "cur", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        self._own(home)

    def set_uidvalidity(self, user: str, uidvalidity: int) -> None:
        """Give a fresh (never opened) mailbox this UIDVALIDITY, through Dovecot's uidlist."""
        path = self.maildir(user) / "dovecot-uidlist"
        path.write_text(f"3 V{uidvalidity} N1\n")
        self._own(path)

    def put(self, user: str, data: bytes) -> None:
        """A message into the user's INBOX, as a delivery agent leaves it (Maildir new/)."""
        md = self.maildir(user)
        name = f"{time.time_ns()}.M{next(self._seq)}P{os.getpid()}.test"
        (md / "tmp" / name).write_bytes(data)
        os.rename(md / "tmp" / name, md / "new" / name)
        self._own(md / "new" / name)

    def count(self, user: str) -> int:
        md = self.maildir(user)
        return sum(1 for sub in ("new", "cur") for _ in (md / sub).iterdir())

    def _own(self, path: Path) -> None:
        for p in [path, *path.rglob("*")]:
            os.chown(p, self.uid, self.gid)

    def stop(self) -> None:
        self._stderr.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
