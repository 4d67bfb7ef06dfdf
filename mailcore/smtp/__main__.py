"""`python -m mailcore.smtp`: run the SMTP listeners in the foreground."""

from mailcore.runtime import bootstrap


def main() -> None:
    bootstrap()
    from mailcore.smtp.server import SmtpServer, config_from_settings

    config = config_from_settings()
    server = SmtpServer(config)
    print(f"smtp: MX listening on {config.mx}", flush=True)
    for name, listen in (
        ("submission (STARTTLS)", config.submission),
        ("submission (implicit TLS)", config.smtps),
    ):
        if listen.enabled:
            print(f"smtp: {name} listening on {listen}", flush=True)
    _warn_unrouted_role_addresses()
    from mailcore.delivery.workers import settle_heap

    # Start-up's objects into the collector's permanent generation (sessions leave no
    # cycles: MailroomSMTP._session_done), as the delivery workers do.
    settle_heap()
    server.serve_forever()


def _warn_unrouted_role_addresses() -> None:
    """postmaster@ is accepted whatever happens (RFC 5321 §4.5.1): say loudly at startup when
    it, or abuse@, reaches nobody. A database not up yet only skips the check."""
    import logging

    from django.db import DatabaseError

    from mailcore.directory.queries import role_address_warnings

    try:
        warnings = role_address_warnings()
    except DatabaseError:
        return
    for warning in warnings:
        logging.getLogger("mailroom").warning("smtp: %s", warning)


if __name__ == "__main__":
    main()
