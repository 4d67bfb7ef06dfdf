"""Processes that start together with no certificate configured (a harness starting SMTP, IMAP
and POP3 at once) make one self-signed pair between them: every one of them loads a key that
matches its certificate (before the lock, one could end with another's key: KEY_VALUES_MISMATCH
at start, found by the scale-out test)."""

from __future__ import annotations

import multiprocessing
import ssl
from pathlib import Path

from mailcore.tls import ensure_self_signed


def _make(args: tuple[str, object]) -> tuple[bool, str]:
    where, barrier = args
    base = Path(where)
    barrier.wait()  # type: ignore[attr-defined]
    created = ensure_self_signed(base / "tls" / "cert.pem", base / "tls" / "key.pem", "mx.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(base / "tls" / "cert.pem", base / "tls" / "key.pem")
    return created, (base / "tls" / "cert.pem").read_text()


def test_processes_starting_together_make_one_matching_pair(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager:
        barrier = manager.Barrier(6)
        with spawn.Pool(6) as pool:
            results = pool.map(_make, [(str(tmp_path), barrier)] * 6)
    assert sum(created for created, _ in results) == 1
    assert len({cert for _, cert in results}) == 1
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "tls").glob(".*.tmp"))
