"""`python -m mailcore.imap`: run the IMAP listeners in the foreground, in one process or, with
IMAP_PROCESSES above 1 (0, the default, is one per CPU), in a parent that binds the listeners
and supervises that many forked workers (mailcore.imap.workers)."""

import logging
import socket

from mailcore.runtime import bootstrap

log = logging.getLogger("mailroom.imap")


def _clear(caps: object) -> None:
    try:
        caps.clear()  # type: ignore[attr-defined]
    except Exception:
        log.warning("IMAP: clearing the shared connection counts failed", exc_info=True)


def main() -> None:
    bootstrap()
    from django.conf import settings

    from mailcore.imap import workers
    from mailcore.imap.server import ImapServer, config_from_settings

    config = config_from_settings()
    count = workers.process_count(settings.IMAP_PROCESSES)
    listens = (("imap", "STARTTLS", config.imap), ("imaps", "implicit TLS", config.imaps))
    if count <= 1:
        for _, name, listen in listens:
            if listen.enabled:
                print(f"imap: IMAP ({name}) listening on {listen}", flush=True)
        ImapServer(config).serve_forever()
        return
    sockets = {
        key: workers.bind(listen, backlog=None) for key, _, listen in listens if listen.enabled
    }
    for key, name, _ in listens:
        if key in sockets:
            host, port = sockets[key].getsockname()[:2]
            print(f"imap: IMAP ({name}) listening on {host}:{port}", flush=True)
    # The parent binds a fresh socket on these ports for each worker it (re)starts: it keeps
    # CAP_NET_BIND_SERVICE alone; each worker drops that too in ImapServer.serve_forever.
    from mailcore import privileges, runtime

    try:
        privileges.drop(keep_bind=True, what="imap")
    except privileges.PrivilegeError as exc:
        runtime.refuse(exc)
    url = settings.REDIS_URL
    prefix = workers.caps_prefix([config.imap, config.imaps])
    print(
        f"imap: {count} worker processes; connection caps "
        + ("shared through Redis" if url else "per worker (no REDIS_URL)"),
        flush=True,
    )
    parent = workers.SharedCaps(url, prefix, -1) if url else None

    def work(worker: int, inherited: dict[str, socket.socket]) -> None:
        caps = workers.SharedCaps(url, prefix, worker) if url else None
        server = ImapServer(config, caps=caps)
        server.inherited = inherited
        server.serve_forever()

    if parent is not None:
        _clear(parent)
    try:
        workers.Prefork(count, sockets, work, forget=parent.forget_worker if parent else None).run()
    finally:
        if parent is not None:
            _clear(parent)
            parent.close()


if __name__ == "__main__":
    main()
