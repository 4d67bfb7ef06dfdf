"""Celery tasks: thin wrappers that load by id and call an action. Retries are not Celery's
job here: the queue row's next_attempt_at and the periodic sweep are the retry schedule."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from mailcore.delivery.actions import do_process_entries, do_sweep


@shared_task(bind=True, name="mailcore.deliver_entries", acks_late=True, ignore_result=True)
def deliver_entries(self: Any, entry_ids: list[int]) -> dict[int, str]:
    ids = [int(i) for i in entry_ids][:100]
    return do_process_entries(ids, worker=str(self.request.hostname or ""))


@shared_task(name="mailcore.sweep_queue", ignore_result=True)
def sweep_queue() -> dict[str, int]:
    return do_sweep()
