"""Builds the search index for mail stored before it existed, from the rows (subject,
people, the stored body text, folded again): BUILD_BATCH messages per transaction, so
delivery goes on between them. Attachment file names and the inline-aware HTML text need
the files: `manage.py search rebuild` re-reads them."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from mailcore.mime import fold
from mailcore.search.text import date_keys, document_keys, folded_fields

BUILD_BATCH = 1000


def build(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Message = apps.get_model("store", "Message")
    MessageText = apps.get_model("store", "MessageText")
    MessageSearch = apps.get_model("store", "MessageSearch")
    vendor = schema_editor.connection.vendor
    last = 0
    while True:
        rows = list(
            Message.objects.filter(pk__gt=last, search__isnull=True)
            .order_by("pk")
            .values(
                "pk",
                "account_id",
                "subject",
                "from_name",
                "from_addr",
                "to_addrs",
                "cc_addrs",
                "internal_date",
            )[:BUILD_BATCH]
        )
        if not rows:
            return
        last = rows[-1]["pk"]
        texts = dict(
            MessageText.objects.filter(message_id__in=[r["pk"] for r in rows]).values_list(
                "message_id", "text"
            )
        )
        entries, refolded = [], []
        for r in rows:
            body = texts.get(r["pk"], "")
            if fold(body) != body:
                body = fold(body)
                refolded.append(MessageText(message_id=r["pk"], text=body))
            recipients = [*(r["to_addrs"] or []), *(r["cc_addrs"] or [])]
            fields = folded_fields(
                r["subject"], r["from_name"], r["from_addr"], recipients, body, ""
            )
            keys = document_keys(fields, cjk_trigrams=True)
            keys.update(date_keys(r["internal_date"]))
            stored = (
                sorted(keys)
                if vendor == "postgresql"
                else [f"acct{r['account_id']}", *sorted(keys)]
            )
            entries.append(
                MessageSearch(message_id=r["pk"], account_id=r["account_id"], keys=stored)
            )
        with schema_editor.connection.cursor():
            from django.db import transaction

            with transaction.atomic(using=schema_editor.connection.alias):
                MessageText.objects.bulk_update(refolded, ["text"], batch_size=200)
                MessageSearch.objects.bulk_create(entries, batch_size=200, ignore_conflicts=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("store", "0008_search_index")]

    operations = [migrations.RunPython(build, migrations.RunPython.noop, elidable=True)]
