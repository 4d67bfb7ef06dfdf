"""Stable UIDLs (issue 11 §3): Uidl rows keyed by the Maildir base name replace Download rows
keyed by (UIDVALIDITY, UID), which changed when a message moved out of INBOX and back. Each
Download row of a message still in INBOX becomes its Uidl row, with the value it was offered
under (%08Xu%08Xv) and marked downloaded; INBOX messages without one get theirs, the same
value, at the next POP3 login."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def downloads_to_uidls(apps, schema_editor):  # type: ignore[no-untyped-def]
    Download = apps.get_model("pop3", "Download")
    Uidl = apps.get_model("pop3", "Uidl")
    Folder = apps.get_model("store", "Folder")
    Message = apps.get_model("store", "Message")
    account_ids = Download.objects.values_list("account_id", flat=True).distinct()
    for account_id in account_ids.iterator():
        inbox = Folder.objects.filter(account_id=account_id, path="").first()
        if inbox is None:
            continue
        uids = set(
            Download.objects.filter(
                account_id=account_id, uidvalidity=inbox.uidvalidity
            ).values_list("uid", flat=True)
        )
        rows = Message.objects.filter(folder=inbox, uid__in=uids).values_list("uid", "maildir_key")
        Uidl.objects.bulk_create(
            [
                Uidl(
                    account_id=account_id,
                    maildir_key=key,
                    uidl=f"{uid:08X}{inbox.uidvalidity:08X}",
                    downloaded=True,
                )
                for uid, key in rows
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("pop3", "0001_pop3_settings_and_downloads"),
        ("store", "0004_imap_meta_rendered"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Uidl",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("maildir_key", models.CharField(max_length=255)),
                ("uidl", models.CharField(max_length=70)),
                ("downloaded", models.BooleanField(default=False)),
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
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "maildir_key"), name="pop3_uidl_unique_key"
                    )
                ],
            },
        ),
        migrations.RunPython(downloads_to_uidls, migrations.RunPython.noop),
        migrations.DeleteModel(name="Download"),
    ]
