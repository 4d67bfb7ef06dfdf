"""Periodic clean-up of attachments uploaded for messages that were never sent."""

from __future__ import annotations

from celery import shared_task

from webmail.compose.actions import cleanup_uploads


@shared_task(name="webmail.cleanup_uploads", ignore_result=True)
def cleanup_uploads_task() -> int:
    return cleanup_uploads()
