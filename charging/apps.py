from django.apps import AppConfig


class ChargingConfig(AppConfig):
    name = "charging"

    def ready(self):
        # Schedule changes are commands of the one command machinery (vehicles/commands.py) and its audit log.
        from charging.bulk import OUTBOX
        from charging.services import SCHEDULE_COMMANDS
        from fleet.outbox import outbox_register
        from vehicles.commands import command_kind_register

        for spec in SCHEDULE_COMMANDS:
            command_kind_register(spec)
        outbox_register(OUTBOX)
