from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "mailcore.directory"
    label = "directory"
    verbose_name = "Domains, accounts and aliases"
