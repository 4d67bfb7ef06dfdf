"""Privilege separation (issue 15 item 1): who a Mailroom process runs as, and the start-up
check of the files it keeps secrets and mail in.

Production mode is `MAILROOM_USER` set. A process started as root then binds its listeners
and drops to that user (initgroups, setgid, setuid) before it handles any request, as
Postfix's master and Dovecot do; a process started as that user (systemd `User=` with
`AmbientCapabilities=CAP_NET_BIND_SERVICE`) keeps its identity and sheds the capability once
it is bound. Without `MAILROOM_USER` (the development default) nothing changes.
No Django here: the settings module and the protocol servers both use it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mailcore.config  # noqa: F401 - loads .env, where MAILROOM_USER may be set

log = logging.getLogger("mailroom.privileges")

CAP_NET_BIND_SERVICE = 10
_PR_SET_KEEPCAPS = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
SERVICE_UMASK = 0o077  # Postfix and Dovecot write mail and keys for their own user only


class PrivilegeError(RuntimeError):
    """The process may not start as it is (wrong user, wrong file owner or mode)."""


@dataclass(frozen=True, slots=True)
class ServiceUser:
    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]


def service_user(name: str | None = None) -> ServiceUser | None:
    """The unprivileged user named by `MAILROOM_USER` (None in development mode)."""
    name = os.environ.get("MAILROOM_USER", "") if name is None else name
    name = name.strip()
    if not name:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PrivilegeError(
            f"MAILROOM_USER={name}: no such user (create it: "
            f"useradd --system --home-dir /var/lib/mailroom --shell /usr/sbin/nologin {name})"
        ) from None
    if entry.pw_uid == 0:
        raise PrivilegeError(f"MAILROOM_USER={name} is root: name an unprivileged user")
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return ServiceUser(name, entry.pw_uid, entry.pw_gid, groups)


def give_away(path: Path) -> None:
    """Hand a file or directory that this process (as root, before the drop) created to the
    service user, so the dropped processes can use it. No-op in development mode."""
    user = service_user()
    if user is None or os.geteuid() != 0:
        return
    os.chown(path, user.uid, user.gid)


def make_dirs(path: Path, mode: int = 0o700) -> None:
    """mkdir -p, handing each directory created to the service user (see give_away)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    for created in reversed(missing):
        give_away(created)


def popen_user_kwargs() -> dict[str, Any]:
    """What subprocess.Popen needs to start a child as the service user (a child that binds
    no privileged port: the worker, beat, the web server on a high port)."""
    user = service_user()
    if user is None or os.geteuid() != 0:
        return {}
    return {
        "user": user.uid,
        "group": user.gid,
        "extra_groups": list(user.groups),
        "umask": SERVICE_UMASK,
    }


def _capset(permitted: int, effective: int) -> None:
    """capset(2) for this thread: the two 32-bit words of version 3 (caps 0-63)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    libc = ctypes.CDLL(None, use_errno=True)
    header = Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (Data * 2)()
    data[0].effective, data[0].permitted = effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF
    data[1].effective, data[1].permitted = effective >> 32, permitted >> 32
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise PrivilegeError(f"capset failed: {os.strerror(err)}")


def capabilities() -> tuple[int, int]:
    """(permitted, effective) capability sets of this thread, from /proc."""
    caps = {"CapPrm": 0, "CapEff": 0}
    for line in Path("/proc/thread-self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in caps:
            caps[key] = int(value.strip(), 16)
    return caps["CapPrm"], caps["CapEff"]


def drop(*, keep_bind: bool = False, what: str = "mailroom") -> None:
    """Give up root (or, already the service user, every capability) before handling requests.

    As root with `MAILROOM_USER`: supplementary groups, gid, then uid of the service user, and
    the umask 077. `keep_bind` keeps CAP_NET_BIND_SERVICE and nothing else (the IMAP pre-fork
    parent binds a fresh socket on its ports for each worker it restarts). Root without
    `MAILROOM_USER` (development) only warns, as Celery does. Raises PrivilegeError when the
    process runs as some other user than `MAILROOM_USER`, or when the drop did not hold.
    """
    user = service_user()
    if user is None:
        if os.geteuid() == 0:
            log.warning("%s: running as root; set MAILROOM_USER to drop privileges", what)
        return
    if os.geteuid() == 0:
        _become(user, keep_bind=keep_bind)
        print(f"{what}: privileges dropped to {user.name} (uid {user.uid})", flush=True)
    elif os.geteuid() != user.uid:
        raise PrivilegeError(
            f"{what}: MAILROOM_USER={user.name} (uid {user.uid}) but running as uid "
            f"{os.geteuid()}: start as root or as {user.name}"
        )
    os.umask(SERVICE_UMASK)
    bind_bit = 1 << CAP_NET_BIND_SERVICE
    permitted, effective = capabilities()
    want = bind_bit & permitted if keep_bind else 0
    if permitted != want or effective != want:
        _capset(want, want)


def _become(user: ServiceUser, *, keep_bind: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if keep_bind:
        libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgroups(list(user.groups))
    os.setgid(user.gid)
    os.setuid(user.uid)
    if keep_bind:
        libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
        bind_bit = 1 << CAP_NET_BIND_SERVICE
        _capset(bind_bit, bind_bit)
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:  # pragma: no cover - the kernel let root back in: never serve like this
        raise PrivilegeError("dropped privileges could be regained")
    os.environ["HOME"] = pwd.getpwuid(user.uid).pw_dir
    os.environ["USER"] = os.environ["LOGNAME"] = user.name


# --- start-up check of MAILROOM_VAR -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Secret:
    """A path whose owner and mode are checked at start: `mode` is the most it may allow."""

    path: Path
    what: str
    mode: int  # 0o600 for a key file, 0o700 for a directory


def problems(secrets: Iterable[Secret], owner_uid: int) -> list[str]:
    """What is wrong with the files, one sentence each, with the command that fixes it. A path
    that does not exist yet is fine (the service creates it, umask 077)."""
    found: list[str] = []
    owner = _user_name(owner_uid)
    for secret in secrets:
        try:
            st = secret.path.stat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        chmod = f"{secret.mode:o}"
        if mode & ~secret.mode & 0o777:
            found.append(
                f"{secret.what} {secret.path} has mode {mode:04o}, must be {secret.mode:04o} "
                f"or stricter (chmod {chmod} {secret.path})"
            )
        if st.st_uid != owner_uid:
            found.append(
                f"{secret.what} {secret.path} is owned by {_user_name(st.st_uid)}, must be "
                f"owned by {owner} (chown {owner}: {secret.path})"
            )
    return found


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def enforce(secrets: Iterable[Secret], *, what: str = "mailroom") -> None:
    """Refuse to start (PrivilegeError, one line per problem) in production mode when a secret
    is readable by others or not owned by the service user. Development mode checks nothing."""
    user = service_user()
    if user is None:
        return
    found = problems(secrets, user.uid)
    if found:
        raise PrivilegeError(
            f"{what}: refusing to start in production mode (MAILROOM_USER={user.name}):\n  "
            + "\n  ".join(found)
        )


def secrets_from_settings() -> list[Secret]:
    """The files `enforce` checks, from the Django settings: the secret key file (when the key
    is not given by SECRET_KEY), the TLS keys, the Maildir root and the spool."""
    from django.conf import settings

    from mailcore import tls

    found = [
        Secret(Path(settings.VAR_DIR), "MAILROOM_VAR", 0o755),
        Secret(Path(settings.VAR_DIR) / "secret_key", "secret key", 0o600),
        Secret(Path(settings.MAIL_ROOT), "Maildir root", 0o700),
        Secret(Path(settings.SPOOL_DIR), "spool", 0o700),
    ]
    found += [Secret(key, "TLS key", 0o600) for key in tls.key_files_from_settings()]
    return found


def check_settings(what: str = "mailroom") -> None:
    enforce(secrets_from_settings(), what=what)


def main() -> None:
    """`python -m mailcore.privileges`: the start-up check alone (systemd ExecStartPre)."""
    from mailcore.runtime import bootstrap

    bootstrap(check=False)
    try:
        check_settings("check")
    except PrivilegeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(78)  # EX_CONFIG
    print("check: owner and mode of the secret key, TLS keys, Maildir and spool are right")


if __name__ == "__main__":
    main()
