"""App config of compose: uploaded attachments and the link from sent messages to the queue."""

from __future__ import annotations

from django.apps import AppConfig


class ComposeConfig(AppConfig):
    name = "webmail.compose"
    label = "compose"
    verbose_name = "Mailroom compose"
