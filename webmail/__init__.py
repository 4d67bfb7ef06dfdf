"""Mailroom's Django project: settings, URLs, the Celery app and the REST API."""

from webmail.celery import app as celery_app

__all__ = ["celery_app"]
