"""Celery tasks of webhook delivery: an interface over simulator.webhooks, which holds the logic."""

from celery import shared_task

from simulator import webhooks


@shared_task(ignore_result=True)
def webhook_delivery_attempt(delivery_id: int) -> None:
    webhooks.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhook_deliveries_retry() -> None:
    """Periodic: attempt every delivery whose retry time has come (see fleet/schedule.py)."""
    for delivery_id in webhooks.due_delivery_ids():
        webhooks.delivery_attempt(delivery_id=delivery_id)
