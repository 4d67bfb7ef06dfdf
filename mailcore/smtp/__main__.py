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
    server.serve_forever()


if __name__ == "__main__":
    main()
