"""bootstrap(): Django set-up for the standalone processes (SMTP, IMAP, POP3)."""

import os


def bootstrap() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
