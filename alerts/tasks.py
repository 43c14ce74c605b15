"""Celery tasks of alerts: an interface that takes ids and calls services (imported inside each task, so that the
services can enqueue these tasks without an import cycle)."""

from celery import shared_task


@shared_task
def due_check():
    """Beat, every minute: alerts whose delay passed, and timed conditions (stale data, not plugged in)."""
    from alerts.evaluation import due_check as check

    return check()


@shared_task
def delivery_send(delivery_id: int):
    """One alert transition to one channel; failures wait in the row for the sweep, never in the broker."""
    from alerts.delivery import delivery_send as send

    return send(delivery_id=delivery_id)


@shared_task
def deliveries_sweep():
    """Beat, every 15 s: retries that are due, e-mails after quiet hours, deliveries whose task was lost."""
    from alerts.delivery import deliveries_sweep as sweep

    return sweep()


@shared_task
def digests_send():
    """Beat, hourly: the daily digest of each member who chose it, after 07:00 in the fleet's time zone."""
    from alerts.delivery import digests_send as send

    return send()


@shared_task
def reports_send():
    """Beat, hourly: the weekly report to members who opted in, after Monday 07:00 in the fleet's time zone."""
    from alerts.reports import reports_send as send

    return send()
