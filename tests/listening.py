"""What the IMAP and POP3 test servers share: a client TLS context that accepts the test
certificate, and a server config moved onto free loopback ports with per-test overrides."""

from __future__ import annotations

import dataclasses
import ssl
from typing import Any, TypeVar

from mailcore.config import Listen

C = TypeVar("C")


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    return ctx


def on_free_ports(base: C, listeners: tuple[str, ...], **overrides: object) -> C:
    """`base` (a server config with a `session` config) with every listener in `listeners` on
    127.0.0.1 port 0; each override goes to the session config or the server config,
    whichever has a field of that name."""
    session: Any = getattr(base, "session")  # noqa: B009
    session_names = {f.name for f in dataclasses.fields(session)}
    base_names = {f.name for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    session = dataclasses.replace(
        session, **{k: v for k, v in overrides.items() if k in session_names}
    )
    rest = {k: v for k, v in overrides.items() if k in base_names}
    free = {name: Listen("127.0.0.1", 0) for name in listeners}
    return dataclasses.replace(base, session=session, **free, **rest)  # type: ignore[type-var]
