"""Named crash points for fault-injection tests: with MAILROOM_FAULT=<name> set, the process
dies at that point as if killed (os._exit); with MAILROOM_FAULT=<name>:hang it stops there
for good instead (its other threads run on), so a test can kill it from outside with SIGKILL
while it is in the middle of the work."""

from __future__ import annotations

import os
import threading

_ACTIVE = os.environ.get("MAILROOM_FAULT", "")
_NAME, _, _MODE = _ACTIVE.partition(":")


def fault_point(name: str) -> None:
    if _NAME and name == _NAME:
        if _MODE == "hang":
            threading.Event().wait()
        os._exit(137)
