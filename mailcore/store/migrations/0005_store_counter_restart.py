"""The modseq counter remembers the database server's start time (flag changes and expunges
commit asynchronously on PostgreSQL; see mailcore.store.history.next_modseq). Rows that
exist now were all committed durably: they get the current start time, so only a later
restart makes them jump."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def stamp_started(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("store", "ChangeCounter")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET server_started = pg_postmaster_start_time()")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0004_imap_meta_rendered"),
    ]

    operations = [
        migrations.AddField(
            model_name="changecounter",
            name="server_started",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="changecounter",
            name="lost_after",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(stamp_started, migrations.RunPython.noop),
    ]
