from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "mailcore.delivery"
    label = "delivery"
    verbose_name = "Mail queue and delivery"
