from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _history_partitions_ensure(sender, using, **kwargs):
    """After every migrate, this month's history partitions and the next ones exist (PostgreSQL)."""
    from django.db import connections

    from vehicles.history import history_partitions_ensure

    if connections[using].vendor == "postgresql":
        history_partitions_ensure()


class VehiclesConfig(AppConfig):
    name = "vehicles"

    def ready(self):
        from fleet.outbox import outbox_register
        from vehicles.commands import OUTBOX

        outbox_register(OUTBOX)
        post_migrate.connect(_history_partitions_ensure, sender=self, dispatch_uid="vehicles_history_partitions")
