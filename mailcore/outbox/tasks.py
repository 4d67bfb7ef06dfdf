"""Periodic work of the outbox: large files that expired, were abandoned or never sent."""

from __future__ import annotations

from celery import shared_task

from mailcore.outbox.largefiles import cleanup_large_files


@shared_task(name="mailcore.cleanup_large_files", ignore_result=True)
def cleanup_large_files_task() -> dict[str, int]:
    return cleanup_large_files()
