# The list's density and reading mode (issue 12, item 14).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_rate_counter"),
    ]

    operations = [
        migrations.AddField(
            model_name="preferences",
            name="list_density",
            field=models.CharField(
                choices=[
                    ("compact", "Compact: one line per message (Naver's default)"),
                    ("comfortable", "Comfortable: sender, subject and preview"),
                ],
                default="compact",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="preferences",
            name="reading_mode",
            field=models.CharField(
                choices=[
                    ("split", "List and message side by side"),
                    ("list", "List only: a message opens full width"),
                ],
                default="split",
                max_length=8,
            ),
        ),
    ]
