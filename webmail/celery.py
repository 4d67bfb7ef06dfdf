"""The Celery app. Redis (or the filesystem transport) only rings the bell: the queue of record
is the database, and a periodic sweep re-dispatches anything the broker lost."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")

app = Celery("mailroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    result_serializer="json",
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    # A publish must never hold an SMTP reply for long: the row is committed already and the
    # sweep will find it, so give up quickly when the broker is down.
    task_publish_retry=True,
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    task_default_queue="mailroom",
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks(
    [
        "mailcore.delivery",
        "mailcore.directory",
        "mailcore.store",
        "mailcore.fetching",
        "mailcore.rules",
        "mailcore.outbox",
        "mailcore.mtasts",
        "webmail.compose",
    ]
)


@app.on_after_finalize.connect
def _schedule(sender: Celery, **_: object) -> None:
    from django.conf import settings

    from mailcore.delivery.tasks import dispatch_due_untried, sweep_queue
    from mailcore.directory.tasks import purge_audit_log, purge_login_history
    from mailcore.store.tasks import clean_maildir_tmp, purge_tombstones

    sender.add_periodic_task(settings.QUEUE_SWEEP_SECONDS, sweep_queue.s(), name="queue sweep")
    sender.add_periodic_task(
        settings.OUTBOX_DUE_SCAN_SECONDS, dispatch_due_untried.s(), name="scheduled sends"
    )
    sender.add_periodic_task(3600.0, clean_maildir_tmp.s(), name="maildir tmp cleanup")
    sender.add_periodic_task(3600.0, purge_tombstones.s(), name="change history purge")
    sender.add_periodic_task(24 * 3600.0, purge_audit_log.s(), name="audit log purge")
    sender.add_periodic_task(24 * 3600.0, purge_login_history.s(), name="login history purge")
    from webmail.compose.tasks import cleanup_uploads_task

    sender.add_periodic_task(3600.0, cleanup_uploads_task.s(), name="upload cleanup")
    from mailcore.outbox.tasks import cleanup_large_files_task

    sender.add_periodic_task(3600.0, cleanup_large_files_task.s(), name="large file cleanup")
    from mailcore.mtasts.tasks import send_tls_reports

    # Yesterday's TLS reports (RFC 8460), once each: a run that finds them queued does nothing.
    sender.add_periodic_task(6 * 3600.0, send_tls_reports.s(), name="TLS reports")
    from mailcore.fetching.tasks import fetch_due

    sender.add_periodic_task(settings.FETCH_SWEEP_SECONDS, fetch_due.s(), name="external fetch")
