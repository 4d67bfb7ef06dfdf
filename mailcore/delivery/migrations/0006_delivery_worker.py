# Worker liveness (mailcore.delivery.workers): one row per running delivery worker process.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0005_queue_dsn_parameters"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeliveryWorker",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(help_text="host:pid:random", max_length=200, unique=True)),
                ("host", models.CharField(max_length=200)),
                (
                    "host_key",
                    models.CharField(
                        blank=True, default="", help_text="boot id + pid namespace", max_length=100
                    ),
                ),
                ("pid", models.IntegerField()),
                (
                    "pid_started",
                    models.BigIntegerField(default=0, help_text="process start, ticks after boot"),
                ),
                ("started_at", models.DateTimeField()),
                ("heartbeat_at", models.DateTimeField()),
            ],
        ),
    ]
