"""Named crash points for fault-injection tests: with MAILROOM_FAULT=<name> set, the process
dies at that point as if killed (os._exit), so tests can prove a crash loses nothing."""

from __future__ import annotations

import os

_ACTIVE = os.environ.get("MAILROOM_FAULT", "")


def fault_point(name: str) -> None:
    if _ACTIVE and name == _ACTIVE:
        os._exit(137)
