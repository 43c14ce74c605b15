from django.apps import AppConfig


class ChargingConfig(AppConfig):
    name = "charging"

    def ready(self):
        # Schedule changes share the vehicles' command audit log: give them their names there.
        from charging.services import CHANGE_KINDS
        from vehicles.commands import KIND_LABELS

        KIND_LABELS.update({kind: change.label for kind, change in CHANGE_KINDS.items()})
