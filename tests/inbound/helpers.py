"""Building, queueing and delivering test messages for tests/inbound."""

from __future__ import annotations

from mailcore.delivery.actions import do_process_entry
from mailcore.delivery.entries import do_enqueue
from mailcore.delivery.models import QueueEntry
from mailcore.store.models import Message
from mailcore.store.queries import read_message_bytes
from tests.inbound.conftest import SENDER, SENDER_IP


def mail(
    frm: str = f"News <news@{SENDER}>", subject: str = "Weekly news", body: str = "Hello there."
) -> bytes:
    return (
        f"From: {frm}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((frm, subject, body)))}@{SENDER}>\r\n"
        "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def deliver(
    data: bytes, *, ip: str = SENDER_IP, sender: str = f"news@{SENDER}", helo: str = "mx.sender"
) -> tuple[QueueEntry, Message, bytes]:
    """Queue `data` as if it came in over SMTP from `ip`, run one attempt; the entry, the
    stored message (the newest) and its bytes."""
    entry = do_enqueue(
        sender=sender,
        recipients=["alice@example.com"],
        data=data,
        client_ip=ip,
        client_helo=helo,
    )
    assert do_process_entry(entry.pk) == "done"
    entry.refresh_from_db()
    message = Message.objects.select_related("folder").order_by("-pk")[0]
    return entry, message, read_message_bytes(message)
