"""Periodic directory maintenance (Celery beat): the audit log's and the login history's
retention."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from mailcore.directory.actions import (
    do_purge_audit_log,
    do_purge_login_history,
    do_record_audit,
)


@shared_task(name="mailcore.purge_audit_log", ignore_result=True)
def purge_audit_log() -> int:
    days = settings.AUDIT_LOG_RETENTION_DAYS
    removed = do_purge_audit_log(days)
    if removed:  # the purge itself stays on record, as one made from the shell does
        do_record_audit(
            actor="system:retention",
            action="audit.purge",
            target="*",
            detail={"days": days, "removed": removed},
        )
    return removed


@shared_task(name="mailcore.purge_login_history", ignore_result=True)
def purge_login_history() -> int:
    return do_purge_login_history()
