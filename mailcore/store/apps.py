from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "mailcore.store"
    label = "store"
    verbose_name = "Folders and messages"
