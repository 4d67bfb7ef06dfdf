from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "mailcore.delivery"
    label = "delivery"
    verbose_name = "Mail queue and delivery"

    def ready(self) -> None:
        # The one place the doorbell learns what to ring: the deliver_entries task sits on
        # top of the delivery layers (tasks → actions → entries → doorbell), so the bell
        # takes it by injection instead of importing it.
        from mailcore.delivery import loop
        from mailcore.delivery.doorbell import doorbell

        # The delivery loops' Redis list, or (without one) the deliver_entries task, looked up
        # at each ring as before: connecting must not finalize the Celery app.
        doorbell.connect(loop.publish)
