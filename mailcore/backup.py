"""Backup and restore of a whole host (`manage.py backup DEST`, `manage.py restore SRC`;
issue 15 item 5). Copies files as opaque bytes (Maildir listing through mailcore.store.maildir,
which holds the folder locks); knows nothing of HTTP.

A backup directory holds one directory per run, named by its UTC time:

    DEST/LATEST                       the stamp of the newest complete run (written last)
    DEST/<stamp>/manifest.json        format, version, times, database kind, every file with
                                      its size, SHA-256 and the run that copied it (copied_in),
                                      the previous run (the chain)
    DEST/<stamp>/manifest.sha256      SHA-256 of manifest.json
    DEST/<stamp>/database.pgdump      pg_dump -Fc of one snapshot (PostgreSQL), or
    DEST/<stamp>/database.sqlite3     the online backup API's copy (SQLite)
    DEST/<stamp>/files/mail/...       MAIL_ROOT: every Maildir file under its name (not tmp/)
    DEST/<stamp>/files/spool/...      the spool files of the queue entries in the snapshot
    DEST/<stamp>/files/uploads/...    compose uploads (UPLOAD_DIR)
    DEST/<stamp>/files/var/...        secret_key and TLS material kept under MAILROOM_VAR
    DEST/<stamp>/files/config/env     the .env settings file, if there is one (not restored)

Incremental: a file whose path, size and mtime match the previous run's, or a Maildir message
file whose name differs from one of the previous run only in its ':2,' flags (same folder,
same size and mtime: a flag change or new/ -> cur/ is a rename), is hard-linked from the
previous run instead of copied (rsnapshot's scheme), so every run is complete on its own and
old runs can be deleted with `rm -r`. Each run keeps its own database dump.

Order, and why a restore is consistent: the database is dumped first, from one snapshot; the
files are copied after. The spool copy is exactly the files the snapshot's queue rows name (the
database is the queue of record; a spool file always exists before its row commits, and is
removed only after its row is done, so a file missing at copy time belongs to an entry that
finished after the snapshot: it is recorded, and restore marks that entry done). Maildir files
that changed after the snapshot (new deliveries, flags, moves, expunges) are reconciled on
restore by the reindex machinery (mailcore.store.reindex: Maildir is the truth, UIDs and
UIDVALIDITY come from the folders' uidlists). Mail accepted after the snapshot and not yet in a
Maildir when the files were copied is not in the backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from mailcore.privileges import give_away, make_dirs
from mailcore.store.maildir import Maildir, split_filename

FORMAT = "mailroom-backup"
VERSION = 1
LATEST = "LATEST"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
CHUNK = 1 << 20
_DUMP_FILES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# Settings recorded in the manifest (no secrets): what a restore host should match.
RECORDED_SETTINGS = (
    "MAIL_HOSTNAME",
    "MAIL_ROOT",
    "SPOOL_DIR",
    "UPLOAD_DIR",
    "VAR_DIR",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CERT_DIR",
    "TIME_ZONE",
    "LANGUAGE_CODE",
)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(slots=True)
class Progress:
    copied: int = 0
    copied_bytes: int = 0
    linked: int = 0
    linked_bytes: int = 0
    vanished: int = 0


@dataclass(frozen=True, slots=True)
class Area:
    """A tree of files a backup holds: its name in the backup and its place on this host."""

    name: str
    root: Path


@dataclass(slots=True)
class _Run:
    stamp: str
    dir: Path
    previous: dict[str, Any] | None
    prev_dir: Path | None
    prev_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    prev_stems: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    done: set[str] = field(default_factory=set)
    dirs: list[str] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(at: dt.datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S.%fZ")


def database_kind() -> str:
    vendor = connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"database {vendor}: only PostgreSQL and SQLite can be backed up")
    return vendor


def areas() -> list[Area]:
    return [
        Area("mail", Path(settings.MAIL_ROOT)),
        Area("spool", Path(settings.SPOOL_DIR)),
        Area("uploads", Path(settings.UPLOAD_DIR)),
        Area("var", Path(settings.VAR_DIR)),
    ]


def _var_paths() -> list[Path]:
    """Files and trees under MAILROOM_VAR a backup keeps: the secret key and TLS material
    (keys and certificates outside MAILROOM_VAR, as certbot's, are certbot's to back up)."""
    var = Path(settings.VAR_DIR).resolve()
    found = [var / "secret_key", var / "tls"]
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CERT_DIR"):
        raw = str(getattr(settings, name, "") or "")
        if raw:
            path = Path(raw).resolve()
            if path.is_relative_to(var) and path != var:
                found.append(path)
    # A file inside a tree already listed (TLS_CERT_FILE under var/tls) is copied once.
    return [
        p for p in dict.fromkeys(found) if not any(p != q and p.is_relative_to(q) for q in found)
    ]


def env_file() -> Path:
    return Path(os.environ.get("MAILROOM_ENV_FILE", Path(settings.BASE_DIR) / ".env"))


# --- backup --------------------------------------------------------------------------------


def run_backup(dest: Path, *, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """One backup run into `dest` (created if missing; incremental against its LATEST run).
    Returns the manifest. Raises BackupError."""
    kind = database_kind()
    make_dirs(dest, 0o700)
    with _locked(dest / ".lock"):
        for stale in dest.glob(".partial-*"):  # a run killed before it finished
            shutil.rmtree(stale, ignore_errors=True)
        previous, prev_dir = _latest(dest)
        started = _now()
        stamp = _stamp(started)
        work = dest / f".partial-{stamp}"
        work.mkdir(mode=0o700)
        try:
            return _run_into(work, stamp, started, kind, previous, prev_dir, dest, log)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)  # a failed run leaves nothing half-made
            raise


def _run_into(
    work: Path,
    stamp: str,
    started: dt.datetime,
    kind: str,
    previous: dict[str, Any] | None,
    prev_dir: Path | None,
    dest: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    run = _Run(stamp, work, previous, prev_dir)
    if previous is not None:
        run.prev_files = {f["path"]: f for f in previous["files"]}
        for f in previous["files"]:
            stem = _message_stem(f["path"])
            if stem is not None:
                run.prev_stems[stem] = f
    log(f"snapshot of the {kind} database")
    db_file, db_info, queue = (_dump_postgresql if kind == "postgresql" else _dump_sqlite)(work)
    db_info.update(file=db_file.name, **_hash_file(db_file))
    log(f"database dumped ({db_info['size']} bytes); copying files")
    finished_after = _copy_spool(run, queue)
    _copy_mail(run)
    for area in areas():
        if area.name == "uploads":
            _copy_tree(run, area, area.root)
        elif area.name == "var":
            for path in _var_paths():
                _copy_tree(run, area, path)
    env = env_file()
    if env.is_file():
        _copy_one(run, "config/env", env, env.stat())
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "stamp": stamp,
        "started_at": started.isoformat(),
        "snapshot_at": db_info.pop("snapshot_at"),
        "finished_at": _now().isoformat(),
        "host": socket.gethostname(),
        "database": db_info,
        "previous": None
        if previous is None
        else {"stamp": previous["stamp"], "manifest_sha256": _manifest_sum(prev_dir)},
        "chain": ([*previous.get("chain", []), previous["stamp"]] if previous else []),
        "settings": {k: str(getattr(settings, k, "")) for k in RECORDED_SETTINGS},
        "secret_key_from_env": bool(os.environ.get("SECRET_KEY")),
        "queue": {"entries": len(queue), "finished_after_snapshot": finished_after},
        "stats": {
            "copied": run.progress.copied,
            "copied_bytes": run.progress.copied_bytes,
            "linked": run.progress.linked,
            "linked_bytes": run.progress.linked_bytes,
            "vanished": run.progress.vanished,
        },
        "dirs": sorted(set(run.dirs)),
        "files": run.files,
    }
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    _write_file(work / MANIFEST, data)
    _write_file(work / MANIFEST_SUM, (hashlib.sha256(data).hexdigest() + "\n").encode())
    _fsync_tree_dirs(work)
    final = dest / stamp
    os.rename(work, final)
    _write_atomic(dest / LATEST, (stamp + "\n").encode())
    return manifest


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another backup is running into {path.parent}") from None
        yield
    finally:
        os.close(fd)


def _latest(dest: Path) -> tuple[dict[str, Any] | None, Path | None]:
    try:
        stamp = (dest / LATEST).read_text().strip()
    except FileNotFoundError:
        return None, None
    run = dest / stamp
    manifest = _read_manifest(run)
    return manifest, run


def _message_stem(path: str) -> tuple[str, str] | None:
    """('mail/<folder dir>', base name) of a Maildir message file path, else None."""
    parent, _, name = path.rpartition("/")
    folder, _, sub = parent.rpartition("/")
    if not path.startswith("mail/") or sub not in ("new", "cur"):
        return None
    return folder, split_filename(name)[0]


def _dump_postgresql(work: Path) -> tuple[Path, dict[str, Any], list[tuple[str, str, str]]]:
    """pg_dump of one exported snapshot, and the queue rows of that same snapshot.

    pg_dump rather than an export of our own: it is the standard, restorable with the
    standard tool (pg_restore) without Mailroom, and keeps every type, sequence and index.
    The snapshot is exported from our REPEATABLE READ transaction so the spool list read
    here is the queue pg_dump writes."""
    import psycopg

    from mailcore.delivery.models import EntryState, QueueEntry

    tool = shutil.which("pg_dump")
    if tool is None:
        raise BackupError("pg_dump not found: install postgresql-client (Debian)")
    out = work / _DUMP_FILES["postgresql"]
    table = QueueEntry._meta.db_table
    with psycopg.connect(**_pg_connect_kwargs(), autocommit=False) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            snapshot_at = _now().isoformat()
            cur.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            row = cur.fetchone()
            assert row is not None
            snapshot, server_version = row
            cur.execute(
                f'SELECT queue_id, spool_name, sha256 FROM "{table}" WHERE state <> %s',  # noqa: S608
                [EntryState.DONE.value],
            )
            queue = [(str(a), str(b), str(c)) for a, b, c in cur.fetchall()]
            proc = subprocess.run(
                [tool, "--format=custom", f"--snapshot={snapshot}", f"--file={out}"],
                env=_pg_env(),
                capture_output=True,
                text=True,
                check=False,
            )
        conn.rollback()
    if proc.returncode != 0:
        raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")
    out.chmod(0o600)
    version = subprocess.run(
        [tool, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    info = {
        "kind": "postgresql",
        "tool": version,
        "server_version": server_version,
        "snapshot_at": snapshot_at,
    }
    return out, info, queue


def _dump_sqlite(work: Path) -> tuple[Path, dict[str, Any], list[tuple[str, str, str]]]:
    """SQLite's online backup API: a copy of one consistent state while writers go on."""
    import sqlite3

    from mailcore.delivery.models import EntryState, QueueEntry

    out = work / _DUMP_FILES["sqlite"]
    source = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=60)
    target = sqlite3.connect(str(out))
    try:
        snapshot_at = _now().isoformat()
        source.backup(target)  # all pages in one step: one read transaction, one state
        queue = [
            (str(a), str(b), str(c))
            for a, b, c in target.execute(
                f'SELECT queue_id, spool_name, sha256 FROM "{QueueEntry._meta.db_table}" '  # noqa: S608
                "WHERE state <> ?",
                [EntryState.DONE.value],
            )
        ]
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    out.chmod(0o600)
    info = {
        "kind": "sqlite",
        "tool": f"sqlite {sqlite3.sqlite_version}",
        "snapshot_at": snapshot_at,
    }
    return out, info, queue


def _pg_connect_kwargs() -> dict[str, Any]:
    s = connection.settings_dict
    kwargs: dict[str, Any] = {"dbname": s["NAME"]}
    for key, name in (
        ("USER", "user"),
        ("PASSWORD", "password"),
        ("HOST", "host"),
        ("PORT", "port"),
    ):
        if s.get(key):
            kwargs[name] = str(s[key])
    for key, value in (s.get("OPTIONS") or {}).items():
        if isinstance(value, (str, int)) and key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            kwargs[key] = str(value)
    return kwargs


def _pg_env() -> dict[str, str]:
    """libpq's environment for pg_dump/pg_restore: the password never on a command line."""
    env = dict(os.environ)
    names = {
        "dbname": "PGDATABASE",
        "user": "PGUSER",
        "password": "PGPASSWORD",
        "host": "PGHOST",
        "port": "PGPORT",
        "sslmode": "PGSSLMODE",
        "sslrootcert": "PGSSLROOTCERT",
        "sslcert": "PGSSLCERT",
        "sslkey": "PGSSLKEY",
    }
    for key, value in _pg_connect_kwargs().items():
        env[names[key]] = value
    return env


def _copy_spool(run: _Run, queue: list[tuple[str, str, str]]) -> list[str]:
    """Copy the spool files the snapshot's live queue rows name; returns the queue ids of
    those whose file was gone (finished after the snapshot)."""
    root = Path(settings.SPOOL_DIR)
    gone: list[str] = []
    for queue_id, spool_name, _sha in queue:
        src = root / spool_name
        if not _copy_one_checked(run, f"spool/{spool_name}", src):
            gone.append(queue_id)
    return gone


def _copy_mail(run: _Run) -> None:
    """Every account's Maildir: the listing under the account's folder locks (no rename in
    the middle of it), then the copies; a file renamed after the listing (a flag change, an
    expunge) is looked up again by its base name."""
    root = Path(settings.MAIL_ROOT)
    if not root.is_dir():
        return
    for maildir_root in _maildir_roots(root):
        md = Maildir(maildir_root)
        with md.frozen() as paths:
            listing = {p: md.list_files(p) for p in paths}
        for path, names in listing.items():
            folder = md.folder_dir(path)
            rel_folder = folder.relative_to(root).as_posix()
            run.dirs += [f"mail/{rel_folder}/{sub}" for sub in ("cur", "new", "tmp")]
            for name in names:
                if _copy_one_checked(run, f"mail/{rel_folder}/{name}", folder / name):
                    continue
                moved = _find_renamed(md, name)
                if moved is not None:
                    rel = moved.relative_to(root).as_posix()
                    _copy_one_checked(run, f"mail/{rel}", moved)


def _maildir_roots(root: Path) -> list[Path]:
    """`<domain>/<user>/Maildir` under MAIL_ROOT (the layout of Account.storage_path)."""
    found = []
    for domain_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        found += sorted(p / "Maildir" for p in domain_dir.iterdir() if (p / "Maildir").is_dir())
    return found


def _find_renamed(md: Maildir, name: str) -> Path | None:
    """Where a message file listed as `name` is now (same base name, any folder), or None."""
    if "/" not in name:
        return None
    base = split_filename(name.rpartition("/")[2])[0]
    with md.frozen() as paths:
        for path in paths:
            for rel in md.list_files(path):
                if "/" in rel and split_filename(rel.rpartition("/")[2])[0] == base:
                    return md.folder_dir(path) / rel
    return None


def _copy_tree(run: _Run, area: Area, path: Path) -> None:
    """A file or a tree under `area.root`, into files/<area>/..."""
    base = area.root.resolve()
    if path.is_file():
        _copy_one_checked(run, f"{area.name}/{path.resolve().relative_to(base).as_posix()}", path)
        return
    if not path.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        here = Path(dirpath)
        run.dirs.append(f"{area.name}/{here.resolve().relative_to(base).as_posix()}")
        for name in sorted(filenames):
            src = here / name
            _copy_one_checked(run, f"{area.name}/{src.resolve().relative_to(base).as_posix()}", src)


def _copy_one_checked(run: _Run, rel: str, src: Path) -> bool:
    """Copy (or link) one file; False when it vanished before it could be read."""
    try:
        st = src.stat()
    except FileNotFoundError:
        run.progress.vanished += 1
        return False
    try:
        _copy_one(run, rel, src, st)
    except FileNotFoundError:
        run.progress.vanished += 1
        return False
    return True


def _copy_one(run: _Run, rel: str, src: Path, st: os.stat_result) -> None:
    if rel in run.done:
        return
    run.done.add(rel)
    target = run.dir / "files" / rel
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    prev = run.prev_files.get(rel)
    if prev is None:
        stem = _message_stem(rel)
        prev = run.prev_stems.get(stem) if stem is not None else None
    if (
        prev is not None
        and run.prev_dir is not None
        and prev["size"] == st.st_size
        and prev["mtime_ns"] == st.st_mtime_ns
    ):
        try:
            os.link(run.prev_dir / "files" / prev["path"], target)
        except OSError:
            pass  # another file system, or the old copy is gone: copy it
        else:
            run.files.append({**prev, "path": rel})
            run.progress.linked += 1
            run.progress.linked_bytes += st.st_size
            return
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fin:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            while chunk := fin.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                _write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    run.files.append(
        {
            "path": rel,
            "size": size,
            "sha256": digest.hexdigest(),
            "mtime_ns": st.st_mtime_ns,
            "copied_in": run.stamp,  # the run whose copy this is (later runs link to it)
        }
    )
    run.progress.copied += 1
    run.progress.copied_bytes += size


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    _write_file(tmp, data)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree_dirs(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root):
        _fsync_dir(Path(dirpath))


def _hash_file(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


def _manifest_sum(run_dir: Path | None) -> str:
    assert run_dir is not None
    return hashlib.sha256((run_dir / MANIFEST).read_bytes()).hexdigest()


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    try:
        data = (run_dir / MANIFEST).read_bytes()
        recorded = (run_dir / MANIFEST_SUM).read_text().strip()
    except FileNotFoundError as exc:
        raise BackupError(
            f"{run_dir}: not a Mailroom backup run ({exc.filename} missing)"
        ) from None
    if hashlib.sha256(data).hexdigest() != recorded:
        raise BackupError(f"{run_dir}/{MANIFEST}: checksum mismatch: the manifest is corrupt")
    try:
        manifest: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise BackupError(f"{run_dir}/{MANIFEST}: not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{run_dir}: not a Mailroom backup (format {manifest.get('format')!r})")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"{run_dir}: backup format version {manifest.get('version')}, this Mailroom reads "
            f"version {VERSION}"
        )
    if manifest.get("database", {}).get("file") not in _DUMP_FILES.values():
        raise BackupError(f"{run_dir}/{MANIFEST}: names no database dump of ours")
    return manifest


# --- restore -------------------------------------------------------------------------------


def resolve_run(src: Path) -> Path:
    """A run directory: SRC itself, or the LATEST run of a backup directory."""
    if (src / MANIFEST).is_file():
        return src
    try:
        stamp = (src / LATEST).read_text().strip()
    except FileNotFoundError:
        raise BackupError(f"{src}: no backup here (neither {MANIFEST} nor {LATEST})") from None
    return src / stamp


def verify(run_dir: Path) -> dict[str, Any]:
    """The manifest of `run_dir`, after checking the size and SHA-256 of every file in it.
    Raises BackupError naming the files that do not match."""
    manifest = _read_manifest(run_dir)
    bad: list[str] = []
    db = manifest["database"]
    entries = [(run_dir / db["file"], db["file"], db)] + [
        (run_dir / "files" / f["path"], f["path"], f) for f in manifest["files"]
    ]
    for path, name, entry in entries:
        if name.startswith("/") or ".." in name.split("/"):
            raise BackupError(f"{run_dir}/{MANIFEST}: file {name!r} is outside the backup")
        try:
            got = _hash_file(path)
        except FileNotFoundError:
            bad.append(f"{name}: missing")
            continue
        if got["size"] != entry["size"] or got["sha256"] != entry["sha256"]:
            bad.append(f"{name}: size/SHA-256 do not match the manifest")
    if bad:
        shown = "\n  ".join(bad[:20])
        more = f"\n  … and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise BackupError(
            f"backup {run_dir} is corrupt: {len(bad)} file(s) fail their checksum; nothing "
            f"was restored. Restore an older run of the same backup directory.\n  {shown}{more}"
        )
    return manifest


def target_state() -> list[str]:
    """What this host already holds (empty list: a fresh host)."""
    found: list[str] = []
    tables = set(connection.introspection.table_names())
    from mailcore.delivery.models import DkimKey, QueueEntry
    from mailcore.directory.models import Account, Alias, Domain
    from mailcore.store.models import Message

    found += [
        f"the database has {model._meta.verbose_name_plural}"
        for model in (Domain, Account, Alias, Message, QueueEntry, DkimKey)
        if model._meta.db_table in tables and model.objects.exists()
    ]
    for area in areas():
        if area.name == "var" or not area.root.is_dir():
            continue
        if any(p.is_file() for p in area.root.rglob("*")):
            found.append(f"{area.root} holds files")
    return found


def _live_workers() -> list[str]:
    """Delivery workers whose heartbeat is fresh: a restore under running services would
    race them."""
    from datetime import timedelta

    from mailcore.delivery.models import DeliveryWorker

    if DeliveryWorker._meta.db_table not in connection.introspection.table_names():
        return []
    fresh = _now() - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    return list(
        DeliveryWorker.objects.filter(heartbeat_at__gt=fresh).values_list("name", flat=True)
    )


@dataclass(slots=True)
class RestoreReport:
    stamp: str
    database: str
    files: int
    bytes: int
    moved_aside: list[str]
    finished_after_snapshot: int
    accounts: int
    messages: int
    recreated_accounts: list[str]


def run_restore(
    src: Path,
    *,
    force: bool = False,
    reindex: bool = True,
    log: Callable[[str], None] = lambda _m: None,
) -> RestoreReport:
    """Bring this host to the state of the backup run `src` (or its LATEST run). Checks every
    checksum first; refuses a non-empty host unless `force` (then what was there is moved
    aside, not deleted). Raises BackupError; nothing is changed before the checks pass."""
    run_dir = resolve_run(src)
    log(f"verifying {run_dir}")
    manifest = verify(run_dir)
    kind = database_kind()
    if manifest["database"]["kind"] != kind:
        raise BackupError(
            f"the backup holds a {manifest['database']['kind']} database and this host uses "
            f"{kind}: restore onto the same kind (set DATABASE_URL), then move with dumpdata/"
            "loaddata if needed"
        )
    running = _live_workers()
    if running:
        raise BackupError(
            f"Mailroom is running on this database (worker {running[0]} is alive): stop its "
            "services first (systemctl stop mailroom.target), then restore"
        )
    there = target_state()
    if there and not force:
        raise BackupError(
            "refusing to restore over a host that is not empty ("
            + "; ".join(there)
            + "): use a fresh database and MAILROOM_VAR, or --force (what is there is moved "
            "aside first)"
        )
    aside_tag = f"pre-restore-{_stamp(_now())}"
    moved: list[str] = []
    log(f"restoring the {kind} database of {manifest['stamp']}")
    db_path = run_dir / manifest["database"]["file"]
    if kind == "postgresql":
        moved += _restore_postgresql(db_path, aside_tag, keep=bool(there))
    else:
        moved += _restore_sqlite(db_path, aside_tag, keep=bool(there))
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)  # a newer Mailroom than the backup's
    log("restoring files")
    moved += _move_areas_aside(aside_tag)
    count, size = _restore_files(run_dir, manifest)
    done = _finish_entries(manifest["queue"]["finished_after_snapshot"])
    recreated: list[str] = []
    messages = 0
    from mailcore.directory.models import Account

    if reindex:
        log("reconciling the index with the Maildir files (reindex)")
        from mailcore.store.reindex import discover_accounts, reindex_account

        before = set(Account.objects.values_list("pk", flat=True))
        found = discover_accounts(Path(settings.MAIL_ROOT))
        recreated = [a.address for a in found if a.pk not in before]
        for account in Account.objects.all():
            messages += reindex_account(account).messages
    return RestoreReport(
        manifest["stamp"],
        kind,
        count,
        size,
        moved,
        done,
        Account.objects.count(),
        messages,
        recreated,
    )


def _restore_postgresql(dump: Path, aside_tag: str, *, keep: bool) -> list[str]:
    tool = shutil.which("pg_restore")
    if tool is None:
        raise BackupError("pg_restore not found: install postgresql-client (Debian)")
    moved: list[str] = []
    tables = connection.introspection.table_names()
    if tables and keep:
        aside = Path(settings.VAR_DIR) / f"{aside_tag}.pgdump"
        proc = subprocess.run(
            [shutil.which("pg_dump") or "pg_dump", "--format=custom", f"--file={aside}"],
            env=_pg_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BackupError(f"could not save the present database first: {proc.stderr.strip()}")
        aside.chmod(0o600)
        moved.append(str(aside))
    if tables:
        with connection.cursor() as cur:
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            cur.execute(f"DROP TABLE IF EXISTS {quoted} CASCADE")
    connection.close()
    proc = subprocess.run(
        [
            tool,
            "--no-owner",
            "--no-privileges",
            "--no-comments",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_pg_connect_kwargs()['dbname']}",
            str(dump),
        ],
        env=_pg_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed (the database is left empty): {proc.stderr.strip()}")
    return moved


def _restore_sqlite(copy: Path, aside_tag: str, *, keep: bool) -> list[str]:
    import sqlite3

    name = Path(str(connection.settings_dict["NAME"]))
    connection.close()
    moved: list[str] = []
    if keep and name.exists():
        aside = name.with_name(f"{name.name}.{aside_tag}")
        _sqlite_copy(name, aside)
        moved.append(str(aside))
    make_dirs(name.parent, 0o755)
    _sqlite_copy(copy, name)
    with sqlite3.connect(str(name)) as db:
        db.execute("PRAGMA journal_mode=WAL")
    name.chmod(0o600)
    give_away(name)
    return moved


def _sqlite_copy(src: Path, dst: Path) -> None:
    import sqlite3

    source = sqlite3.connect(str(src))
    target = sqlite3.connect(str(dst), timeout=60)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _move_areas_aside(aside_tag: str) -> list[str]:
    """Rename the present mail, spool and upload trees out of the way (not deleted)."""
    moved: list[str] = []
    for area in areas():
        if area.name == "var" or not area.root.exists():
            continue
        if not any(area.root.iterdir()):
            continue
        aside = area.root.with_name(f"{area.root.name}.{aside_tag}")
        os.rename(area.root, aside)
        moved.append(str(aside))
    return moved


def _restore_files(run_dir: Path, manifest: dict[str, Any]) -> tuple[int, int]:
    roots = {a.name: a.root for a in areas()}
    aside_tag = f"pre-restore-{_stamp(_now())}"
    for root in roots.values():
        _make_private_dirs(root, 0o755 if root == Path(settings.VAR_DIR) else 0o700)
    for rel in manifest["dirs"]:
        target = _target(roots, rel)
        if target is not None:
            _make_private_dirs(target)
    count = size = 0
    for entry in manifest["files"]:
        target = _target(roots, entry["path"])
        if target is None:
            continue  # config/env: kept in the backup for the admin, not written
        _make_private_dirs(target.parent)
        if target.exists():  # a secret key or certificate this host made on its first start
            os.replace(target, target.with_name(f"{target.name}.{aside_tag}"))
        tmp = target.with_name(f".{target.name}.restore")
        shutil.copyfile(run_dir / "files" / entry["path"], tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        give_away(target)
        count += 1
        size += entry["size"]
    for root in roots.values():
        for dirpath, _dirs, _files in os.walk(root):
            _fsync_dir(Path(dirpath))
    return count, size


def _make_private_dirs(path: Path, mode: int = 0o700) -> None:
    """mkdir -p where every directory created gets `mode` whatever the umask (Maildir 0700,
    as mailcore.privileges checks), owned by the service user when run as root."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for created in reversed(missing):
        created.mkdir(mode=mode, exist_ok=True)
        created.chmod(mode)
        give_away(created)


def _target(roots: dict[str, Path], rel: str) -> Path | None:
    area, _, rest = rel.partition("/")
    root = roots.get(area)
    if root is None or not rest:
        return None
    target = (root / rest).resolve()
    if not target.is_relative_to(root.resolve()):
        raise BackupError(f"manifest path {rel!r} escapes its area: refusing the backup")
    return target


def _finish_entries(queue_ids: list[str]) -> int:
    """Queue entries the snapshot holds as live whose spool file was removed before the copy:
    they finished after the snapshot (their local deliveries are in the Maildir copy). The
    leases of the others and the worker registry were the old host's processes: dropped, so
    the first worker here takes the entries at once."""
    from mailcore.delivery.models import DeliveryWorker, EntryState, QueueEntry

    DeliveryWorker.objects.all().delete()
    # A claim moves next_attempt_at on to the lease's end too: a leased entry is due now.
    QueueEntry.objects.exclude(state=EntryState.DONE).filter(locked_until__isnull=False).update(
        locked_until=None, next_attempt_at=timezone.now()
    )
    return QueueEntry.objects.filter(queue_id__in=queue_ids).update(
        state=EntryState.DONE,
        locked_until=None,
        last_error="finished after the backup's snapshot (restored from a backup)",
    )


def describe(manifest: dict[str, Any]) -> str:
    stats = manifest["stats"]
    return (
        f"backup {manifest['stamp']}: {manifest['database']['kind']} database "
        f"{manifest['database']['size']} bytes, {len(manifest['files'])} files "
        f"({stats['copied']} copied, {stats['copied_bytes']} bytes; {stats['linked']} "
        f"unchanged, linked from the previous run), "
        f"{manifest['queue']['entries']} queued entries"
    )
