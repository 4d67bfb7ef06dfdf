"""The doorbell rings what it is connected to: the delivery app connects the deliver_entries
task at startup, so the bell itself never imports the tasks (the layers read one way)."""

from __future__ import annotations

import logging
import time

import pytest

from mailcore.delivery.doorbell import MIN_INTERVAL_SECONDS, Doorbell


def test_batches_go_to_what_the_bell_is_connected_to() -> None:
    bell = Doorbell()
    batches: list[list[int]] = []
    bell.connect(batches.append)
    for entry_id in (1, 2, 3):
        bell.ring(entry_id)
    assert bell.flush()
    assert sorted(i for batch in batches for i in batch) == [1, 2, 3]


def test_an_unconnected_bell_leaves_the_entries_to_the_sweep(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = Doorbell()
    with caplog.at_level(logging.WARNING, logger="mailroom"):
        bell.ring(7)
        assert bell.flush()
    assert "wait for the sweep" in caplog.text


def test_at_most_one_publish_per_interval_under_load() -> None:
    """A stream of notices is carried by one publish per MIN_INTERVAL_SECONDS (the first at
    once), every id in one of them."""
    bell = Doorbell()
    batches: list[list[int]] = []
    bell.connect(batches.append)
    spell = 3 * MIN_INTERVAL_SECONDS
    started = time.monotonic()
    rung = 0
    while time.monotonic() - started < spell:
        rung += 1
        bell.ring(rung)
        time.sleep(0.002)
    assert bell.flush()
    assert sorted(i for batch in batches for i in batch) == list(range(1, rung + 1))
    # One at once, then one per interval (a busy machine may stretch the spell a little).
    assert len(batches) <= 2 + (time.monotonic() - started) / MIN_INTERVAL_SECONDS
