from django.apps import AppConfig


class Pop3Config(AppConfig):
    name = "mailcore.pop3"
    label = "pop3"
    verbose_name = "POP3 settings"
