"""Celery tasks of fetching: thin wrappers around the actions. The beat task queues every due
account; each run is its own task (the row's lease keeps it to one run at a time)."""

from __future__ import annotations

from celery import shared_task

from mailcore.fetching.actions import do_dispatch_due, do_fetch


@shared_task(name="mailcore.fetch_external", acks_late=True, ignore_result=True)
def fetch_external(external_id: int) -> dict[str, object]:
    run = do_fetch(int(external_id))
    return {
        "ran": run.ran,
        "fetched": run.fetched,
        "deleted": run.deleted,
        "error": run.error.reason if run.error else "",
    }


@shared_task(name="mailcore.fetch_due", ignore_result=True)
def fetch_due() -> int:
    return do_dispatch_due()
