"""Named crash points for fault-injection tests: with MAILROOM_FAULT=<name> set, the process
dies at that point as if killed (os._exit); with MAILROOM_FAULT=<name>:hang it stops there
for good instead (its other threads run on), so a test can kill it from outside with SIGKILL
while it is in the middle of the work. <name>@<n> (e.g. deliver.after_file@3:hang) acts only
the n-th time the point is reached in this process: a worker does some work first."""

from __future__ import annotations

import os
import threading

_ACTIVE = os.environ.get("MAILROOM_FAULT", "")
_POINT, _, _MODE = _ACTIVE.partition(":")
_NAME, _, _NTH = _POINT.partition("@")
_passes = 0
_lock = threading.Lock()


def fault_point(name: str) -> None:
    global _passes
    if not _NAME or name != _NAME:
        return
    if _NTH:
        with _lock:
            _passes += 1
            if _passes != int(_NTH):
                return
    if _MODE == "hang":
        threading.Event().wait()
    os._exit(137)
