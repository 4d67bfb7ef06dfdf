"""Kombu's filesystem transport (the embedded default's broker), made safe for a worker that
polls it while the web and SMTP processes ring the bell.

Kombu 5.7 creates each message file under its final name and then writes it. A worker polling
every 0.1 s can move and read the file in between, get an empty payload, and die:
"Unrecoverable error: JSONDecodeError" - after which no mail is delivered until the worker is
restarted (the queue rows stay safe in the database, but nothing works them). Seen in the
browser tests on the embedded default.

Here a message is written under a hidden temporary name and renamed into place, atomic on one
file system (Maildir's own trick), so a reader sees a whole message or none. A file that still
does not decode (written by another writer, or damaged) is logged and dropped instead of
killing the worker: the broker is only a doorbell, and the beat sweep re-dispatches every due
queue entry from the database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

log = logging.getLogger("mailroom")

MAX_BAD_FILES_PER_POLL = 100  # bounded: each bad file is moved out of the queue as it is read


class Channel(filesystem.Channel):
    # kombu names this parameter `payload` here and `message` in AbstractChannel; its stubs
    # copy both, so no name satisfies both supertypes (kombu passes it by position).
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put `payload` onto `queue`: written whole, then renamed into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot and a .tmp suffix: _get only takes names ending in ".<queue>.msg".
        temp = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(temp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(temp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The next message of `queue`; a file that is not a whole message is dropped.
        (`timeout` is the base channel's signature; the filesystem poll does not wait.)"""
        for _ in range(MAX_BAD_FILES_PER_POLL):
            try:
                return super()._get(queue)
            except ValueError as exc:  # JSONDecodeError: the file was already taken out
                log.warning("broker: dropped a message file that does not decode: %s", exc)
        return super()._get(queue)


class Transport(filesystem.Transport):
    Channel = Channel
