"""The doorbell rings what it is connected to: the delivery app connects the deliver_entries
task at startup, so the bell itself never imports the tasks (the layers read one way)."""

from __future__ import annotations

import logging

import pytest

from mailcore.delivery.doorbell import Doorbell


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
