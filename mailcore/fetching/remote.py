"""The client side of POP3 and IMAP for fetching (fetchmail's part): vet the target's addresses,
connect with TLS verified, log in, list, download with a size cap, delete.

No Django and no store here: sessions take a Target and a Policy, return bytes and raise
FetchError whose `reason` names what went wrong in plain words (DNS, refused, timeout, TLS,
certificate, login …) and whose text carries the server's own words. What to keep, record and
delete is decided by mailcore.fetching.actions.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import ipaddress
import poplib
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mailcore.errors import FetchError

POP3 = "pop3"
IMAP = "imap"
TLS, STARTTLS, PLAIN = "tls", "starttls", "none"
MAX_LINE = 1 << 20  # one line of a message; RFC 5322 says 998, real mail says otherwise


@dataclass(frozen=True, slots=True)
class Target:
    protocol: str  # POP3 or IMAP
    host: str
    port: int
    security: str  # TLS, STARTTLS or PLAIN
    username: str
    password: str
    allow_self_signed: bool = False
    cert_sha256: str = ""  # with allow_self_signed: the certificate trusted when saved


@dataclass(frozen=True, slots=True)
class Policy:
    allow_private: bool  # FETCH_ALLOW_PRIVATE_TARGETS
    allow_plaintext: bool  # FETCH_ALLOW_PLAINTEXT
    timeout: float
    max_message_bytes: int
    ca_file: str = ""  # FETCH_CA_FILE: CAs trusted beside the system's


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    remote_id: str  # POP3: the UIDL; IMAP: the UID (as text)
    size: int  # as the server announced it (LIST / RFC822.SIZE)
    ref: int  # POP3: the message number of this session; IMAP: the UID


# --- where to connect: every address vetted, the vetted address used --------------------------


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for private, loopback, link-local, CGNAT, reserved, unspecified …
    return not ip.is_global or ip.is_multicast


def resolve(host: str, port: int, *, allow_private: bool) -> list[tuple[int, Any]]:
    """(family, sockaddr) of every address `host` resolves to, each checked: one address on
    loopback, a private or link-local network (or any non-global one) refuses the whole
    target unless `allow_private`. The caller connects to these addresses, not to the name, so
    a second lookup (DNS rebinding) cannot swap in another address after the check."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(
            "dns", f"The server name {host} could not be found (DNS: {_strerror(exc)})."
        ) from exc
    seen: list[tuple[int, Any]] = []
    for family, _, _, _, sockaddr in infos:
        if (family, sockaddr) in seen:
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if _blocked(ip) and not allow_private:
            raise FetchError(
                "private_target",
                f"{host} points to {ip}, an address on a local or private network; "
                "fetching from there is not allowed.",
            )
        seen.append((family, sockaddr))
    if not seen:
        raise FetchError("dns", f"The server name {host} has no address.")
    return seen


def _strerror(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)


def _connect(target: Target, policy: Policy) -> socket.socket:
    addresses = resolve(target.host, target.port, allow_private=policy.allow_private)
    last: OSError | None = None
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(policy.timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    assert last is not None
    raise _network_error(last, target)


def _network_error(exc: OSError, target: Target) -> FetchError:
    where = f"{target.host} port {target.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return FetchError(
            "certificate",
            f"The certificate of {target.host} was not accepted: {exc.verify_message}. "
            "If the server uses a self-signed certificate, allow that for this account.",
        )
    if isinstance(exc, ssl.SSLError):
        return FetchError("tls", f"The secure connection to {where} failed: {exc.reason or exc}.")
    if isinstance(exc, TimeoutError):
        return FetchError("timeout", f"{where} did not answer in time.")
    if isinstance(exc, ConnectionRefusedError):
        return FetchError("refused", f"{where} refused the connection (nothing listens there).")
    return FetchError("network", f"Could not talk to {where}: {_strerror(exc)}.")


def _tls_context(target: Target, policy: Policy) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if policy.ca_file:
        ctx.load_verify_locations(cafile=policy.ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if target.allow_self_signed:
        # The chain is not verified; the certificate is pinned instead (check_pin).
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _fingerprint(sock: socket.socket) -> str:
    assert isinstance(sock, ssl.SSLSocket)
    der = sock.getpeercert(binary_form=True) or b""
    return hashlib.sha256(der).hexdigest()


def _check_pin(target: Target, fingerprint: str) -> None:
    if target.allow_self_signed and target.cert_sha256 and fingerprint != target.cert_sha256:
        raise FetchError(
            "certificate",
            f"The certificate of {target.host} changed since this account was saved "
            f"(SHA-256 {fingerprint[:16]}…). Save the account again to trust the new one.",
        )


def _server_text(exc: BaseException) -> str:
    raw = exc.args[0] if exc.args else exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return re.sub(r"[\x00-\x1f\x7f]", " ", text).strip()[:300]


@contextlib.contextmanager
def _translated(target: Target) -> Iterator[None]:
    """Library and socket exceptions → FetchError (FetchError itself passes through)."""
    try:
        yield
    except FetchError:
        raise
    except OSError as exc:
        raise _network_error(exc, target) from exc
    except (poplib.error_proto, imaplib.IMAP4.error) as exc:
        raise FetchError(
            "protocol", f"{target.host} answered unexpectedly: {_server_text(exc)}"
        ) from exc
    except EOFError as exc:
        raise FetchError("network", f"{target.host} closed the connection.") from exc


def _login_reason(text: str) -> str:
    """A refused login by its response code: the mailbox is busy (POP3 [IN-USE], RFC 2449),
    the server has a passing problem (POP3 [SYS/TEMP] RFC 3206, IMAP [UNAVAILABLE] RFC 5530),
    or the user name or password is wrong (anything else)."""
    upper = text.upper()
    if "[IN-USE]" in upper:
        return "in_use"
    if "[SYS/TEMP]" in upper or "[UNAVAILABLE]" in upper:
        return "unavailable"
    return "login"


def _no_plaintext(target: Target, policy: Policy) -> None:
    if target.security == PLAIN and not policy.allow_plaintext:
        raise FetchError(
            "plaintext",
            "The password would cross the network unencrypted; choose TLS or STARTTLS.",
        )


@contextlib.contextmanager
def _opened(target: Target, policy: Policy) -> Iterator[socket.socket]:
    """A connected socket (TLS already, for implicit TLS) for the session's client object to
    take over in the `with` body; closed again if the body fails (greeting refused …)."""
    _no_plaintext(target, policy)
    sock = _connect(target, policy)
    with _translated(target):
        try:
            if target.security == TLS:
                ctx = _tls_context(target, policy)
                sock = ctx.wrap_socket(sock, server_hostname=target.host)
            yield sock
        except BaseException:
            sock.close()
            raise


def _close_file(client: object) -> None:
    """The reader a client made over its socket (a greeting that never came): the socket
    itself closes only once this is closed too."""
    file = getattr(client, "file", None)
    if file is not None:
        file.close()


# --- POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS) ----------------------------------------------


class _Pop3(poplib.POP3):
    def __init__(self, host: str, port: int, sock: socket.socket) -> None:
        self._given = sock
        try:
            super().__init__(host, port)
        except BaseException:
            _close_file(self)
            raise

    def _create_socket(self, timeout: object) -> socket.socket:
        return self._given


class Pop3Session:
    """A logged-in POP3 session. Deletions (DELE) take effect only at finish() (QUIT,
    RFC 1939 §6); abort() drops the connection, so the server deletes nothing."""

    uidvalidity = 0

    def __init__(self, target: Target, policy: Policy) -> None:
        self.target, self.policy = target, policy
        self.fingerprint = ""
        with _opened(target, policy) as sock:
            self.pop = _Pop3(target.host, target.port, sock)
        with _translated(target):
            try:
                self._start()
            except BaseException:
                self.abort()
                raise

    def _start(self) -> None:
        target = self.target
        if target.security == STARTTLS:
            try:
                caps = self.pop.capa()
            except poplib.error_proto:
                caps = {}
            if "STLS" not in caps:
                raise FetchError(
                    "tls",
                    f"{target.host} does not offer STLS on port {target.port}; "
                    "choose TLS (usually port 995).",
                )
            self.pop.stls(_tls_context(target, self.policy))
        if target.security != PLAIN:
            self.fingerprint = _fingerprint(self.pop.sock)
            _check_pin(target, self.fingerprint)
        try:
            self.pop.user(target.username)
            self.pop.pass_(target.password)
        except poplib.error_proto as exc:
            text = _server_text(exc)
            raise FetchError(
                _login_reason(text), f"{target.host} refused the login: {text}"
            ) from exc

    def listing(self) -> list[RemoteMessage]:
        with _translated(self.target):
            try:
                _, uidls, _ = self.pop.uidl()
            except poplib.error_proto as exc:
                raise FetchError(
                    "no_uidl",
                    f"{self.target.host} does not give messages stable ids (UIDL): "
                    f"{_server_text(exc)}. Use IMAP for this account.",
                ) from exc
            _, sizes, _ = self.pop.list()
        try:
            size_of = {int(line.split()[0]): int(line.split()[1]) for line in sizes}
            out: list[RemoteMessage] = []
            for line in uidls:
                num, uidl = line.decode("ascii").split()
                if len(uidl) > 70:
                    raise ValueError(uidl)
                out.append(RemoteMessage(uidl, size_of.get(int(num), 0), int(num)))
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise FetchError("protocol", f"{self.target.host} sent a bad LIST/UIDL line.") from exc
        return out

    def count(self) -> int:
        with _translated(self.target):
            return int(self.pop.stat()[0])

    def retrieve(self, msg: RemoteMessage) -> bytes:
        """RETR with the size cap enforced while reading (the announced size may lie)."""
        limit = self.policy.max_message_bytes
        with _translated(self.target):
            self.pop._putcmd(f"RETR {msg.ref}")  # type: ignore[attr-defined]
            self.pop._getresp()  # type: ignore[attr-defined]
            parts: list[bytes] = []
            total = 0
            while True:
                line = self.pop.file.readline(MAX_LINE + 1)
                if not line:
                    raise EOFError
                if len(line) > MAX_LINE:
                    raise FetchError("protocol", f"{self.target.host} sent an overlong line.")
                line = line.rstrip(b"\r\n")
                if line == b".":
                    break
                if line.startswith(b".."):
                    line = line[1:]  # RFC 1939 §3: dot-stuffing
                total += len(line) + 2
                if total > limit:
                    raise FetchError(
                        "protocol", f"{self.target.host} sent more than it announced for a message."
                    )
                parts.append(line)
        return b"".join(p + b"\r\n" for p in parts)

    def delete(self, msgs: list[RemoteMessage]) -> None:
        with _translated(self.target):
            for msg in msgs:
                self.pop.dele(msg.ref)

    def finish(self) -> None:
        """QUIT: the server deletes what was marked; an error here means nothing was."""
        with _translated(self.target):
            self.pop.quit()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.pop.close()


# --- IMAP (RFC 9051 / 3501; UIDPLUS RFC 4315) ---------------------------------------------------


class _Imap(imaplib.IMAP4):
    def __init__(self, host: str, port: int, sock: socket.socket, max_literal: int) -> None:
        self._given = sock
        self._max_literal = max_literal
        try:
            super().__init__(host, port)
        except BaseException:
            _close_file(self)
            raise

    def _create_socket(self, timeout: object) -> socket.socket:
        return self._given

    def read(self, size: int) -> bytes:
        # Literals are read whole by imaplib: refuse one larger than any message we take.
        if size > self._max_literal:
            raise FetchError("protocol", f"{self.host} sent a literal of {size} bytes.")
        return super().read(size)


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(u) for u in sorted(uids))


class ImapSession:
    """A logged-in IMAP session with INBOX selected (read-only unless `writable`)."""

    def __init__(self, target: Target, policy: Policy, *, writable: bool) -> None:
        self.target, self.policy = target, policy
        self.fingerprint = ""
        with _opened(target, policy) as sock:
            self.imap = _Imap(target.host, target.port, sock, policy.max_message_bytes + 4096)
        with _translated(target):
            try:
                self._start(writable)
            except BaseException:
                self.abort()
                raise

    def _start(self, writable: bool) -> None:
        target, imap = self.target, self.imap
        if target.security == STARTTLS:
            if "STARTTLS" not in imap.capabilities:
                raise FetchError(
                    "tls",
                    f"{target.host} does not offer STARTTLS on port {target.port}; "
                    "choose TLS (usually port 993).",
                )
            imap.starttls(_tls_context(target, self.policy))
        if target.security != PLAIN:
            self.fingerprint = _fingerprint(imap.sock)
            _check_pin(target, self.fingerprint)
        try:
            imap.login(target.username, target.password)
        except imaplib.IMAP4.error as exc:
            text = _server_text(exc)
            raise FetchError(
                _login_reason(text), f"{target.host} refused the login: {text}"
            ) from exc
        typ, data = imap.select("INBOX", readonly=not writable)
        if typ != "OK":
            raise FetchError("protocol", f"{target.host} cannot open INBOX: {data!r:.200}")
        _, values = imap.response("UIDVALIDITY")
        try:
            self.uidvalidity = int(values[0]) if values and values[0] else 0
        except (TypeError, ValueError):
            self.uidvalidity = 0
        if not self.uidvalidity:
            raise FetchError("protocol", f"{target.host} gave INBOX no UIDVALIDITY.")

    def _search(self, criteria: str) -> list[int]:
        with _translated(self.target):
            typ, data = self.imap.uid("SEARCH", criteria)
        if typ != "OK":
            raise FetchError("protocol", f"{self.target.host}: SEARCH failed: {data!r:.200}")
        return sorted({int(x) for chunk in data if chunk for x in chunk.split()})

    def new_since(self, last_uid: int) -> list[RemoteMessage]:
        """Messages with a UID above `last_uid`, with their sizes (RFC822.SIZE)."""
        uids = [u for u in self._search(f"UID {last_uid + 1}:*") if u > last_uid]
        if not uids:
            return []
        with _translated(self.target):
            typ, data = self.imap.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
        if typ != "OK":
            raise FetchError("protocol", f"{self.target.host}: FETCH failed: {data!r:.200}")
        sizes: dict[int, int] = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid = re.search(rb"UID (\d+)", line)
            size = re.search(rb"RFC822\.SIZE (\d+)", line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return [RemoteMessage(str(u), sizes.get(u, 0), u) for u in uids if u in sizes]

    def count(self) -> int:
        return len(self._search("ALL"))

    def present(self, uids: list[int]) -> list[int]:
        if not uids:
            return []
        return self._search(f"UID {_uid_set(uids)}")

    def retrieve(self, msg: RemoteMessage) -> bytes:
        with _translated(self.target):
            typ, data = self.imap.uid("FETCH", str(msg.ref), "(BODY.PEEK[])")
        if typ != "OK":
            raise FetchError("protocol", f"{self.target.host}: FETCH failed: {data!r:.200}")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                body = item[1]
                if len(body) > self.policy.max_message_bytes:
                    raise FetchError(
                        "protocol", f"{self.target.host} sent more than it announced for a message."
                    )
                return bytes(body)
        raise FetchError("gone", f"Message {msg.ref} is no longer on {self.target.host}.")

    def delete(self, uids: list[int]) -> None:
        """\\Deleted, then UID EXPUNGE of exactly those (UIDPLUS), else EXPUNGE."""
        if not uids:
            return
        with _translated(self.target):
            for i in range(0, len(uids), 500):
                chunk = _uid_set(uids[i : i + 500])
                typ, data = self.imap.uid("STORE", chunk, "+FLAGS.SILENT", r"(\Deleted)")
                if typ != "OK":
                    raise FetchError("protocol", f"{self.target.host}: STORE failed: {data!r:.200}")
                if "UIDPLUS" in self.imap.capabilities:
                    typ, data = self.imap.uid("EXPUNGE", chunk)
                else:
                    typ, data = self.imap.expunge()
                if typ != "OK":
                    raise FetchError(
                        "protocol", f"{self.target.host}: EXPUNGE failed: {data!r:.200}"
                    )

    def finish(self) -> None:
        with _translated(self.target):
            self.imap.logout()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.imap.shutdown()


def open_session(target: Target, policy: Policy, *, writable: bool) -> Pop3Session | ImapSession:
    if target.protocol == POP3:
        return Pop3Session(target, policy)
    return ImapSession(target, policy, writable=writable)
