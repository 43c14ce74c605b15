"""Celery tasks of alerts: an interface that takes ids and calls services."""

from celery import shared_task


@shared_task
def due_check():
    """Beat, every minute: alerts whose delay passed, and timed conditions (stale data, not plugged in)."""
    from alerts.evaluation import due_check as check

    return check()
