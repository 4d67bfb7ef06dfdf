from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("delivery", "0007_dkim_key_state")]

    operations = [
        migrations.AddField(
            model_name="queueentry",
            name="verdict",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
