"""Adds the has:attachment key (mailcore.search.text.ATTACHMENT_KEY) to the index entries of
messages with attachments stored before it existed, BATCH message ids per transaction so
delivery goes on between them. Idempotent: an entry that has the key already is left alone.
On SQLite the update trigger feeds the old keys back to FTS5 and the new ones in."""

from django.db import migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from mailcore.search.fields import key_hash
from mailcore.search.text import ATTACHMENT_KEY

BATCH = 5000

PG_UPDATE = (
    "UPDATE store_messagesearch s SET keys = s.keys || %s::integer[] FROM store_message m"
    " WHERE m.id = s.message_id AND m.has_attachments AND s.message_id >= %s"
    " AND s.message_id < %s AND NOT s.keys @> %s::integer[]"
)
SQLITE_UPDATE = (
    "UPDATE store_messagesearch SET keys = keys || ' ' || %s"
    " WHERE message_id >= %s AND message_id < %s"
    " AND message_id IN (SELECT id FROM store_message WHERE has_attachments)"
    " AND (' ' || keys || ' ') NOT LIKE %s"
)


def add_key(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    conn = schema_editor.connection
    with conn.cursor() as c:
        c.execute(
            "SELECT coalesce(min(message_id), 0), coalesce(max(message_id), -1)"
            " FROM store_messagesearch"
        )
        low, high = c.fetchone()
    for start in range(low, high + 1, BATCH):
        with transaction.atomic(using=conn.alias), conn.cursor() as c:
            if conn.vendor == "postgresql":
                key = [key_hash(ATTACHMENT_KEY)]
                c.execute(PG_UPDATE, [key, start, start + BATCH, key])
            else:
                c.execute(
                    SQLITE_UPDATE, [ATTACHMENT_KEY, start, start + BATCH, f"% {ATTACHMENT_KEY} %"]
                )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("store", "0009_search_build")]

    operations = [migrations.RunPython(add_key, migrations.RunPython.noop, elidable=True)]
