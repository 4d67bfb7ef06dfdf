"""IMAP metadata rows (MessageMeta): built from message bytes by mailcore.mime.imapmeta at
every store path that creates a message (do_deliver, do_deliver_many, import, reindex), and
filled for rows that predate it (or an older imapmeta.VERSION) by `fill_imap_meta`, which
`manage.py reindex --imap-meta` and `get_imap_meta` call.

Like Dovecot's index cache, a missing row is a cache miss, never an error: `get_imap_meta`
reads the file once, stores the row and answers. Writes only MessageMeta rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from django.db import IntegrityError, transaction

from mailcore.errors import StorageError
from mailcore.mime import ParsedMessage, imapmeta
from mailcore.store.models import Message, MessageMeta
from mailcore.store.queries import read_message_bytes

log = logging.getLogger(__name__)
FILL_BATCH = 200


def meta_row(
    data: bytes, parsed: ParsedMessage | None = None, *, crlf: bool = False
) -> MessageMeta:
    """An unsaved MessageMeta for message bytes (set .message before saving). `parsed`: the
    parse of `data`, or of the message a delivery's copy `data` was made of, if the caller
    has it (imapmeta.compute then reads its structure instead of parsing `data` again).
    `crlf`: `data` is in CRLF form already (see imapmeta.compute)."""
    meta = imapmeta.compute(data, parsed=parsed, crlf=crlf)
    return MessageMeta(
        version=imapmeta.VERSION,
        envelope=meta.envelope,
        bodystructure=meta.bodystructure,
        envelope_imap=meta.envelope_imap,
        bodystructure_imap=meta.bodystructure_imap,
        header_fields=meta.header_fields,
        header_fields_complete=meta.header_fields_complete,
        header_size=meta.header_size,
        body_size=meta.body_size,
        body_lines=meta.body_lines,
    )


def get_imap_meta(messages: Sequence[Message]) -> dict[int, MessageMeta]:
    """MessageMeta by message pk for `messages` (rows with .folder and .account loaded, as
    access_messages gives them): one query, plus one file read for each message without a
    current row (stored for next time). A message whose file is gone is left out: the
    caller answers from the file path and gets its error there."""
    ids = [m.pk for m in messages]
    found = {
        meta.message_id: meta
        for meta in MessageMeta.objects.filter(message_id__in=ids, version=imapmeta.VERSION)
    }
    missing = [m for m in messages if m.pk not in found]
    if missing:
        found.update(_fill(missing))
    return found


def fill_imap_meta(
    messages: Sequence[Message], *, progress: Callable[[int], None] | None = None
) -> int:
    """Compute and store the metadata of `messages` that have no current row (reindex
    --imap-meta). Returns how many rows were written."""
    done = 0
    for start in range(0, len(messages), FILL_BATCH):
        batch = messages[start : start + FILL_BATCH]
        have = set(
            MessageMeta.objects.filter(
                message_id__in=[m.pk for m in batch], version=imapmeta.VERSION
            ).values_list("message_id", flat=True)
        )
        done += len(_fill([m for m in batch if m.pk not in have]))
        if progress:
            progress(len(batch))
    return done


def _fill(messages: Sequence[Message]) -> dict[int, MessageMeta]:
    rows: dict[int, MessageMeta] = {}
    for message in messages:
        try:
            data = read_message_bytes(message)
        except StorageError:
            log.warning("message %s: no file to compute IMAP metadata from", message.pk)
            continue
        row = meta_row(data)
        row.message = message
        rows[message.pk] = row
    if not rows:
        return rows
    try:
        with transaction.atomic():
            # Replace older versions; a row written meanwhile by another reader is equal.
            MessageMeta.objects.filter(message_id__in=list(rows)).delete()
            MessageMeta.objects.bulk_create(list(rows.values()))
    except IntegrityError:
        # The message was expunged meanwhile (its row is gone): nothing to keep.
        log.info("IMAP metadata not stored: a message went meanwhile", exc_info=True)
    return rows
