"""The search index (mailcore.search): MessageSearch rows, and per database the structure
that looks their keys up: on PostgreSQL a GIN index over (account_id, keys) with btree_gin
(contrib; CREATE EXTENSION needs a superuser once), on SQLite a contentless FTS5 table fed by
triggers (insert feeds the keys, delete feeds the same keys back). Filled by 0006."""

from collections.abc import Callable

import django.db.models.deletion
import mailcore.search.fields
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


PG_FORWARD = (
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX messagesearch_keys ON store_messagesearch USING gin (account_id, keys)",
)
PG_BACKWARD = ("DROP INDEX IF EXISTS messagesearch_keys",)
SQLITE_FORWARD = (
    "CREATE VIRTUAL TABLE store_search_fts USING fts5("
    "keys, content='', columnsize=0, detail=none, tokenize='ascii')",
    "CREATE TRIGGER store_search_ai AFTER INSERT ON store_messagesearch BEGIN"
    " INSERT INTO store_search_fts(rowid, keys) VALUES (new.message_id, new.keys); END",
    "CREATE TRIGGER store_search_ad AFTER DELETE ON store_messagesearch BEGIN"
    " INSERT INTO store_search_fts(store_search_fts, rowid, keys)"
    " VALUES ('delete', old.message_id, old.keys); END",
    "CREATE TRIGGER store_search_au AFTER UPDATE ON store_messagesearch BEGIN"
    " INSERT INTO store_search_fts(store_search_fts, rowid, keys)"
    " VALUES ('delete', old.message_id, old.keys);"
    " INSERT INTO store_search_fts(rowid, keys) VALUES (new.message_id, new.keys); END",
)
SQLITE_BACKWARD = (
    "DROP TRIGGER IF EXISTS store_search_au",
    "DROP TRIGGER IF EXISTS store_search_ad",
    "DROP TRIGGER IF EXISTS store_search_ai",
    "DROP TABLE IF EXISTS store_search_fts",
)


def _run(statements_by_vendor: dict[str, tuple[str, ...]]) -> Callable[..., None]:
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0007_web2_conversation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MessageSearch",
            fields=[
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="store.message",
                    ),
                ),
                ("filenames", models.TextField(blank=True, default="")),
                ("keys", mailcore.search.fields.SearchKeysField()),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["account", "message"], name="messagesearch_recent")
                ],
            },
        ),
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
