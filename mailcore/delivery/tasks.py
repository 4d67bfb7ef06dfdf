"""Celery tasks: thin wrappers that load by id and call an action. Retries are not Celery's
job here: the queue row's next_attempt_at and the periodic sweep are the retry schedule."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from mailcore.delivery.actions import do_process_entry, do_sweep


@shared_task(bind=True, name="mailcore.deliver_entry", acks_late=True, ignore_result=True)
def deliver_entry(self: Any, entry_id: int) -> str:
    return do_process_entry(int(entry_id), worker=str(self.request.hostname or ""))


@shared_task(name="mailcore.sweep_queue", ignore_result=True)
def sweep_queue() -> dict[str, int]:
    return do_sweep()
