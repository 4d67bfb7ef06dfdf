"""Celery task for "apply to existing mail": thin, loads the job and calls the action."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections


@shared_task(name="mailcore.apply_rules_to_folder", acks_late=True, ignore_result=True)
def apply_rules_to_folder(job_id: int) -> str:
    from mailcore.rules.existing import do_apply_rules

    close_old_connections()
    return do_apply_rules(int(job_id))
