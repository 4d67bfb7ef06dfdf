"""Typed readers for the environment: every setting of Mailroom comes from here.

Reads `.env` (if present, never overriding the real environment) once at import. Holds no
Django imports, so protocol servers and settings can both use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv(path: Path) -> None:
    """Minimal `.env` reader: KEY=VALUE lines, '#' comments, optional quotes."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        os.environ.setdefault(key, value)


_load_dotenv(Path(os.environ.get("MAILROOM_ENV_FILE", BASE_DIR / ".env")))


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.replace("_", ""))
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else (BASE_DIR / path)


@dataclass(frozen=True, slots=True)
class Listen:
    """A bind address:port of one listener; an empty host disables it (port 0 = any free port)."""

    host: str
    port: int

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def env_listen(name: str, default: str) -> Listen:
    raw = env_str(name, default).strip()
    if raw in {"", "0", "off", "disabled"}:
        return Listen("", 0)
    host, sep, port = raw.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", raw
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - an explicit ':port' means all interfaces
    try:
        return Listen(host, int(port))
    except ValueError as exc:
        raise ValueError(f"{name} must look like HOST:PORT, got {raw!r}") from exc


VAR_DIR = env_path("MAILROOM_VAR", BASE_DIR / "var")
