"""Celery tasks: they take ids and call a service, imported inside the task (fleet/outbox.py)."""

from celery import shared_task


@shared_task
def ping(value: str) -> str:
    """Echoes its argument: lets /healthz and the tests prove a worker consumes the queue."""
    return value


@shared_task
def invitations_prune() -> int:
    from fleet.services import invitations_prune as prune

    return prune()


@shared_task
def outbox_sweep() -> int:
    """Beat: work written to the database while the broker was down is handed to workers (fleet/outbox.py)."""
    from fleet.outbox import outbox_sweep as sweep

    return sweep()
