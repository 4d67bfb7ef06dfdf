"""App config of the REST API. No models live here: the API only calls mailcore."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webmail.api"
    label = "api"
    verbose_name = "Mailroom REST API"
