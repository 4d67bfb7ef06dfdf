"""Periodic store maintenance (Celery beat)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from mailcore.store.actions import do_clean_maildir_tmp


@shared_task(name="mailcore.clean_maildir_tmp", ignore_result=True)
def clean_maildir_tmp() -> int:
    return do_clean_maildir_tmp(settings.MAILDIR_TMP_MAX_AGE_SECONDS)
