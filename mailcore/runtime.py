"""bootstrap(): Django set-up for the standalone processes (SMTP, IMAP, POP3), and the start-up
check of secrets and mail in production mode (mailcore.privileges)."""

import os
import sys


def bootstrap(*, check: bool = True) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmail.settings")
    import django

    django.setup()
    if check:
        from mailcore import privileges

        try:
            privileges.check_settings(os.path.basename(sys.argv[0]) or "mailroom")
        except privileges.PrivilegeError as exc:
            refuse(exc)


def refuse(exc: BaseException) -> None:
    """End the process with the reason on stderr and EX_CONFIG (78), no traceback."""
    print(exc, file=sys.stderr, flush=True)
    sys.exit(78)
