"""TLS certificates and contexts for the listeners; a self-signed certificate is made on first
run when none is configured (like Dovecot's and Postfix's package defaults).

A listener's context (CertStore.context) picks the certificate by SNI among one per domain
(TLS_CERT_DIR/<name>/fullchain.pem + privkey.pem, certbot's live/ layout) and re-reads the
files when they change (checked at most every TLS_RELOAD_SECONDS, at a handshake), so an ACME
renewal needs no restart: Dovecot and Postfix need a reload for that, Stalwart and mox do not.
A half-written renewal (certificate and key not matching) keeps the previous certificate.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mailcore.privileges import give_away, make_dirs

log = logging.getLogger("mailroom.tls")
CHAIN_NAME, KEY_NAME = "fullchain.pem", "privkey.pem"


def ensure_self_signed(cert_file: Path, key_file: Path, hostname: str) -> bool:
    """Create a self-signed RSA-2048 certificate for `hostname` if the files are missing.
    Returns True when it created one. Processes started together (by hand, or by a test
    harness, without runall's one start) take a lock first and look again under it, and each
    file is written beside its place and renamed in: a reader never meets half a pair, and two
    creators never leave one's key beside the other's certificate."""
    if cert_file.exists() and key_file.exists():
        return False
    make_dirs(cert_file.parent, 0o700)
    make_dirs(key_file.parent, 0o700)
    lock_fd = os.open(key_file.parent / ".self-signed.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if cert_file.exists() and key_file.exists():
            return False
        key_pem, cert_pem = _self_signed_pair(hostname)
        _write_new(key_file, key_pem, 0o600)
        _write_new(cert_file, cert_pem, 0o644)
    finally:
        os.close(lock_fd)  # releases the lock
    give_away(key_file)
    give_away(cert_file)
    return True


def _self_signed_pair(hostname: str) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) of a new self-signed RSA-2048 certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64] or "localhost")])
    now = dt.datetime.now(tz=dt.UTC)
    alt: list[x509.GeneralName] = [
        x509.DNSName(hostname or "localhost"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """`data` into `path` by a temporary file beside it and a rename (created with `mode`)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


@dataclass(frozen=True, slots=True)
class CertInfo:
    """One certificate as the banner and the console show it."""

    label: str  # "default" or the directory name under TLS_CERT_DIR
    cert_file: Path
    key_file: Path
    names: tuple[str, ...]  # DNS names (subjectAltName, else the common name), lower case
    not_after: dt.datetime

    def days_left(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(tz=dt.UTC)
        return (self.not_after - now).total_seconds() / 86400

    def describe(self) -> str:
        return (
            f"{', '.join(self.names) or '(no names)'}; expires {self.not_after:%Y-%m-%d %H:%M} UTC"
        )


def read_info(label: str, cert_file: Path, key_file: Path) -> CertInfo:
    """Names and expiry of the first certificate in `cert_file` (the leaf of a chain)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    if not names:
        names = [
            str(a.value).lower() for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return CertInfo(label, cert_file, key_file, tuple(names), cert.not_valid_after_utc)


def pairs(
    cert_file: Path | None, key_file: Path | None, cert_dir: Path | None
) -> list[tuple[str, Path, Path]]:
    """(label, certificate, key) of the default pair (when its files exist) and of each
    directory under `cert_dir` holding fullchain.pem and privkey.pem, in name order."""
    found: list[tuple[str, Path, Path]] = []
    if cert_file is not None and key_file is not None and cert_file.exists():
        found.append(("default", cert_file, key_file))
    if cert_dir is not None and cert_dir.is_dir():
        found.extend(
            (sub.name, sub / CHAIN_NAME, sub / KEY_NAME)
            for sub in sorted(cert_dir.iterdir())
            if (sub / CHAIN_NAME).exists() and (sub / KEY_NAME).exists()
        )
    return found


class CertStore:
    """The certificates of a process's listeners. `context` is what the listeners are given:
    its SNI callback re-checks the files (at most every `interval` seconds) and hands each
    handshake the context of the certificate for the name the client asked for (exact, then
    wildcard), else the default one (clients without SNI)."""

    def __init__(
        self,
        cert_file: Path | None,
        key_file: Path | None,
        cert_dir: Path | None = None,
        *,
        interval: float = 1.0,
    ) -> None:
        self.cert_file, self.key_file, self.cert_dir = cert_file, key_file, cert_dir
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = 0.0
        self._signature: tuple[object, ...] = ()
        self.infos: list[CertInfo] = []
        self._by_name: dict[str, ssl.SSLContext] = {}
        self._default: ssl.SSLContext | None = None
        self.reloads = 0
        self._load(self._stat())
        self._checked = time.monotonic()  # the files were just read: the next look is due later
        assert self._default is not None
        self.context: ssl.SSLContext = _new_context()
        self.context.load_cert_chain(str(self.infos[0].cert_file), str(self.infos[0].key_file))
        self.context.sni_callback = self._sni

    def _stat(self) -> tuple[object, ...]:
        sig: list[object] = []
        for label, cert, key in pairs(self.cert_file, self.key_file, self.cert_dir):
            for path in (cert, key):
                try:
                    st = path.stat()
                except OSError:
                    continue
                sig.append((label, str(path), st.st_ino, st.st_mtime_ns, st.st_size))
        return tuple(sig)

    def _load(self, signature: tuple[object, ...]) -> None:
        """Build every context; raises (leaving the old ones) when any pair does not load."""
        infos: list[CertInfo] = []
        by_name: dict[str, ssl.SSLContext] = {}
        default: ssl.SSLContext | None = None
        for label, cert, key in pairs(self.cert_file, self.key_file, self.cert_dir):
            ctx = _new_context()
            ctx.load_cert_chain(str(cert), str(key))
            info = read_info(label, cert, key)
            infos.append(info)
            for name in (*info.names, label.lower()):
                by_name.setdefault(name, ctx)
            if default is None:
                default = ctx
        if default is None:
            raise ssl.SSLError("no TLS certificate found")
        self.infos, self._by_name, self._default = infos, by_name, default
        self._signature = signature

    def refresh(self) -> bool:
        """Re-read the files if they changed since the last look; True when reloaded."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked < self.interval:
                return False
            self._checked = now
            signature = self._stat()
            if signature == self._signature:
                return False
            try:
                self._load(signature)
            except (OSError, ssl.SSLError, ValueError) as exc:
                log.error("TLS certificates changed but do not load (kept the old ones): %s", exc)
                return False
            self.reloads += 1
            log.info("TLS certificates reloaded: %s", "; ".join(i.describe() for i in self.infos))
            return True

    def for_name(self, server_name: str | None) -> ssl.SSLContext:
        assert self._default is not None
        if server_name:
            name = server_name.lower().rstrip(".")
            ctx = self._by_name.get(name)
            if ctx is None and "." in name:
                ctx = self._by_name.get("*." + name.split(".", 1)[1])
            if ctx is not None:
                return ctx
        return self._default

    def _sni(
        self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        try:
            self.refresh()
            conn.context = self.for_name(server_name)
        except Exception:  # never fail a handshake over a reload: the old certificate serves
            log.exception("TLS: choosing the certificate failed")


def _new_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _dir_setting(value: str) -> Path | None:
    return Path(value) if value else None


def store_from_settings() -> CertStore:
    """The listeners' certificates from the settings (making the self-signed default first
    when no certificate is configured)."""
    from django.conf import settings

    if settings.TLS_SELF_SIGNED:
        ensure_self_signed(settings.TLS_CERT_FILE, settings.TLS_KEY_FILE, settings.MAIL_HOSTNAME)
    return CertStore(
        Path(settings.TLS_CERT_FILE),
        Path(settings.TLS_KEY_FILE),
        _dir_setting(settings.TLS_CERT_DIR),
        interval=settings.TLS_RELOAD_SECONDS,
    )


def context_from_settings() -> ssl.SSLContext:
    """What SMTP, IMAP and POP3 listeners are given: SNI and reload built in."""
    return store_from_settings().context


def certificates_from_settings() -> list[CertInfo]:
    """Every configured certificate (for runall's banner and the console); unreadable ones
    are left out."""
    from django.conf import settings

    found = []
    for label, cert, key in pairs(
        Path(settings.TLS_CERT_FILE),
        Path(settings.TLS_KEY_FILE),
        _dir_setting(settings.TLS_CERT_DIR),
    ):
        try:
            found.append(read_info(label, cert, key))
        except (OSError, ValueError):
            log.warning("TLS certificate %s cannot be read", cert)
    return found


def key_files_from_settings() -> list[Path]:
    from django.conf import settings

    keys = [Path(settings.TLS_KEY_FILE)]
    keys += [key for label, _, key in pairs(None, None, _dir_setting(settings.TLS_CERT_DIR))]
    return keys


def expiry_warnings(infos: list[CertInfo], days: int, now: dt.datetime | None = None) -> list[str]:
    """One sentence per certificate that ends within `days` days (or has ended)."""
    out = []
    for info in infos:
        left = info.days_left(now)
        if left < 0:
            out.append(
                f"TLS certificate for {', '.join(info.names)} EXPIRED on "
                f"{info.not_after:%Y-%m-%d} ({info.cert_file})"
            )
        elif left < days:
            out.append(
                f"TLS certificate for {', '.join(info.names)} expires in {int(left)} days "
                f"({info.not_after:%Y-%m-%d}; {info.cert_file}): renew it"
            )
    return out
