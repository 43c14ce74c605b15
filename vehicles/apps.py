from django.apps import AppConfig


class VehiclesConfig(AppConfig):
    name = "vehicles"

    def ready(self):
        from fleet.outbox import outbox_register
        from vehicles.commands import OUTBOX

        outbox_register(OUTBOX)
