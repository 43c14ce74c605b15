"""Celery tasks of the sync engine: an interface over vehicles/sync.py, taking ids and calling services.

Every task is idempotent (late acknowledgement is global, fleet/celery.py): a re-delivered ``sync_vehicles`` carries
the same lease token and runs the round again; the history's unique key makes repeated writes harmless.
"""

import logging

from celery import shared_task
from django.conf import settings

from vehicles import sync
from vehicles.commands import command_run  # noqa: F401 — registers the remote-command task with workers

logger = logging.getLogger(__name__)


@shared_task
def sync_dispatch():
    """Beat, every few seconds: lease the vehicles that have something due and hand them to workers in chunks."""
    token, vehicle_ids = sync.vehicles_lease_due()
    size = max(1, settings.SYNC_TASK_VEHICLES)
    for start in range(0, len(vehicle_ids), size):
        sync_vehicles.delay(vehicle_ids[start : start + size], token)
    return len(vehicle_ids)


@shared_task
def sync_vehicles(vehicle_ids: list[int], lease_token: str):
    report = sync.vehicles_sync(vehicle_ids=vehicle_ids, lease_token=lease_token)
    return report.synced


@shared_task
def sync_vehicle_now(vehicle_id: int):
    """The "Sync now" button and webhook events: lease this one vehicle (if nobody holds it), run its round."""
    token, claimed = sync.vehicles_lease(vehicle_ids=[vehicle_id])
    if not claimed:
        logger.info("vehicle %s is already being synced; its requested paths are due and will be fetched", vehicle_id)
        return 0
    return sync.vehicles_sync(vehicle_ids=claimed, lease_token=token).synced


@shared_task
def history_prune():
    return sync.history_prune()
