"""TLS certificates (issue 15 item 2): a listener serves the new certificate after the files
are swapped (as certbot's renewal does), without a restart; several domains by SNI from one
directory; a half-written renewal keeps the old certificate; expiry warnings. Real servers
built from the settings (SMTP STARTTLS and implicit TLS, IMAPS, POP3S) and the ssl module's
client, which reports the certificate it was given."""

from __future__ import annotations

import dataclasses
import datetime as dt
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailcore.config import Listen
from mailcore.imap.server import ImapServer
from mailcore.imap.server import config_from_settings as imap_config
from mailcore.listeners import LoopThread
from mailcore.pop3.server import Pop3Server
from mailcore.pop3.server import config_from_settings as pop3_config
from mailcore.smtp.server import SmtpServer
from mailcore.smtp.server import config_from_settings as smtp_config
from mailcore.tls import CertStore, expiry_warnings, read_info

pytestmark = pytest.mark.django_db(transaction=True)
FREE = Listen("127.0.0.1", 0)


def write_cert(
    cert: Path, key: Path, names: list[str], *, days: int = 90, other_key: bool = False
) -> int:
    """A self-signed certificate for `names` written as certbot does (new files, renamed into
    place); returns its serial. `other_key` writes a key that does not match."""
    private = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(tz=dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .sign(private, hashes.SHA256())
    )
    if other_key:
        private = ec.generate_private_key(ec.SECP256R1())
    cert.parent.mkdir(parents=True, exist_ok=True)
    for path, data in (
        (
            key,
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
        (cert, built.public_bytes(serialization.Encoding.PEM)),
    ):
        tmp = path.with_suffix(".new")
        tmp.write_bytes(data)
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return int(built.serial_number)


def client() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def serial_of(der: bytes | None) -> int:
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def tls_serial(port: int, server_name: str | None = None) -> int:
    """Serial number of the certificate a plain TLS handshake on `port` is given."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with client().wrap_socket(raw, server_hostname=server_name) as tls:
        return serial_of(tls.getpeercert(binary_form=True))


@pytest.fixture
def certs(settings: Any, tmp_path: Path) -> Path:
    settings.TLS_CERT_FILE = tmp_path / "default" / "cert.pem"
    settings.TLS_KEY_FILE = tmp_path / "default" / "key.pem"
    settings.TLS_SELF_SIGNED = False
    settings.TLS_CERT_DIR = str(tmp_path / "live")
    settings.TLS_RELOAD_SECONDS = 0
    return tmp_path


@pytest.fixture
def servers() -> Iterator[Callable[[LoopThread], LoopThread]]:
    started: list[LoopThread] = []

    def start(server: LoopThread) -> LoopThread:
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_every_listener_serves_the_renewed_certificate_without_restart(
    certs: Path, servers: Callable[[LoopThread], LoopThread]
) -> None:
    cert, key = certs / "default" / "cert.pem", certs / "default" / "key.pem"
    first = write_cert(cert, key, ["mail.example.test"])
    smtp = servers(
        SmtpServer(dataclasses.replace(smtp_config(), mx=FREE, submission=FREE, smtps=FREE))
    )
    imap = servers(ImapServer(dataclasses.replace(imap_config(), imap=Listen("", 0), imaps=FREE)))
    pop3 = servers(Pop3Server(dataclasses.replace(pop3_config(), pop3=Listen("", 0), pop3s=FREE)))

    def seen() -> dict[str, int]:
        out = {
            "smtps": tls_serial(smtp.ports["smtps"]),
            "imaps": tls_serial(imap.ports["imaps"]),
            "pop3s": tls_serial(pop3.ports["pop3s"]),
        }
        with smtplib.SMTP("127.0.0.1", smtp.ports["submission"], timeout=10) as c:
            c.starttls(context=client())
            assert isinstance(c.sock, ssl.SSLSocket)
            out["submission"] = serial_of(c.sock.getpeercert(binary_form=True))
        imaps = imaplib.IMAP4_SSL("127.0.0.1", imap.ports["imaps"], ssl_context=client())
        assert isinstance(imaps.sock, ssl.SSLSocket)
        out["imaplib"] = serial_of(imaps.sock.getpeercert(binary_form=True))
        imaps.logout()
        pop = poplib.POP3_SSL("127.0.0.1", pop3.ports["pop3s"], context=client())
        assert isinstance(pop.sock, ssl.SSLSocket)
        out["poplib"] = serial_of(pop.sock.getpeercert(binary_form=True))
        pop.quit()
        return out

    assert set(seen().values()) == {first}
    second = write_cert(cert, key, ["mail.example.test"])
    time.sleep(0.05)
    assert set(seen().values()) == {second}
    # A renewal caught half-way (new certificate, key not matching) keeps the working one.
    write_cert(cert, key, ["mail.example.test"], other_key=True)
    time.sleep(0.05)
    assert set(seen().values()) == {second}


def test_sni_picks_the_certificate_of_each_domain(
    certs: Path, servers: Callable[[LoopThread], LoopThread]
) -> None:
    default = write_cert(
        certs / "default" / "cert.pem", certs / "default" / "key.pem", ["mail.example.test"]
    )
    live = certs / "live"
    a = write_cert(
        live / "a.test" / "fullchain.pem",
        live / "a.test" / "privkey.pem",
        ["mail.a.test", "a.test"],
    )
    b = write_cert(live / "b.test" / "fullchain.pem", live / "b.test" / "privkey.pem", ["*.b.test"])
    pop3 = servers(Pop3Server(dataclasses.replace(pop3_config(), pop3=Listen("", 0), pop3s=FREE)))
    port = pop3.ports["pop3s"]
    assert tls_serial(port, "mail.a.test") == a
    assert tls_serial(port, "A.TEST") == a
    assert tls_serial(port, "imap.b.test") == b  # wildcard
    assert tls_serial(port, "unknown.test") == default
    assert tls_serial(port, None) == default  # a client without SNI
    # A domain added to the directory is served from the next handshake on.
    c = write_cert(
        live / "c.test" / "fullchain.pem", live / "c.test" / "privkey.pem", ["mail.c.test"]
    )
    assert tls_serial(port, "mail.c.test") == c


def test_reload_is_checked_at_most_every_interval(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_cert(cert, key, ["x.test"])
    store = CertStore(cert, key, None, interval=3600)
    write_cert(cert, key, ["x.test"])
    assert store.refresh() is False  # checked at start: the next look is an hour away
    store.interval = 0
    assert store.refresh() is True
    assert store.reloads == 1


def test_expiry_warning_fourteen_days_before(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_cert(cert, key, ["soon.test"], days=10)
    info = read_info("default", cert, key)
    assert info.names == ("soon.test",)
    [warning] = expiry_warnings([info], 14)
    assert "soon.test expires in 9 days" in warning
    assert expiry_warnings([info], 5) == []
    later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=11)
    assert "EXPIRED" in expiry_warnings([info], 14, now=later)[0]
