# DKIM key rotation: a key is pending (published, not yet signing), active or retired.

from django.db import migrations, models


def states_from_flags(apps, schema_editor):  # type: ignore[no-untyped-def]
    DkimKey = apps.get_model("delivery", "DkimKey")
    DkimKey.objects.filter(is_active=False).update(state="retired")
    DkimKey.objects.filter(is_active=True).update(state="active")
    for key in DkimKey.objects.filter(state="active"):
        key.activated_at = key.created_at
        key.save(update_fields=["activated_at"])


def flags_from_states(apps, schema_editor):  # type: ignore[no-untyped-def]
    DkimKey = apps.get_model("delivery", "DkimKey")
    DkimKey.objects.update(is_active=False)
    DkimKey.objects.filter(state="active").update(is_active=True)


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0006_delivery_worker"),
    ]

    operations = [
        migrations.AddField(
            model_name="dkimkey",
            name="state",
            field=models.CharField(
                choices=[("pending", "Pending"), ("active", "Active"), ("retired", "Retired")],
                default="active",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="dkimkey",
            name="activated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(states_from_flags, flags_from_states),
        migrations.RemoveIndex(model_name="dkimkey", name="dkim_key_domain"),
        migrations.RemoveField(model_name="dkimkey", name="is_active"),
        migrations.AddIndex(
            model_name="dkimkey",
            index=models.Index(fields=["domain", "state"], name="dkim_key_domain_state"),
        ),
    ]
