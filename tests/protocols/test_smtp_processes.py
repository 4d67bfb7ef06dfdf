"""Several SMTP processes on one port (SMTP_PROCESSES): every listener is bound with
SO_REUSEPORT, the kernel spreads connections over them, each one accepts and queues mail, and
the connection caps are shared out so that all together never hold more than configured."""

from __future__ import annotations

import dataclasses
import smtplib

import pytest

from mailcore.config import Listen
from mailcore.delivery.models import QueueEntry
from mailcore.management.commands.runall import smtp_children
from mailcore.smtp.server import SmtpServer, config_from_settings, per_process

MSG = b"From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.django_db(transaction=True)
def test_two_smtp_servers_on_one_port_both_accept(alice, settings) -> None:
    base = dataclasses.replace(
        config_from_settings(),
        submission=Listen("", 0),
        smtps=Listen("", 0),
        reuse_port=True,
        cleanup_process=False,
    )
    first = SmtpServer(dataclasses.replace(base, hostname="one.test", mx=Listen("127.0.0.1", 0)))
    first.start()
    port = first.ports["mx"]
    second = SmtpServer(
        dataclasses.replace(base, hostname="two.test", mx=Listen("127.0.0.1", port))
    )
    try:
        second.start()
        assert second.ports["mx"] == port
        served: dict[str, int] = {}
        for _ in range(40):  # the kernel hashes each connection's source port to one of them
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                _, banner = client.ehlo()
                name = banner.decode().split()[0]
                client.sendmail("bob@remote.example", ["alice@example.com"], MSG)
            served[name] = served.get(name, 0) + 1
            if len(served) == 2 and min(served.values()) >= 2:
                break
        assert set(served) == {"one.test", "two.test"}, served
        # Every 250 stands for a committed queue row, whichever process gave it.
        assert QueueEntry.objects.count() == sum(served.values())
    finally:
        second.stop()
        first.stop()


def test_without_reuse_port_a_second_bind_fails(transactional_db: None) -> None:
    base = dataclasses.replace(
        config_from_settings(),
        submission=Listen("", 0),
        smtps=Listen("", 0),
        reuse_port=False,
        cleanup_process=False,
    )
    first = SmtpServer(dataclasses.replace(base, mx=Listen("127.0.0.1", 0)))
    first.start()
    try:
        second = SmtpServer(dataclasses.replace(base, mx=Listen("127.0.0.1", first.ports["mx"])))
        with pytest.raises(OSError):
            second.start()
    finally:
        first.stop()


def test_runall_starts_one_child_per_smtp_process_and_shares_the_caps(settings) -> None:
    names = [c.name for c in smtp_children("python", 3)]
    assert names == ["smtp", "smtp-2", "smtp-3"]
    assert [c.name for c in smtp_children("python", 0)] == ["smtp"]
    assert (per_process(500, 2), per_process(50, 3), per_process(1, 4)) == (250, 16, 1)
    settings.SMTP_PROCESSES = 2
    settings.SMTP_MAX_CONNECTIONS_PER_IP = 50
    cfg = config_from_settings()
    assert cfg.reuse_port and cfg.max_connections_per_ip == 25
