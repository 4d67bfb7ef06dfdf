from django.apps import AppConfig


class FetchingConfig(AppConfig):
    name = "mailcore.fetching"
    label = "fetching"
    verbose_name = "Fetching from external accounts"

    def ready(self) -> None:
        # The actions queue runs through the task, connected here so that they never import it.
        from mailcore.fetching.actions import connect_dispatcher
        from mailcore.fetching.tasks import fetch_external

        connect_dispatcher(fetch_external.delay)
