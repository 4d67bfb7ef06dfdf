"""Fixtures of the MTA-STS tests: a CA made here (its bundle is MTA_STS_CA_FILE), a loopback
HTTPS server answering for mta-sts.<domain> names, and "remote" SMTP sinks on 127.0.0.x with
STARTTLS certificates from that CA (right name, wrong name) or without STARTTLS. The DNS
server and the sinks' plumbing are those of tests/outbound."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailcore.tls import server_context
from tests.admin.conftest import world  # noqa: F401  (fixture: domains, accounts, admins)
from tests.outbound.conftest import (  # noqa: F401  (fixtures)
    Behaviour,
    SinkController,
    SinkHandler,
    remote_port,
    zone,
)


@dataclass
class TestCA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    bundle: Path
    where: Path

    def issue(self, label: str, *names: str, expired: bool = False) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(tz=dt.UTC)
        start = now - dt.timedelta(days=30 if expired else 1)
        end = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=30)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = self.where / f"{label}.crt", self.where / f"{label}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def _make_ca(where: Path, name: str) -> TestCA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(tz=dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=60))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    bundle = where / f"{name}.pem"
    bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TestCA(key, cert, bundle, where)


@pytest.fixture
def ca(tmp_path: Path, settings) -> TestCA:  # type: ignore[no-untyped-def]
    made = _make_ca(tmp_path, "Mailroom Test CA")
    settings.MTA_STS_CA_FILE = str(made.bundle)
    settings.MTA_STS_FETCH_TIMEOUT = 5.0
    return made


@dataclass
class Served:
    """What the HTTPS server answers for one host: status, body, content type, headers."""

    body: str
    status: int = 200
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PolicyServer:
    port: int
    pages: dict[str, Served] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # host names asked, in order

    def policy(self, domain: str, text: str, **kw: Any) -> None:
        self.pages[f"mta-sts.{domain}"] = Served(text, **kw)


@pytest.fixture
def policy_server(ca: TestCA, zone, settings) -> Iterator[PolicyServer]:  # type: ignore[no-untyped-def]  # noqa: F811
    """HTTPS on 127.0.0.1 (a free port, MTA_STS_HTTPS_PORT) for mta-sts.remote.test and
    mta-sts.other.test, certificate from the test CA."""
    cert, key = ca.issue("https", "mta-sts.remote.test", "mta-sts.other.test")
    state = PolicyServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            state.requests.append(host)
            page = state.pages.get(host) if self.path == "/.well-known/mta-sts.txt" else None
            if page is None:
                self.send_response(404)
                self.end_headers()
                return
            body = page.body.encode()
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in page.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    settings.MTA_STS_HTTPS_PORT = state.port
    settings.RELAY_ALLOW_PRIVATE_TARGETS = True  # loopback stands in for the internet
    for domain in ("remote.test", "other.test"):
        zone.add(f"mta-sts.{domain}", "A", "127.0.0.1")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def mx_sink(remote_port: int, ca: TestCA) -> Iterator[Callable[..., Behaviour]]:  # noqa: F811
    """mx_sink("127.0.0.2", cert_names=("mx1.remote.test",)) → the Behaviour of a new SMTP
    server; cert_names=() offers no STARTTLS."""
    controllers: list[Controller] = []

    def start(ip: str, *, cert_names: tuple[str, ...] = (), expired: bool = False) -> Behaviour:
        b = Behaviour()
        kwargs: dict[str, Any] = {}
        if cert_names:
            cert, key = ca.issue(f"smtp-{ip}", *cert_names, expired=expired)
            kwargs["tls_context"] = server_context(cert, key)
        ctl = SinkController(SinkHandler(b), hostname=ip, port=remote_port, **kwargs)
        ctl.start()
        controllers.append(ctl)
        return b

    yield start
    for ctl in controllers:
        ctl.stop()
