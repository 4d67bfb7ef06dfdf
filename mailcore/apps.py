"""The mailcore app: management commands; installs the Korean charset fix at start."""

from django.apps import AppConfig


class MailcoreConfig(AppConfig):
    name = "mailcore"
    label = "mailcore"
    verbose_name = "Mailroom core"

    def ready(self) -> None:
        from mailcore.mime import charsets

        charsets.install()
