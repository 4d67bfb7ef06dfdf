"""Conversation keys on Message (mailcore.store.conversation): two columns, their indexes, and
a backfill of every existing row in arrival order, in batches (rebuild_conversations)."""

from typing import Any

from django.conf import settings
from django.db import migrations, models


def backfill(apps: Any, schema_editor: Any) -> None:
    from mailcore.store.conversation import rebuild_conversations

    rebuild_conversations(
        apps.get_model("store", "Message"), apps.get_model(settings.AUTH_USER_MODEL)
    )


class Migration(migrations.Migration):
    # The backfill commits per batch: a large index is not one long transaction.
    atomic = False

    dependencies = [
        ("store", "0006_web1_quick_view_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="conversation_id",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="message",
            name="subject_key",
            field=models.BigIntegerField(default=0, help_text="hash of the normalised subject"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["account", "conversation_id"], name="message_conversation"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["account", "message_id"], name="message_account_msgid"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["account", "subject_key"], name="message_subject_key"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
