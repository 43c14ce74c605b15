"""Celery tasks of the vehicles app: an interface that takes ids and calls services (imported inside each task, so
that services can enqueue these tasks through fleet/outbox.py without an import cycle).

Every task is idempotent (late acknowledgement is global, fleet/celery.py): a re-delivered ``sync_vehicles`` carries
the same lease token and runs the round again; the history's unique key makes repeated writes harmless; a command is
claimed with a conditional UPDATE, so a re-delivered ``command_run`` never sends it twice.
"""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task
def sync_dispatch():
    """Beat, every few seconds: lease the vehicles that have something due and hand them to workers in chunks."""
    from vehicles import sync

    return sync.vehicles_dispatch()


@shared_task
def sync_vehicles(vehicle_ids: list[int], lease_token: str):
    from vehicles import sync

    report = sync.vehicles_sync(vehicle_ids=vehicle_ids, lease_token=lease_token)
    return report.synced


@shared_task
def sync_vehicle_now(vehicle_id: int):
    """The "Sync now" button and webhook events: lease this one vehicle (if nobody holds it), run its round."""
    from vehicles import sync

    token, claimed = sync.vehicles_lease(vehicle_ids=[vehicle_id])
    if not claimed:
        logger.info("vehicle %s is already being synced; its requested paths are due and will be fetched", vehicle_id)
        return 0
    return sync.vehicles_sync(vehicle_ids=claimed, lease_token=token).synced


@shared_task
def history_prune():
    from vehicles import history

    return history.history_prune()


@shared_task
def history_partitions_ensure():
    from vehicles import history

    return history.history_partitions_ensure()


@shared_task
def history_rollup():
    from vehicles import history

    return history.history_rollup()


@shared_task(name="vehicles.command_run", bind=True)
def command_run(self, command_id: int, secrets: dict | None = None):
    """Sends one recorded command, once (vehicles/commands.py: never retried by the machinery)."""
    from vehicles.commands import command_execute

    command = command_execute(command_id=command_id, task_id=self.request.id or "", secrets=secrets)
    return command.status if command else None


@shared_task
def command_settle(command_id: int):
    """Reads a command's signal back after its worker died (vehicles/commands.py)."""
    from vehicles.commands import command_settle as settle

    command = settle(command_id=command_id)
    return command.status if command else None


@shared_task
def commands_settle():
    """Beat: commands stuck past the task time limit are sent again once, or read back (fleet/schedule.py)."""
    from vehicles.commands import commands_settle as settle

    return settle()
