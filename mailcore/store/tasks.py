"""Periodic store maintenance (Celery beat)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from mailcore.store import history
from mailcore.store.actions import do_clean_maildir_tmp


@shared_task(name="mailcore.clean_maildir_tmp", ignore_result=True)
def clean_maildir_tmp() -> int:
    return do_clean_maildir_tmp(settings.MAILDIR_TMP_MAX_AGE_SECONDS)


@shared_task(name="mailcore.purge_tombstones", ignore_result=True)
def purge_tombstones() -> int:
    """Drop change history older than CHANGES_HISTORY_DAYS (hourly: the window slides)."""
    return history.purge_tombstones(timedelta(days=settings.CHANGES_HISTORY_DAYS))
