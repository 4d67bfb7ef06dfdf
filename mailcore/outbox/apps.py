from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "mailcore.outbox"
    label = "outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The store tells the outbox when a message is first seen or a report arrives (the
        # delivery app's doorbell pattern: registered at startup, never imported by the store).
        from mailcore.outbox import tracking
        from mailcore.store import hooks

        hooks.on_first_seen(tracking.note_seen)
        hooks.on_arrival(tracking.note_arrivals)
