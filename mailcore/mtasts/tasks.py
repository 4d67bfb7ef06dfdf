"""Celery beat: our TLS reports of the previous UTC day (mailcore.mtasts.sending)."""

from __future__ import annotations

from celery import shared_task

from mailcore.mtasts.sending import do_send_reports


@shared_task(name="mailcore.send_tls_reports", ignore_result=True)
def send_tls_reports() -> int:
    return do_send_reports()
