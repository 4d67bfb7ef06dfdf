"""App config of the REST API. No models live here: the API only calls mailcore."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "webmail.api"
    label = "api"
    verbose_name = "Mailroom REST API"

    def ready(self) -> None:
        from django.conf import settings

        from webmail.api.clientip import parse_trusted_proxies

        # A typo in TRUSTED_PROXIES fails at startup, not on the first request.
        parse_trusted_proxies(settings.TRUSTED_PROXIES)
