"""`python -m mailcore.pop3`: run the POP3 listeners in the foreground."""

from mailcore.runtime import bootstrap


def main() -> None:
    bootstrap()
    from mailcore.pop3.server import Pop3Server, config_from_settings

    config = config_from_settings()
    server = Pop3Server(config)
    for name, listen in (("STLS", config.pop3), ("implicit TLS", config.pop3s)):
        if listen.enabled:
            print(f"pop3: POP3 ({name}) listening on {listen}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
