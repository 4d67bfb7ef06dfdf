# Partial indexes for the quick views (issue 12, item 11): unread, flagged, with attachments.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0005_store_counter_restart"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("seen", False)),
                fields=["account", "id"],
                name="message_view_unread",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("flagged", True)),
                fields=["account", "id"],
                name="message_view_flagged",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("has_attachments", True)),
                fields=["account", "id"],
                name="message_view_attachments",
            ),
        ),
    ]
