"""Debian's Postfix and Dovecot LMTP for bench/compare.py, each under a scratch directory of its
own (config_directory, queue_directory, base_dir) on loopback high ports. Nothing of the host's
configuration is read or changed: main.cf and master.cf are written here, and the only system
state used is the package's binaries and its `postfix` user (mail_owner).

    bash scripts/ensure-postfix.sh     # postfix (smtpd, smtp-source) and dovecot-lmtpd
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from bench.imap import descendants, wait_port
from bench.stack import free_port

POSTFIX = "/usr/sbin/postfix"
SMTP_SOURCE = "/usr/sbin/smtp-source"
DOVECOT = "/usr/sbin/dovecot"

# Postfix's own services, without chroot (the scratch queue has no chroot set-up) and without
# the pipe transports of Debian's sample master.cf.
_MASTER_CF = """\
{port} inet n - n - {smtpd_limit} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def available() -> bool:
    return all(Path(p).exists() for p in (POSTFIX, SMTP_SOURCE, DOVECOT, "/usr/lib/dovecot/lmtp"))


def mail_owner() -> tuple[int, int]:
    """The `postfix` user's uid and gid: Postfix refuses to run its daemons as root."""
    entry = pwd.getpwnam("postfix")
    return entry.pw_uid, entry.pw_gid


class DovecotLmtp:
    """Dovecot's LMTP server delivering into Maildir under `work/mail/<user>/Maildir`, as the
    unprivileged user that owns the scratch mail directory (fsync as Dovecot's default)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.port = free_port()
        for sub in ("run", "state", "mail"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            uid, gid = mail_owner()
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(uid).pw_name
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
        self.uid, self.gid = uid, gid
        (work / "dovecot.conf").write_text(
            f"""# bench/mta.py: Debian's Dovecot LMTP, defaults except what the benchmark needs
protocols = lmtp
listen = 127.0.0.1
base_dir = {work}/run
state_dir = {work}/state
instance_name = mailroom-lmtp-{os.getpid()}-{self.port}
log_path = {work}/dovecot.log
info_log_path = /dev/null
{users}ssl = no
mail_location = maildir:{work}/mail/%n/Maildir
first_valid_uid = {min(uid, 100)}
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={work}/mail/%n allow_all_users=yes
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.port}
  }}
}}
"""
        )
        os.chmod(work, 0o755)
        subprocess.run(["chown", "-R", f"{uid}:{gid}", str(work / "mail")], check=True)
        self.proc: subprocess.Popen[bytes] | None = None

    def maildir(self, user: str) -> Path:
        return self.work / "mail" / user / "Maildir"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.work / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "stderr.log").open("wb"),
            start_new_session=True,
        )
        wait_port(self.port, self.proc, self.work / "dovecot.log")

    def pids(self) -> list[int]:
        return descendants(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


class Postfix:
    """One Postfix instance: smtpd on a loopback port, mail for `domain` accepted for the
    listed users only (as Mailroom's RCPT check), then either held (accept only: the hold
    queue, nothing delivered) or handed over LMTP to `lmtp_port`."""

    def __init__(self, work: Path, *, domain: str, users: list[str], lmtp_port: int | None):
        self.work = work
        self.port = free_port()
        self.config = work / "etc"
        self.queue = work / "queue"
        for d in (self.config, self.queue, work / "data"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o755)
        uid, gid = mail_owner()
        os.chown(work / "data", uid, gid)
        mailboxes = ", ".join(f"{u}@{domain}=ok" for u in users)
        if lmtp_port is None:
            route = "smtpd_data_restrictions = check_client_access static:HOLD\n"
        else:
            route = f"virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}\n"
        (self.config / "main.cf").write_text(
            f"""# bench/mta.py: Debian's Postfix, defaults except what the benchmark needs
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {work}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = inline:{{ {mailboxes} }}
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
{route}smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
anvil_rate_time_unit = 60s
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file = {work}/maillog
maillog_file_prefixes = {work}
biff = no
append_dot_mydomain = no
readme_directory = no
default_process_limit = 100
"""
        )
        (self.config / "master.cf").write_text(_MASTER_CF.format(port=self.port, smtpd_limit="-"))
        self.started = False

    def _postfix(self, *args: str) -> None:
        subprocess.run(
            [POSTFIX, "-c", str(self.config), *args],
            check=True,
            capture_output=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )

    def start(self) -> None:
        self._postfix("start")
        self.started = True
        deadline = time.monotonic() + 60
        while True:
            try:
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Postfix not listening; see {self.work}/maillog") from None
                time.sleep(0.2)

    def master_pid(self) -> int | None:
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self) -> list[int]:
        pid = self.master_pid()
        return descendants(pid) if pid else []

    def queued(self) -> int:
        """Messages in the queue's directories (incoming, active, deferred, hold, maildrop)."""
        total = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            root = self.queue / sub
            if root.is_dir():
                total += sum(len(files) for _, _, files in os.walk(root))
        return total

    def stop(self) -> None:
        if self.started:
            try:
                self._postfix("stop")
            except subprocess.CalledProcessError:
                pid = self.master_pid()
                if pid:
                    os.kill(pid, signal.SIGTERM)
            self.started = False

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
