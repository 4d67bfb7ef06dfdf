from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("store", "0010_search_attachment_key")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="auth_spf",
            field=models.CharField(blank=True, default="", max_length=12),
        ),
        migrations.AddField(
            model_name="message",
            name="auth_dkim",
            field=models.CharField(blank=True, default="", max_length=12),
        ),
        migrations.AddField(
            model_name="message",
            name="auth_dmarc",
            field=models.CharField(blank=True, default="", max_length=12),
        ),
        migrations.AddField(
            model_name="message",
            name="spam_score",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="spam_unscanned",
            field=models.BooleanField(default=False, help_text="the spam filter did not answer"),
        ),
    ]
