"""`python -m mailcore.imap`: run the IMAP listeners in the foreground."""

from mailcore.runtime import bootstrap


def main() -> None:
    bootstrap()
    from mailcore.imap.server import ImapServer, config_from_settings

    config = config_from_settings()
    server = ImapServer(config)
    for name, listen in (("STARTTLS", config.imap), ("implicit TLS", config.imaps)):
        if listen.enabled:
            print(f"imap: IMAP ({name}) listening on {listen}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
