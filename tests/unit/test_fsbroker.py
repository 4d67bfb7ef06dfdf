"""The embedded default's broker (webmail/fsbroker.py): kombu's filesystem transport, where a
worker must never see half a message nor die of one. Real files, real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

TRANSPORT = "webmail.fsbroker:Transport"
ROOT = Path(__file__).resolve().parents[2]


def options(base: Path) -> dict[str, Any]:
    for sub in ("queue", "processed", "control"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(base / "queue"),
        "data_folder_out": str(base / "queue"),
        "processed_folder": str(base / "processed"),
        "control_folder": str(base / "control"),
        "store_processed": False,
    }


def test_a_damaged_file_is_dropped_and_the_next_message_still_comes(tmp_path: Path) -> None:
    """What a reader of kombu's own writer could find: a message file created, not yet
    written. It is dropped (the worker lives on); a temporary file being written is left."""
    opts = options(tmp_path)
    queue = tmp_path / "queue"
    with Connection("filesystem://", transport=TRANSPORT, transport_options=opts) as conn:
        q = conn.SimpleQueue("t")
        (queue / "1_half.t.msg").write_bytes(b"")
        (queue / "2_torn.t.msg").write_bytes(b'{"body": "ab')
        (queue / ".4_being-written.t.msg.tmp").write_bytes(b'{"bo')
        q.put({"n": 1})
        message = q.get(timeout=1)
        assert message.payload == {"n": 1}
        message.ack()
        with pytest.raises(q.Empty):
            q.get(timeout=0.2)
    assert sorted(p.name for p in queue.iterdir()) == [".4_being-written.t.msg.tmp"]


PRODUCER = """
import sys
from kombu import Connection
opts = dict(data_folder_in=sys.argv[1], data_folder_out=sys.argv[1], control_folder=sys.argv[2])
transport = "webmail.fsbroker:Transport"
with Connection("filesystem://", transport=transport, transport_options=opts) as c:
    q = c.SimpleQueue("t")
    for i in range(int(sys.argv[3])):
        q.put({"n": i, "pad": "x" * 20000})
"""


def test_two_writer_processes_and_a_reader_lose_nothing(tmp_path: Path) -> None:
    """Bounded: 2 × 1,000 messages of 20 KB. Kombu's own writer showed a reader an empty file
    about once in 3,000 messages here; every message must arrive whole."""
    opts = options(tmp_path)
    per_writer = 1000
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                PRODUCER,
                opts["data_folder_in"],
                opts["control_folder"],
                str(per_writer),
            ],
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    try:
        with Connection("filesystem://", transport=TRANSPORT, transport_options=opts) as conn:
            q = conn.SimpleQueue("t")
            deadline = time.monotonic() + 120
            count = 0
            while count < 2 * per_writer and time.monotonic() < deadline:
                try:
                    message = q.get(timeout=0.01)
                except q.Empty:
                    continue
                assert len(message.payload["pad"]) == 20000
                message.ack()
                count += 1
    finally:
        for w in writers:
            w.wait(timeout=60)
    assert count == 2 * per_writer
    assert all(w.returncode == 0 for w in writers)
