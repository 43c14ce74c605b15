"""Periodic work of the simulated platform."""

from celery import shared_task

from simulator import world
from simulator.tasks_webhooks import webhook_deliveries_retry, webhook_delivery_attempt  # noqa: F401


@shared_task(ignore_result=True)
def vehicles_advance() -> int:
    """Periodic: move every simulated vehicle to the simulated now (see fleet/schedule.py)."""
    return world.vehicles_advance()
