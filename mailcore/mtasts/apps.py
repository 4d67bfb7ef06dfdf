from django.apps import AppConfig


class MtastsConfig(AppConfig):
    name = "mailcore.mtasts"
    label = "mtasts"
    default_auto_field = "django.db.models.BigAutoField"
